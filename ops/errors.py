"""Exit codes and the one exception type every command turns into a one-line message.

The exit codes are the same in every command; README.md has the table.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    SUCCESS = 0  # success, or nothing to change
    FAILURE = 1  # operational failure (AWS error, a process that would not start, ...)
    BAD_INPUT = 2  # bad input or usage: a file, a flag, a field
    CHANGES_PENDING = 3  # a plan with --detailed-exitcode found changes
    OBJECTIVE_MISSED = 4  # an RPO/RTO objective or an SLO was missed
    INTERRUPTED = 130  # stopped by SIGINT/SIGTERM


class OpsError(Exception):
    """An error the user can act on: printed as one line, never as a traceback."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, so that no `except Exception` swallows
    it and code that must undo work (rollbacks, teardown) sees it in `finally`."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(f"interrupted by signal {signal_number}")
        self.signal_number = signal_number


class BadInput(OpsError):
    """Bad input: the message names the file, the field and the fix."""

    exit_code = ExitCode.BAD_INPUT
