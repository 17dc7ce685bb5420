"""Schedules and catch-up sensors of the daily jobs, evaluated as the daemon would at chosen times."""

import datetime as dt

import dagster as dg
import pytest

from avax_assets.catalogue import DAILY_JOBS, DATASETS, Catalogue
from avax_assets.definitions import defs as load_definitions
from avax_assets.orchestration.schedules import CATCH_UP_DAYS_PER_TICK, catch_up_sensor

UTC = dt.timezone.utc
DEFS = load_definitions()
CHAIN_DAILY = next(job for job in DAILY_JOBS if job.name == "chain_daily")


@pytest.mark.parametrize("job", DAILY_JOBS, ids=lambda job: job.name)
def test_each_daily_job_runs_the_newest_complete_day_after_midnight(job):
    schedule = DEFS.resolve_schedule_def(f"{job.name}_schedule")
    assert schedule.cron_schedule == f"{job.minute} 0 * * *"
    assert schedule.execution_timezone == "UTC"
    tick = dt.datetime(2026, 11, 24, 0, job.minute, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        result = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=tick))
    assert [r.partition_key for r in result.run_requests] == ["2026-11-23"]


def test_daily_jobs_retry_transient_errors_with_backoff():
    for job in DAILY_JOBS:
        policy = DEFS.resolve_job_def(job.name).op_retry_policy
        assert policy.max_retries == 3 and policy.backoff == dg.Backoff.EXPONENTIAL


def tick(sensor, instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor(context)
    requested = [] if isinstance(result, dg.SkipReason) else [r.partition_key for r in result]
    return requested, context.cursor


def test_the_catch_up_sensor_requests_missed_days_a_few_per_tick_and_resumes_from_its_cursor():
    now = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    catalogue = Catalogue()
    sensor = catch_up_sensor(catalogue.job(CHAIN_DAILY), catalogue.load_of(CHAIN_DAILY.witness), now=lambda: now)
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("clickhouse_blocks", partition="2026-11-20"))
        requested, cursor = tick(sensor, instance, "2026-11-17")  # the deployment stopped after the 17th
        assert requested == ["2026-11-18", "2026-11-19", "2026-11-21"][:CATCH_UP_DAYS_PER_TICK]
        assert cursor == "2026-11-21"
        requested, cursor = tick(sensor, instance, cursor)  # next tick, or after a restart
        assert (requested, cursor) == (["2026-11-22", "2026-11-23"], "2026-11-23")
        assert tick(sensor, instance, cursor) == ([], "2026-11-23")


def test_without_a_cursor_the_sensor_starts_at_the_newest_day_not_the_chains_genesis():
    now = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    catalogue = Catalogue()
    sensor = catch_up_sensor(catalogue.job(CHAIN_DAILY), catalogue.load_of(CHAIN_DAILY.witness), now=lambda: now)
    with dg.instance_for_test() as instance:
        assert tick(sensor, instance, None) == (["2026-11-23"], "2026-11-23")


def test_every_clickhouse_load_has_the_freshness_policy_and_no_superseded_freshness_checks():
    loads = [a for a in DEFS.assets if isinstance(a, dg.AssetsDefinition) and len(a.keys) == 1
             and a.key.path[-1].startswith("clickhouse_")]
    assert len(loads) == len(DATASETS)  # one load per dataset
    for load in loads:
        policy = load.specs_by_key[load.key].freshness_policy
        assert policy is not None and policy.deadline_cron == "0 3 * * *", load.key
    assert not list(DEFS.asset_checks or [])  # the checks are the loads' own (blocking) audits


