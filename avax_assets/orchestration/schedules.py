"""When the daily jobs run.

Schedules, not declarative automation: every daily job starts from an external source (the node, the
AvaCloud APIs, The Graph) that Dagster cannot observe, so "the day has closed" is a time, not an
upstream event. Each job gets a schedule built from its partitions that runs the newest complete day
shortly after midnight UTC; its ClickHouse loads are in the same job, so they follow in the same run.
A catch-up sensor per job requests the days a stopped deployment missed, a few per tick, remembering
in its cursor how far it got. Transient failures are retried by the jobs' RetryPolicy, permanent ones not. Every
ClickHouse load has a freshness policy (orchestration/factory.py): its newest complete day by 03:00 UTC.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES  # queued or at work: not ended

CATCH_UP_DAYS_PER_TICK = 3
# Every run of a daily job for one day carries `<job>:<day>` under this tag; the instance runs one run per value
# at a time (dagster.yaml), so a day started twice waits, while another chain's (another job's) day never does
JOB_DAY_TAG = "avax-assets/job-day"


def job_day_config(job_name: str, days: dg.PartitionsDefinition) -> dg.PartitionedConfig:
    """The daily job's partitioned config: no run config of its own, the job-day tag on each day's run (its
    schedule's, catch-up sensor's, backfill's and the UI's launches of the job alike)."""
    return dg.PartitionedConfig(days, run_config_for_partition_key_fn=lambda day: {},
                                tags_for_partition_key_fn=lambda day: {JOB_DAY_TAG: f"{job_name}:{day}"})


def transient_retry(delay_s: float = 120) -> dg.RetryPolicy:
    """The daily jobs' retries. They apply to transient failures only: the asset factory fails a
    permanent one (bad data, bad settings) with a Failure that allows no retry."""
    return dg.RetryPolicy(max_retries=3, delay=delay_s, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def daily_schedule(job, minute: int) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        job, name=f"{job.name}_schedule", hour_of_day=0, minute_of_hour=minute,
        description=f"The newest complete UTC day of `{job.name}`, {minute} min after midnight.",
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def newest_complete_day(partitions: dg.DailyPartitionsDefinition, now: dt.datetime) -> str | None:
    newest = now.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)
    return newest.isoformat() if newest >= partitions.start.date() else None


def missing_days(partitions: dg.DailyPartitionsDefinition, cursor: str | None, now: dt.datetime,
                 done: set[str]) -> list[str]:
    """Complete days after the cursor (only the newest when there is none) not materialized yet."""
    newest = newest_complete_day(partitions, now)
    if newest is None:
        return []
    last = dt.date.fromisoformat(newest)
    day = dt.date.fromisoformat(cursor) + dt.timedelta(days=1) if cursor else last
    days = []
    while day <= last:
        if day.isoformat() not in done:
            days.append(day.isoformat())
        day += dt.timedelta(days=1)
    return days


def catch_up_sensor(job, witness: dg.AssetsDefinition,
                    now: Callable[[], dt.datetime] = utc_now) -> dg.SensorDefinition:
    """Requests the days of `job` that `witness` (its last asset) lacks since the cursor."""
    partitions = witness.partitions_def

    @dg.sensor(name=f"{job.name}_catch_up", job=job, minimum_interval_seconds=600,
               description=f"Requests the complete days `{job.name}` missed (up to {CATCH_UP_DAYS_PER_TICK} a tick); "
                           "its cursor is the last day requested, so a restarted deployment resumes where it stopped.")
    def _sensor(context: dg.SensorEvaluationContext):
        done = context.instance.get_materialized_partitions(witness.key)
        at = now()
        days = missing_days(partitions, context.cursor, at, done)[:CATCH_UP_DAYS_PER_TICK]
        if not days:
            newest = newest_complete_day(partitions, at)
            if newest:
                context.update_cursor(newest)
            return dg.SkipReason(f"nothing missing up to {newest}")
        context.update_cursor(days[-1])
        return [dg.RunRequest(run_key=f"{job.name}:{day}", partition_key=day) for day in days]

    return _sensor


RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


@dataclass(frozen=True)
class BackfillDays:
    """A backfill's days as the instance knows them: done (every asset of the job materialized for the day),
    in flight (a run of the job for the day queued or at work: day → run id) and the rest, still to run."""

    to_run: list[str]
    done: list[str]
    in_flight: dict[str, str]


def backfill_days(instance: dg.DagsterInstance, job_name: str, asset_keys: Iterable[dg.AssetKey],
                  days: list[str]) -> BackfillDays:
    """Which of `days` a backfill of the job still has to run: a backfill launched again after a crash (or a
    failed day) runs only the days that did not finish, and none that another run is doing."""
    materialized = [instance.get_materialized_partitions(key) for key in asset_keys]
    done = [day for day in days if all(day in each for each in materialized)]
    in_flight: dict[str, str] = {}
    for run in instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=NOT_FINISHED_STATUSES)):
        for day in _days_of_run(run, days):
            in_flight.setdefault(day, run.run_id)
    return BackfillDays([d for d in days if d not in done and d not in in_flight], done, in_flight)


def _days_of_run(run: dg.DagsterRun, days: list[str]) -> list[str]:
    """The days among `days` a run is for: its partition, or its range of partitions."""
    if "dagster/partition" in run.tags:
        return [run.tags["dagster/partition"]] if run.tags["dagster/partition"] in days else []
    start, end = (run.tags.get(tag) for tag in RANGE_TAGS)
    return [day for day in days if start and end and start <= day <= end]
