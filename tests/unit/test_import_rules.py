"""The layering of docs/architecture.md, held by import-linter (contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

PACKAGES = ("ops", "runbooks", "alarms", "dashboards", "adot", "loadtest")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the packages found under `root` (first on the path)."""
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_its_layers() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_engine_importing_the_local_platform_breaks_the_rules(tmp_path: Path) -> None:
    """The check can fail: a copy of the tree with one forbidden import added is refused."""
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    engine = tmp_path / "ops" / "campaign" / "engine.py"
    engine.write_text(engine.read_text() + "\nimport ops.local.platform  # a forbidden import\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "ops.campaign is not allowed to import ops.local" in result.stdout
    assert "ops.campaign.engine -> ops.local.platform" in result.stdout
