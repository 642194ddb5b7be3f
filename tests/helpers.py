"""Helpers shared by the tests: run the real CLI, in-process or as a subprocess."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
INVENTORY = REPO / "platform.yaml"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_main(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run `ops` in this process through its real entry point (errors, exit codes)."""
    from ops.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.object(sys, "argv", ["ops", *args]),
        mock.patch.dict(os.environ, env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Result:
    """Run `ops` as a separate process, exactly as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "ops", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
