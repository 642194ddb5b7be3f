"""SIGINT and SIGTERM turned into `Interrupted`, delivered even when the signal lands in a
finalizer.

Python runs a signal handler in whatever the main thread is executing. When that is a
finalizer (a weakref callback, a `__del__`), the exception it raises is "ignored": printed
and dropped, and the command carries on as if no signal came. The unraisable hook below
sees the dropped `Interrupted` and asks for the signal again, so the handler runs once
more as soon as the finalizer returns, in code that can stop.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ops.errors import Interrupted

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# Set while the hook below runs: a handler run there would be dropped too (and not hooked).
_in_hook = False
# A moment for the main thread to leave the finalizer before the signal is asked for again.
_REDELIVERY_SECONDS = 0.05


def _raise_interrupted(signal_number: int, _frame: FrameType | None) -> None:
    if _in_hook:
        _redeliver_later(signal_number)
        return
    raise Interrupted(signal_number)


def _redeliver_later(signal_number: int) -> None:
    # From another thread: interrupt_main runs the current Python handler for the signal
    # in the main thread at its next instruction, which by then is outside the hook.
    timer = threading.Timer(_REDELIVERY_SECONDS, _thread.interrupt_main, args=(signal_number,))
    timer.daemon = True
    timer.start()


def _redeliver_dropped(unraisable: Any) -> None:
    """The unraisable hook: an `Interrupted` a finalizer dropped is asked for again; any
    other dropped exception is printed as Python prints it."""
    global _in_hook
    _in_hook = True
    try:
        error = unraisable.exc_value
        if isinstance(error, Interrupted):
            _redeliver_later(error.signal_number)
        else:
            sys.__unraisablehook__(unraisable)
    finally:
        _in_hook = False


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM raise `Interrupted` (never lost in a finalizer);
    the handlers and hook found before are put back after it."""
    previous = {number: signal.signal(number, _raise_interrupted) for number in STOPPING_SIGNALS}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _redeliver_dropped
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
