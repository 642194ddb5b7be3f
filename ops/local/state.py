"""The local platform's state directory: pid files, logs, data and platform.json."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_ENV = "OPS_STATE_DIR"


def default_state_dir() -> Path:
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV]).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "platform-ops"


@dataclass
class PlatformRecord:
    """What `ops local up` chose and started; read by every later command."""

    platform: str
    environment: str
    region: str
    emulator_port: int
    postgres_port: int
    ingest_port: int
    database: str
    # Set only when a cutover moved the ingest path to another database.
    warehouse_endpoint: dict[str, Any] = field(default_factory=dict)
    seeded: dict[str, Any] = field(default_factory=dict)

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"


class StateDir:
    """Paths under the state directory, and atomic reads and writes of platform.json."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_state_dir()).resolve()

    @property
    def record_file(self) -> Path:
        return self.root / "platform.json"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def restores_dir(self) -> Path:
        """Databases restored by runbooks, one folder per target identifier."""
        return self.root / "restores"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def ensure(self) -> None:
        for folder in (self.root, self.run_dir, self.log_dir, self.postgres_dir, self.reports_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def read_record(self) -> PlatformRecord | None:
        try:
            return PlatformRecord(**json.loads(self.record_file.read_text()))
        except FileNotFoundError:
            return None

    def write_record(self, record: PlatformRecord) -> None:
        write_atomic(self.record_file, json.dumps(asdict(record), indent=2) + "\n")


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
