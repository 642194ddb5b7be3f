"""Coverage-guided fuzzing of the YAML loading path (atheris, libFuzzer's engine for Python).

Run: make fuzz                  (atheris in its own environment, .tools/atheris; 60 s)
     .venv/bin/python bench/fuzz_yaml.py --replay bench/fuzz_corpus [FILE_OR_FOLDER ...]
The target takes any bytes as a file's content and reads it the way the toolkit does:
`ops.util.safe_yaml.load_text`, the inventory loader (`ops.inventory.load_inventory`, on a
temporary file), the campaign loader and `adot.validate.validate_text` (both distributions).
A refusal is fine (`YamlRefused`, `BadInput`, a list of problems), as long as each of its
lines is one line; anything else raised, a warning a user would see on stderr included, is a
crash: libFuzzer writes the input to .tools/atheris/crashes/. `--replay` runs the same
target over files without atheris (the seeds under bench/fuzz_corpus/, or a crash to debug)
and prints one line per input that crashes. Not part of `make test`; no network.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adot.components import DISTRIBUTIONS  # noqa: E402
from adot.validate import validate_text  # noqa: E402
from ops.campaign.spec import load_campaign  # noqa: E402
from ops.errors import BadInput  # noqa: E402
from ops.inventory.loader import load_inventory  # noqa: E402
from ops.util.safe_yaml import YamlRefused, load_text  # noqa: E402

# Inventory problems are capped at 20 lines and one `... and N more`; the collector's too.
MAX_LINES = 21
# Warnings Python hides from a user by default; any other would be a stderr line.
_HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class Target:
    """Any bytes, as a file's content, through every reader; raises on anything but a refusal."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="fuzz-yaml-"))
        self.inventory = self.folder / "platform.yaml"
        self.campaign = self.folder / "campaign.yaml"

    def check(self, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return  # the readers refuse undecodable files before YAML, naming the file
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._read(text)  # any exception but a refusal is a crash
        shown = [w for w in caught if not issubclass(w.category, _HIDDEN)]
        if shown:
            category, message = shown[0].category.__name__, " ".join(str(shown[0].message).split())
            raise AssertionError(f"a warning reaches stderr: {category}: {message}")

    def _read(self, text: str) -> None:
        try:
            load_text(text)
        except YamlRefused as refused:
            _one_line(refused.reason)
        self.inventory.write_text(text, encoding="utf-8")
        self.campaign.write_text(text, encoding="utf-8")
        for file in (self.inventory, self.campaign):
            try:
                if file is self.inventory:
                    load_inventory(file)
                else:
                    load_campaign(str(file))
            except BadInput as refused:
                lines = str(refused).splitlines()
                assert 1 <= len(lines) <= MAX_LINES, f"{len(lines)} lines"
        for distribution in DISTRIBUTIONS.values():
            problems = validate_text(text, distribution)
            assert len(problems) <= MAX_LINES, f"{len(problems)} problems"
            for problem in problems:
                _one_line(problem.render("collector.yaml"))


def _one_line(text: str) -> None:
    assert len(text.splitlines()) <= 1, f"not one line: {text[:200]!r}"


def _inputs(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found += sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return found


def replay(paths: list[str]) -> int:
    """The target over files, without atheris: one line per input that crashes."""
    target = Target()
    crashed = 0
    for path in _inputs(paths):
        try:
            target.check(path.read_bytes())
        except Exception as error:
            crashed += 1
            where = traceback.extract_tb(error.__traceback__)[-1]
            print(f"{path}: {type(error).__name__}: {error} ({where.filename}:{where.lineno})"[:400])
    print(f"{len(_inputs(paths))} inputs, {crashed} crashed")
    return 1 if crashed else 0


def fuzz(argv: list[str]) -> None:
    """libFuzzer's loop over the target, with coverage of everything it imported."""
    atheris: Any = importlib.import_module("atheris")  # .tools/atheris, never .venv
    atheris.instrument_all()  # every module loaded so far: ruamel, pydantic's Python side, ours
    atheris.Setup(argv, Target().check)
    atheris.Fuzz()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--replay"]:
        sys.exit(replay(sys.argv[2:]))
    fuzz(sys.argv)
