"""The ingest service's acknowledgement log: one JSON line per record the brokers
acknowledged, written before the client is answered 2xx: its id and type, the producer and
its sequence number, and where the record is (cluster, topic, partition, offset).

It is the producers' own record of what they promised. After the primary cluster is lost,
an unplanned failover compares it with what reached the DR cluster: the acknowledged
records that never did (stranded) are listed by id, and where each is on the primary, so
they can be re-published once it comes back. Appended with one write per line (whole lines
survive the process being killed); JSON lines with a writer lock."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ACK_LOG_ENV = "OPS_INGEST_ACK_LOG"


@dataclass(frozen=True)
class Acknowledged:
    id: str
    type: str
    producer: str
    sequence: int
    cluster: str
    topic: str
    partition: int
    offset: int
    at: str


class AckLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Unbuffered: each line goes to the file in one write, before the client's answer.
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open for the service's life

    @classmethod
    def from_environment(cls) -> AckLog | None:
        path = os.environ.get(ACK_LOG_ENV)
        return cls(Path(path)) if path else None

    def append(self, ack: Acknowledged) -> None:
        line = (json.dumps(asdict(ack), sort_keys=True) + "\n").encode()
        with self._lock:
            self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def now() -> str:
    return datetime.now(UTC).isoformat()


def read_acks(path: Path) -> Iterator[Acknowledged]:
    """Every whole line of the log (a line cut by a crash is skipped)."""
    if not path.exists():
        return
    with path.open("rb") as lines:
        for raw in lines:
            try:
                yield Acknowledged(**json.loads(raw))
            except (ValueError, TypeError):
                continue
