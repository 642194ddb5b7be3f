"""The local platform's part of the state directory: platform.json, PostgreSQL's data and
the databases runbooks restored."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops.state import StateDir, write_atomic


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


class LocalState(StateDir):
    """The state directory as the local platform sees it."""

    @classmethod
    def of(cls, state: StateDir) -> LocalState:
        return state if isinstance(state, LocalState) else cls(state.root)

    @property
    def record_file(self) -> Path:
        return self.root / "platform.json"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def restores_dir(self) -> Path:
        """Databases restored by runbooks, one folder per target identifier."""
        return self.root / "restores"

    def ensure(self) -> None:
        super().ensure()
        self.postgres_dir.mkdir(parents=True, exist_ok=True)

    def read_record(self) -> PlatformRecord | None:
        try:
            return PlatformRecord(**json.loads(self.record_file.read_text()))
        except FileNotFoundError:
            return None

    def write_record(self, record: PlatformRecord) -> None:
        write_atomic(self.record_file, json.dumps(asdict(record), indent=2) + "\n")
