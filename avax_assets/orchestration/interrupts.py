"""Interrupts in a run: Ctrl-C, SIGTERM or a run terminated from the UI.

Dagster raises them in the running step's code, and its RetryPolicy then retries the interrupted step while
the run goes on (for minutes, with the daily jobs' backoff). An interrupt is no transient failure: around the
user code a run executes (every asset body through `factory.step`, the lake IO manager), the step fails for
good and the interrupt is handed back to Dagster, which ends the run where the next step starts.

What the step's code makes of the raised interrupt does not decide it: the stop signals are noted as they
arrive. An interrupt raised while an extension module is imported comes out as an ImportError (the embedded
engine's first import takes seconds, and a Ctrl-C there was retried as a failure for minutes), and one raised
in a finalizer is printed and dropped; either way the step fails as interrupted.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._utils.interrupts import _received_interrupt as _held_interrupt  # the interrupt Dagster holds

from avax_assets.core.processes import StopSignals


@contextmanager
def interrupts_not_retried() -> Iterator[None]:
    with stops_noted() as arrived:
        try:
            yield
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
            raise _interrupted() from None
        except Exception as exc:
            if arrived:
                raise _interrupted() from exc
            raise
    if arrived:
        raise _interrupted()


def _interrupted() -> dg.Failure:
    _held_interrupt["received"] = True
    return dg.Failure(description="interrupted (Ctrl-C, SIGTERM or the run terminated): not retried",
                      allow_retries=False)


@contextmanager
def stops_noted() -> Iterator[list[int]]:
    """The stop signals that arrive while inside, noted before the handler in place runs. Only a Python
    handler is wrapped (a signal left to the system keeps its default), and only in the main thread, where
    Python runs them."""
    arrived: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return
    previous = {signum: signal.getsignal(signum) for signum in StopSignals.STOPS}  # Dagster: SIGTERM as SIGINT

    def noting(signum, frame) -> None:
        arrived.append(signum)
        previous[signum](signum, frame)

    wrapped = [signum for signum, handler in previous.items() if callable(handler)]
    for signum in wrapped:
        signal.signal(signum, noting)
    try:
        yield arrived
    finally:
        for signum in wrapped:
            if signal.getsignal(signum) is noting:  # else a handler set inside replaced it: theirs stays
                signal.signal(signum, previous[signum])
