"""One run per target at a time: a lock file per target with the holder's run id and pid.
A lock whose process is gone is stale and is taken over."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import psutil

from ops.errors import BadInput
from ops.runbook.journal import now
from ops.state import write_atomic


class TargetLock:
    def __init__(self, folder: Path, target: str, run_id: str) -> None:
        self.path = folder / f"{target.replace('/', '_')}.lock"
        self.target = target
        self.run_id = run_id

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = json.dumps(
            {"run_id": self.run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": now()}
        )
        while True:
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                # Taken over only when its process is gone, or it is this very process
                # (a run resuming in-process); a live process of the same run (a resume or
                # an abort while the run still runs) is refused too.
                ours = holder is not None and (holder.get("run_id"), holder.get("pid")) == (
                    self.run_id,
                    os.getpid(),
                )
                if holder and holder.get("waiting") and holder.get("run_id") == self.run_id:
                    ours = True  # our run, stopped at its approval step: resumed or aborted now
                if holder and (self._alive(holder) or holder.get("waiting")) and not ours:
                    raise BadInput(_held_message(self.target, self.run_id, holder)) from None
                self.path.unlink(missing_ok=True)  # stale, or our own run resuming
                continue
            with os.fdopen(handle, "w") as out:
                out.write(entry)
                out.flush()
                os.fsync(out.fileno())
            return

    def hold_while_waiting(self) -> None:
        """The run stopped to wait for an approval: the lock stays, held by the run (not by
        this process) until the run resumes or is aborted."""
        holder = self._holder()
        if holder and holder.get("run_id") == self.run_id:
            write_atomic(self.path, json.dumps({**holder, "waiting": True, "pid": None}))

    def release(self) -> None:
        holder = self._holder()
        if holder and holder.get("run_id") == self.run_id:
            self.path.unlink(missing_ok=True)

    def _holder(self) -> dict[str, object] | None:
        try:
            found = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return found if isinstance(found, dict) else None

    @staticmethod
    def _alive(holder: dict[str, object]) -> bool:
        if holder.get("host") != socket.gethostname():
            return True  # another machine's run: never assume it is dead
        pid = holder.get("pid")
        if not isinstance(pid, int):
            return False
        try:
            return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False


def _held_message(target: str, run_id: str, holder: dict[str, object]) -> str:
    run, pid, host, since = (holder.get(k) for k in ("run_id", "pid", "host", "since"))
    if holder.get("waiting"):
        return (
            f"{target} is held by run {run}, which waits for an approval (since {since}); "
            f"approve and resume it, or `ops runbook abort {run}`"
        )
    if run == run_id:
        return (
            f"run {run} is still running (pid {pid} on {host}, since {since}); "
            "stop that process first (Ctrl-C rolls it back)"
        )
    return (
        f"{target} is locked by run {run} (pid {pid}, since {since}); "
        f"wait for it, or `ops runbook abort {run}`"
    )
