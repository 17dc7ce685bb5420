"""Pool claims tied to live processes.

A step claims a slot of its pool and gives it back when it ends; Dagster's daemon frees the slots of a run
that has ended. A run whose process was killed (SIGKILL, OOM, a timeout) never ends: it stays STARTED,
keeps its slots, and every later step of the pool waits for ever. Dagster's run monitoring cannot see such
a run: it checks only runs whose run launcher can tell whether their worker lives, and in-process runs
(`dg.materialize`, `avax-assets materialize`) have none. So a run executed in a process of its own carries
that process in its tags (host, pid, start), and a run whose process is gone from this host is marked failed
and its claims freed: before every `avax-assets materialize`, by the `free_dead_claims` sensor (the daemon)
and by `avax-assets pools free-dead`.

    result, stopped_by = materialize(instance, assets, say=print, selection=…)   # the CLI's runs
    free_dead_claims(instance)   # what it freed, a line per run
    pool_rows(instance)          # every pool with the runs holding or waiting for it
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.storage.dagster_run import FINISHED_STATUSES, DagsterRunStatus, RunsFilter

from avax_assets.core.processes import process_alive, process_start
from avax_assets.orchestration.pools import POOLS

HOST_TAG, PID_TAG, START_TAG = "avax-assets/host", "avax-assets/pid", "avax-assets/process-start"
UNFINISHED = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
              DagsterRunStatus.CANCELING]


@dataclass(frozen=True)
class RunProcess:
    """The process a run executes in, as the run's tags record it."""

    host: str
    pid: int
    start: str  # boot and clock tick of its start; "" where /proc cannot tell

    @classmethod
    def current(cls) -> RunProcess:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()) or "")

    @classmethod
    def of(cls, run: dg.DagsterRun) -> RunProcess | None:
        tags = run.tags
        if HOST_TAG not in tags or not tags.get(PID_TAG, "").isdigit():
            return None
        return cls(tags[HOST_TAG], int(tags[PID_TAG]), tags.get(START_TAG, ""))

    def tags(self) -> dict[str, str]:
        return {HOST_TAG: self.host, PID_TAG: str(self.pid), START_TAG: self.start}

    def alive(self) -> bool | None:
        """None for a process of another host: only its own host can tell."""
        if self.host != socket.gethostname():
            return None
        if not process_alive(self.pid):
            return False
        # a pid taken again by a later process is not this one
        return not self.start or process_start(self.pid) in (None, self.start)

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def free_dead_claims(instance: dg.DagsterInstance) -> list[str]:
    """Marks failed the unfinished runs whose process is gone from this host and frees their claims; frees
    the claims of runs that ended (after the instance's `free_slots_after_run_end_seconds`, as the daemon
    does) or no longer exist. A line per run."""
    return [*_fail_dead_runs(instance), *_free_ended_runs(instance)]


def _fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    lines = []
    for run in instance.get_runs(RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: socket.gethostname()})):
        process = RunProcess.of(run)
        if process is None or process.alive() is not False:
            continue
        run = instance.get_run_by_id(run.run_id)  # read again: a process that is gone changes it no more
        if run is None or run.status not in UNFINISHED:
            continue
        pools = _pools_of(instance, run.run_id)
        instance.report_run_failed(
            run, f"The run's process ({process}) is gone (killed?): marked failed by avax-assets, its pool slots "
                 "given back", JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION))
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        lines.append(f"run {run.run_id} ({process}) is gone: marked failed; pools freed: {', '.join(pools) or 'none'}")
    return lines


def _free_ended_runs(instance: dg.DagsterInstance) -> list[str]:
    claimants = {claimant for pool in _claims(instance).values() for claimant, _, _ in pool}
    if not claimants:
        return []
    grace_s = instance.run_monitoring_settings.get("free_slots_after_run_end_seconds") or 0
    records = {r.dagster_run.run_id: r for r in instance.get_run_records(RunsFilter(run_ids=sorted(claimants)))}
    lines = []
    for run_id in sorted(claimants):
        record = records.get(run_id)
        if record is None:
            reason = "no longer exists"
        elif record.dagster_run.status in FINISHED_STATUSES and (record.end_time or 0) + grace_s <= time.time():
            reason = f"ended ({record.dagster_run.status.value})"
        else:
            continue
        pools = _pools_of(instance, run_id)
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        lines.append(f"run {run_id} {reason}; pools freed: {', '.join(pools)}")
    return lines


