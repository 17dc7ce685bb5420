"""A run's progress read from its event log while it executes (orchestration/progress.py), as `avax-assets
materialize` shows it: a bar of steps done, then a line per asset and partition with its rows. Service-free:
toy assets on a temporary instance."""

from __future__ import annotations

import io
import threading

import dagster as dg
import pytest
from rich.console import Console

from avax_assets import cli
from avax_assets.orchestration import claims
from avax_assets.orchestration.progress import Steps

DAY = "2024-06-01"
DAYS = dg.DailyPartitionsDefinition(start_date="2024-06-01", end_date="2024-06-03")
WAIT_S = 120  # for the reader thread to see the first step end; a run that waits longer fails


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def two_steps(first_seen: threading.Event):
    """`first` then `second`; `second` runs only once the progress has told of `first` ending."""

    @dg.asset(partitions_def=DAYS)
    def first() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"dagster/row_count": 3})

    @dg.asset(partitions_def=DAYS, deps=[first])
    def second() -> dg.MaterializeResult:
        if not first_seen.wait(WAIT_S):
            raise AssertionError("the progress did not tell of the first step while the run went on")
        return dg.MaterializeResult(metadata={"dagster/row_count": 0})

    return [first, second]


def seen() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def materialized(instance, assets, hear):
    result, stopped_by = claims.materialize(instance, assets, say=print, hear=hear, partition_key=DAY,
                                            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    assert stopped_by is None and result.success
    return result


def test_steps_are_told_as_they_end_while_the_run_goes_on(instance):
    first_seen = threading.Event()
    heard: list[Steps] = []

    def hear(steps: Steps) -> None:
        heard.append(steps)
        if steps.ended.get("first") == "succeeded":
            first_seen.set()

    materialized(instance, two_steps(seen()), hear=lambda steps: None)  # an earlier run, same tags
    heard.clear()
    result = materialized(instance, two_steps(first_seen), hear)

    assert {steps.run_id for steps in heard} == {result.run_id}  # the earlier run is not this one
    during = [steps for steps in heard if steps.done == 1]
    assert during and during[0].total == 2 and during[0].ended == {"first": "succeeded"}
    assert heard[-1].done == heard[-1].total == 2 and not heard[-1].running and not heard[-1].failed


def test_the_bar_ends_at_every_step_done_and_the_rows_are_said_per_asset_and_partition(instance):
    terminal = io.StringIO()
    with cli.progress_bar(Console(file=terminal, width=120)) as bar:
        task = bar.add_task(f"materializing {DAY}", total=None)
        result = materialized(instance, two_steps(seen()), hear=lambda steps: bar.update(
            task, total=steps.total, completed=steps.done, description=cli.progress_line(DAY, steps)))

    shown = terminal.getvalue().strip().splitlines()
    assert len(shown) == 1 and shown[0].startswith(f"materialized {DAY}") and "2/2" in shown[0], shown
    assert cli.row_summary(result.get_asset_materialization_events()) == [f"  first {DAY}: 3 rows",
                                                                          f"  second {DAY}: no rows"]


def test_the_progress_line_names_the_running_step_or_how_the_run_ended():
    def steps(ended, running=()):
        return Steps("run", 3, ended, tuple(running))

    assert cli.progress_line(DAY, steps({}, ["blocks"])) == f"materializing {DAY}: blocks"
    assert cli.progress_line(DAY, steps({"a": "succeeded"}, ["b", "c"])) == f"materializing {DAY}: b (+1)"
    assert cli.progress_line(DAY, steps({"a": "failed", "b": "skipped"})) == f"materializing {DAY}: 1 step failed"
    assert cli.progress_line(None, steps({"a": "succeeded", "b": "succeeded", "c": "succeeded"})) == "materialized"
