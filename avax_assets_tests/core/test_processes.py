"""A stop signal is noted whichever Python handler takes it: Dagster's run swallows a Ctrl-C that lands in its
last step, and the demo must still stop."""

from __future__ import annotations

import os
import signal

from avax_assets.core.processes import StopSignals


def _swallowed(signum, frame) -> None:  # what Dagster's capture_interrupts does with Ctrl-C: a flag, no error
    pass


def test_a_ctrl_c_taken_by_another_handler_is_noted():
    previous = {signum: signal.signal(signum, _swallowed) for signum in (signal.SIGINT, signal.SIGUSR1)}
    try:
        with StopSignals().noted() as stops:
            assert stops.received() == [] and stops.signal is None
            os.kill(os.getpid(), signal.SIGUSR1)  # not a stop
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            assert stops.received(wait_s=1.0) == [signal.SIGINT, signal.SIGINT]
            assert stops.signal == signal.SIGINT and stops.received() == []
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_stop_signal_in_the_last_moment_is_noted_on_leaving():
    previous = signal.signal(signal.SIGTERM, _swallowed)
    try:
        with StopSignals().noted() as stops:
            os.kill(os.getpid(), signal.SIGTERM)
        assert stops.signal == signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_nothing_is_noted_outside():
    stops = StopSignals()
    assert stops.received(wait_s=0.1) == [] and stops.signal is None
