"""Background processes with pid files: start detached, check, and stop with no leftovers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from ops.errors import OpsError

# What a child process may take from the caller's environment: where programs are, the
# locale and time zone, the temporary folder, where Python finds the toolkit. Nothing else
# (credentials, tokens, passwords, AWS profiles).
INHERITED = ("PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "JAVA_HOME")
INHERITED_PREFIXES = ("LC_",)


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment built for a child process: the caller's PATH, locale, time zone and
    temporary folder, and `extra`; never the rest of the caller's (secrets live there)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in INHERITED or key.startswith(INHERITED_PREFIXES)
    }
    return {**env, **(extra or {})}


def start_detached(
    command: Sequence[str], pid_file: Path, log_file: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start a process in its own session (so it outlives this CLI) and record its pid.
    It gets `env` if given, else `child_environment()`: never the caller's whole one."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else child_environment(),
            close_fds=True,
        )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def running_pid(pid_file: Path) -> int | None:
    """The recorded pid if that process is still alive (and not a zombie), else None."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        # A pid file older than the process means the pid was reused by something else.
        if process.create_time() > pid_file.stat().st_mtime + 1:
            return None
    except (psutil.NoSuchProcess, FileNotFoundError):
        return None
    return pid


def stop(pid_file: Path, timeout: float = 10.0) -> bool:
    """Stop the recorded process and its whole session; True if something was stopped."""
    pid = running_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    family = _session_members(pid)
    _signal_all(family, signal.SIGTERM)
    alive = _wait_gone(family, timeout)
    if alive:
        _signal_all(alive, signal.SIGKILL)
        _wait_gone(alive, timeout)
    return True


def _is_gone(process: psutil.Process) -> bool:
    """Exited; a zombie counts as gone (it runs nothing, and its reaper may be slow)."""
    try:
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _wait_gone(family: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; return those still running at the timeout."""
    deadline = time.monotonic() + timeout
    alive = [p for p in family if not _is_gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if not _is_gone(p)]
    return alive


def _session_members(pid: int) -> list[psutil.Process]:
    """The process and everything in its session (children it started, grandchildren...)."""
    try:
        leader = psutil.Process(pid)
        session = os.getsid(pid)
    except (psutil.NoSuchProcess, ProcessLookupError):
        return []
    members = [leader, *leader.children(recursive=True)]
    for process in psutil.process_iter():
        try:
            if process not in members and os.getsid(process.pid) == session:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return members


def _signal_all(processes: list[psutil.Process], sig: signal.Signals) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(sig)


def wait_until(check: Callable[[], bool], timeout: float, what: str, log_file: Path | None = None) -> None:
    """Poll `check` with a growing interval until it is true, or fail naming the log."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)
    hint = f"; see {log_file}" if log_file else ""
    raise OpsError(f"{what} did not become ready within {timeout:.0f} s{hint}")
