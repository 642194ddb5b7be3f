"""A runbook control for the drill failure tests: it fails a run at a chosen step with the
error a real dependency raises there: an AWS error (botocore's ClientError, as a throttled
or refused call gives) or a database error (psycopg's OperationalError, as a dropped
connection gives). The error is raised as the step's own would be (see
ops/runbook/controls.py: an exception from a hook stops the run as the step's own).

`OPS_TEST_FAIL_AT=<aws|database>:<step>`; a subprocess gets it with `fail_at_env(kind, step)`."""

from __future__ import annotations

import os

import psycopg
from botocore.exceptions import ClientError

from ops.runbook.controls import CONTROLS_ENV, Control
from ops.runbook.model import RunContext, Step

FAIL_AT_ENV = "OPS_TEST_FAIL_AT"


def aws_error() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DescribeDBInstances"
    )


def database_error() -> psycopg.OperationalError:
    return psycopg.OperationalError(
        'connection to server at "127.0.0.1" failed: server closed the connection unexpectedly\n'
        "\tThis probably means the server terminated abnormally"
    )


ERRORS = {"aws": aws_error, "database": database_error}


class FailAt(Control):
    def __init__(self, point: str) -> None:
        self.kind, _, self.step = point.partition(":")

    def before_step(self, ctx: RunContext, step: Step) -> None:
        if step.id == self.step:
            raise ERRORS[self.kind]()


def fail_at() -> FailAt:
    """The control OPS_RUNBOOK_CONTROLS names: the point comes from OPS_TEST_FAIL_AT."""
    return FailAt(os.environ.get(FAIL_AT_ENV, ""))


def fail_at_env(kind: str, step: str) -> dict[str, str]:
    """The variables that make an `ops drill run` process fail before `step` with `kind`."""
    return {CONTROLS_ENV: f"{__name__}:fail_at", FAIL_AT_ENV: f"{kind}:{step}"}
