"""Interrupts in a run: Ctrl-C, SIGTERM or a run terminated from the UI.

Dagster raises them in the running step's code, and its RetryPolicy then retries the interrupted step while
the run goes on (for minutes, with the daily jobs' backoff). An interrupt is no transient failure: around the
user code a run executes (every asset body through `factory.step`, the lake IO manager), the step fails for
good and the interrupt is handed back to Dagster, which ends the run where the next step starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._utils.interrupts import _received_interrupt as _held_interrupt  # the interrupt Dagster holds


@contextmanager
def interrupts_not_retried() -> Iterator[None]:
    try:
        yield
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
        _held_interrupt["received"] = True
        raise dg.Failure(description="interrupted (Ctrl-C, SIGTERM or the run terminated): not retried",
                         allow_retries=False) from None
