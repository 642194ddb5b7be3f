"""The toolkit's state directory (runs, locks, reports, logs) and atomic writes.

Every engine keeps its files here; the local platform adds its own (`ops/local/state.py`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

STATE_ENV = "OPS_STATE_DIR"


def default_state_dir() -> Path:
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV]).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "platform-ops"


class StateDir:
    """Paths under the state directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_state_dir()).resolve()

    @property
    def run_dir(self) -> Path:
        """Pid files of the processes the toolkit started."""
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def problem(self) -> str | None:
        """Why the toolkit cannot keep its state here (None: it can), checked before any
        command writes: the folder, or the nearest of its parents that exists, must be a
        folder it may write in."""
        existing = self.root
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            return "is a file" if existing == self.root else f"cannot be made: {existing} is a file"
        if not os.access(existing, os.W_OK | os.X_OK):
            return "cannot be written to" if existing == self.root else f"cannot be made in {existing}"
        return None

    def ensure(self) -> None:
        for folder in (self.root, self.run_dir, self.log_dir, self.reports_dir):
            folder.mkdir(parents=True, exist_ok=True)


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
