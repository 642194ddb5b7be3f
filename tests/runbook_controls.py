"""Runbook controls for the failure tests, at a chosen point of a run:
- `KillAt` kills the `ops` process, as a dead laptop would (SIGKILL), or stops it as an
  operator's Ctrl-C or a stopping container would (SIGTERM, with `sigterm-` before the
  point); a subprocess gets it with `kill_at_env(point)`;
- `FailAt` raises there the error a step's own would be: an `OpsError` (a check that does
  not hold), an AWS error (botocore's ClientError, as a throttled call gives) or a
  database error (psycopg's OperationalError, as a dropped connection gives); a subprocess
  gets it with `fail_at_env(point, error)`.

Points: `before:<step>`, `after:<step>` (around the step, as the engine journals it) and
`during:<step>` (where the step calls `ctx.checkpoint`: the restore promoted but not yet
journaled, the middle of a wait, the cutover switched). An exception from a control stops
the run as the step's own would (ops/runbook/controls.py)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from ops.errors import OpsError
from ops.runbook.controls import CONTROLS_ENV, Control
from ops.runbook.model import RunContext, Step

KILL_AT_ENV = "OPS_TEST_KILL_AT"
FAIL_AT_ENV = "OPS_TEST_FAIL_AT"


class KillAt(Control):
    def __init__(self, point: str) -> None:
        self.point = point

    def _reached(self, where: str) -> None:
        if self.point == where:
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.point == f"sigterm-{where}":
            os.kill(os.getpid(), signal.SIGTERM)

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"before:{step.id}")

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"after:{step.id}")

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        self._reached(f"during:{step.id}")


def kill_at() -> KillAt:
    """The control OPS_RUNBOOK_CONTROLS names: the point comes from OPS_TEST_KILL_AT."""
    return KillAt(os.environ.get(KILL_AT_ENV, ""))


def kill_at_env(point: str) -> dict[str, str]:
    """The variables that make an `ops runbook` process die at `point`."""
    return {CONTROLS_ENV: f"{__name__}:kill_at", KILL_AT_ENV: point}


def _ops_error(where: str) -> Exception:
    return OpsError(f"injected failure at {where}")


def _aws_error(where: str) -> Exception:
    from botocore.exceptions import ClientError

    throttled = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
    error: Exception = ClientError(throttled, "DescribeDBInstances")
    return error


def _database_error(where: str) -> Exception:
    import psycopg

    return psycopg.OperationalError(
        'connection to server at "127.0.0.1" failed: server closed the connection unexpectedly\n'
        "\tThis probably means the server terminated abnormally"
    )


ERRORS: dict[str, Callable[[str], Exception]] = {
    "ops": _ops_error,
    "aws": _aws_error,
    "database": _database_error,
}


class FailAt(Control):
    def __init__(self, point: str, error: str = "ops") -> None:
        self.point = point
        self.error = ERRORS[error]

    def _reached(self, where: str) -> None:
        if self.point == where:
            raise self.error(where)

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"before:{step.id}")

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"after:{step.id}")

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        self._reached(f"during:{step.id}")


def fail_at() -> FailAt:
    """The control OPS_RUNBOOK_CONTROLS names: `OPS_TEST_FAIL_AT=[<error>@]<point>`."""
    error, _, point = os.environ.get(FAIL_AT_ENV, "").rpartition("@")
    return FailAt(point, error or "ops")


def fail_at_env(point: str, error: str = "ops") -> dict[str, str]:
    """The variables that make an `ops runbook` or `ops drill` process fail at `point`
    with `error` (ops, aws or database)."""
    return {CONTROLS_ENV: f"{__name__}:fail_at", FAIL_AT_ENV: f"{error}@{point}"}


KILL_PROCESS_ENV = "OPS_TEST_KILL_PROCESS"


class KillProcessAt(Control):
    """SIGKILL another process (a broker, a replicator) at `point`, once: a second failure
    at a chosen moment of a run. The process is named by its pid file."""

    def __init__(self, pid_file: str, point: str) -> None:
        self.pid_file = pid_file
        self.point = point
        self.done = False

    def _reached(self, where: str) -> None:
        if not self.done and self.point == where:
            os.kill(int(Path(self.pid_file).read_text().split()[0]), signal.SIGKILL)
            self.done = True

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"before:{step.id}")

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"after:{step.id}")


def kill_process_at() -> KillProcessAt:
    """The control OPS_RUNBOOK_CONTROLS names: `OPS_TEST_KILL_PROCESS=<pid file>@<point>`."""
    pid_file, _, point = os.environ.get(KILL_PROCESS_ENV, "").rpartition("@")
    return KillProcessAt(pid_file, point)


def kill_process_env(pid_file: str, point: str) -> dict[str, str]:
    """The variables that make an `ops runbook` process SIGKILL the process of `pid_file` at `point`."""
    return {CONTROLS_ENV: f"{__name__}:kill_process_at", KILL_PROCESS_ENV: f"{pid_file}@{point}"}