def _claims(instance: dg.DagsterInstance) -> dict[str, list[tuple[str, str, str]]]:
    """Per pool: (run id, step, "holds" or "waits") of every step holding or waiting for a slot."""
    storage = instance.event_log_storage
    keys = sorted(set(POOLS) | storage.get_concurrency_keys())
    claims = {}
    for key, info in storage.get_concurrency_infos(keys).items():
        held = [(slot.run_id, slot.step_key) for slot in info.claimed_slots]
        claims[key] = [(run_id, step, "holds") for run_id, step in held] + [
            (p.run_id, p.step_key, "waits") for p in info.pending_steps if (p.run_id, p.step_key) not in held]
    return claims


def _pools_of(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [pool for pool, claims in _claims(instance).items() if any(c[0] == run_id for c in claims)]


def pool_rows(instance: dg.DagsterInstance) -> tuple[list[str], list[list]]:
    """Columns and rows: every pool with its limit, and each step holding or waiting for one of its slots
    with its run's status and process (gone: `avax-assets pools free-dead` frees it)."""
    storage = instance.event_log_storage
    claims = _claims(instance)
    limits = storage.get_concurrency_infos(list(claims))
    run_ids = sorted({c[0] for pool in claims.values() for c in pool})
    runs = {run.run_id: run for run in instance.get_runs(RunsFilter(run_ids=run_ids))} if run_ids else {}
    rows = []
    for pool, entries in claims.items():
        if not entries:
            rows.append([pool, limits[pool].limit, "", "", "", "", ""])
        for run_id, step, claim in entries:
            run = runs.get(run_id)
            rows.append([pool, limits[pool].limit, claim, run_id, step, run.status.value if run else "(no such run)",
                         _process_state(run)])
    return ["pool", "limit", "claim", "run", "step", "status", "process"], rows


def _process_state(run: dg.DagsterRun | None) -> str:
    process = RunProcess.of(run) if run else None
    if process is None:
        return ""
    alive = process.alive()
    return f"{process} ({'another host' if alive is None else 'running' if alive else 'gone'})"


def materialize(instance: dg.DagsterInstance, assets: list, say: Callable[[str], None],
                **kwargs) -> tuple[dg.ExecuteInProcessResult | None, int | None]:
    """`dg.materialize` for a process of its own (the CLI): the claims of dead runs freed first, the run tagged
    with this process. Returns the result (None when stopped before the run began) and the signal that stopped it, if any."""
    for line in free_dead_claims(instance):
        say(line)
    process = RunProcess.current()
    result, stopped_by = None, None
    try:
        result = dg.materialize(assets, instance=instance, raise_on_error=False, tags=process.tags(), **kwargs)
    except KeyboardInterrupt:  # a signal Dagster did not capture
        stopped_by = signal.SIGINT
    finally:
        _end_own_runs(instance, process)
    return result, stopped_by


def _end_own_runs(instance: dg.DagsterInstance, process: RunProcess) -> None:
    """This process's runs hold nothing once it returns: every step ran in it."""
    for run in instance.get_runs(RunsFilter(tags=process.tags())):
        if run.status in UNFINISHED:
            instance.report_run_failed(run, "avax-assets materialize stopped before the run ended")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


@dg.sensor(name="free_dead_claims", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed the runs whose process is gone from this host (killed, OOM) and gives back "
                       "their pool slots, and those of runs that ended; what `avax-assets pools free-dead` does.")
def dead_claims_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    freed = free_dead_claims(context.instance)
    return dg.SkipReason("; ".join(freed) if freed else "no claims of dead runs")
