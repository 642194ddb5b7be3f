"""SIGTERM ends a command even when it lands inside a finalizer, where Python drops the
exception a signal handler raises (CI saw a demo run on to exit 0 that way)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.helpers import REPO

# A program that receives SIGTERM while a weakref finalizer runs, then waits (bounded) for
# the interruption in ordinary code. Without the redelivery it prints "not interrupted".
_SIGNAL_IN_A_FINALIZER = textwrap.dedent(
    """
    import os, signal, sys, time, weakref
    from ops.cli.interrupts import interrupts_raise
    from ops.errors import Interrupted

    class Resource:
        pass

    def finalizer():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100_000):  # the handler runs here, inside the finalizer
            pass

    with interrupts_raise():
        try:
            resource = Resource()
            weakref.finalize(resource, finalizer)
            del resource
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                time.sleep(0.01)
            print("not interrupted")
        except Interrupted as interrupted:
            print(f"interrupted by {interrupted.signal_number}")
    """
)


def test_a_signal_dropped_by_a_finalizer_is_delivered_again() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SIGNAL_IN_A_FINALIZER], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "interrupted by 15", result.stderr
    assert result.stderr == ""  # the dropped one is not printed as "Exception ignored"


def test_the_handlers_found_before_are_put_back() -> None:
    import signal

    from ops.cli.interrupts import interrupts_raise

    before = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    with interrupts_raise():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (signal.getsignal(signal.SIGTERM), sys.unraisablehook) == before
