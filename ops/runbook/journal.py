"""The journal of a run: append-only JSON lines, fsynced, so a run killed at any point can
be resumed from what it says. Secrets are never written to it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.errors import BadInput

log = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(UTC).isoformat()


class Journal:
    def __init__(self, folder: Path, mirror: Callable[[Path], None] | None = None) -> None:
        self.folder = folder
        self.path = folder / "journal.jsonl"
        self.mirror = mirror  # a copy elsewhere (S3), refreshed after every entry

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {"at": now(), "event": event, **fields}
        new = not self.path.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())
        if new:  # the file's directory entry must survive a crash too
            handle = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
        if self.mirror is not None:
            try:
                self.mirror(self.path)
            except Exception as error:  # the local journal is the truth; a copy may lag
                log.warning("could not copy the journal: %s", error)
        return entry

    def events(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut by a crash: everything before it stands
        return found


RUN_ENDS = ("run-completed", "run-failed", "run-interrupted", "run-aborted", "run-rollback-failed")


@dataclass
class RunRecord:
    """A run as its journal tells it."""

    run_id: str
    runbook: str = ""
    environment: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    execute: bool = False
    started_at: str = ""
    ended_at: str = ""
    # running, completed, failed, interrupted, aborted, or rollback-failed (a rollback
    # could not be done: `left` names what is still to undo; abort or resume tries again)
    status: str = "unknown"
    completed: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> outputs
    # Steps that started and noted what they change, but did not complete: step -> notes.
    noted: dict[str, dict[str, Any]] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)
    timings: dict[str, tuple[str, str]] = field(default_factory=dict)  # step -> (start, end)
    rolled_back: list[str] = field(default_factory=list)
    approver: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    # What its report needs, from the journal alone: the objectives it answers to, each
    # step's kind and title as it started, and the step that failed (if one did).
    objectives: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    failed_step: str = ""

    @classmethod
    def from_journal(cls, run_id: str, journal: Journal) -> RunRecord:
        events = journal.events()
        if not events:
            raise BadInput(f"run {run_id!r}: no journal at {journal.path}; `ops runbook status` lists runs")
        record = cls(run_id)
        started: dict[str, str] = {}
        for event in events:
            kind = event["event"]
            if kind == "run-started":
                record.runbook = event["runbook"]
                record.environment = event["environment"]
                record.params = event["params"]
                record.execute = event["execute"]
                record.started_at = record.started_at or event["at"]
                record.status = "running"
                record.objectives = event.get("objectives") or record.objectives
            elif kind == "step-started":
                started[event["step"]] = event["at"]
                record.steps[event["step"]] = {"kind": event.get("kind", ""), "title": event.get("title", "")}
                if event["step"] in record.rolled_back:  # started again after a rollback
                    record.rolled_back.remove(event["step"])
            elif kind == "step-noted":
                record.noted.setdefault(event["step"], {}).update(event.get("fields", {}))
            elif kind == "step-completed":
                record.completed[event["step"]] = event.get("outputs", {})
                record.timings[event["step"]] = (started.get(event["step"], event["at"]), event["at"])
            elif kind == "step-failed":
                record.failed_step = event["step"]
                record.timings[event["step"]] = (started.get(event["step"], event["at"]), event["at"])
            elif kind == "step-rolled-back":
                record.rolled_back.append(event["step"])
                record.completed.pop(event["step"], None)
                record.noted.pop(event["step"], None)
            elif kind == "approved":
                record.approver = event["approver"]
            elif kind in RUN_ENDS:
                record.status = kind.removeprefix("run-")
                record.ended_at = event["at"]
                record.outputs = event.get("outputs", record.outputs)
                record.error = event.get("error", "")
                record.left = event.get("left", [])
        return record
