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


def test_the_collector_runs_less_often_inside_and_as_before_after_even_on_failure():
    import gc

    import pytest

    from avax_assets.core.processes import YOUNG_COLLECTION_EVERY, collecting_less_often

    before = gc.get_threshold()
    with collecting_less_often():
        assert gc.get_threshold() == (YOUNG_COLLECTION_EVERY, *before[1:])
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), collecting_less_often():
        raise RuntimeError("the step failed")
    assert gc.get_threshold() == before


def test_every_asset_body_runs_with_the_collector_run_less_often():
    import gc

    from avax_assets.core.processes import YOUNG_COLLECTION_EVERY
    from avax_assets.orchestration.factory import step

    before = gc.get_threshold()
    with step():
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY
    assert gc.get_threshold() == before
