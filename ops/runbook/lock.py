"""One run per target at a time on one machine: a lock file per target with the holder's
run id, pid and host, read and written under an advisory lock (flock) beside it. A lock
whose process is gone is stale and is taken over."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
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
        entry = {"run_id": self.run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": now()}
        with self._guard():  # read, judge and replace the holder as one step
            holder = self._holder()
            if holder is not None:
                # Taken over only when its process is gone, or it is this very process
                # (a run resuming in-process), or the run itself stopped at its approval
                # step; a live process of the same run (a resume or an abort while the
                # run still runs) is refused too.
                ours = (holder.get("run_id"), holder.get("pid")) == (self.run_id, os.getpid())
                waiting_for_us = bool(holder.get("waiting")) and holder.get("run_id") == self.run_id
                if (self._alive(holder) or holder.get("waiting")) and not (ours or waiting_for_us):
                    raise BadInput(_held_message(self.target, self.run_id, holder))
            write_atomic(self.path, json.dumps(entry))

    def hold_while_waiting(self) -> None:
        """The run stopped to wait for an approval: the lock stays, held by the run (not by
        this process) until the run resumes or is aborted."""
        with self._guard():
            holder = self._holder()
            if holder and holder.get("run_id") == self.run_id:
                write_atomic(self.path, json.dumps({**holder, "waiting": True, "pid": None}))

    def release(self) -> None:
        with self._guard():
            holder = self._holder()
            if holder and holder.get("run_id") == self.run_id:
                self.path.unlink(missing_ok=True)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """One process at a time reads or changes the lock file (an advisory lock on a file
        beside it, released by the system if the process dies)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".guard"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

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
