"""Pool claims tied to live processes.

A step claims a slot of its pool and gives it back when it ends; Dagster's daemon frees the slots of a run
that has ended. A run whose process was killed (SIGKILL, OOM, a timeout) never ends: it stays STARTED,
keeps its slots, and every later step of the pool waits for ever. Dagster's run monitoring cannot see such
a run: it checks only runs whose run launcher can tell whether their worker lives, and in-process runs
(`dg.materialize`, `avax-assets materialize`) have none. So a run executed in a process of its own carries
that process in its tags (host, pid, start), and a run whose process is gone from this host is marked failed
and its claims freed: before every `avax-assets materialize`, while one waits for a pool, by the
`free_dead_claims` sensor (the daemon) and by `avax-assets pools free-dead`.

    result, stopped_by = materialize(instance, assets, say=print, selection=…)   # the CLI's runs
    free_dead_claims(instance)   # what it freed, a line per run
    pool_rows(instance)          # every pool with the runs holding or waiting for it
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.dagster_run import FINISHED_STATUSES, DagsterRunStatus, RunsFilter

from avax_assets.core.processes import StopSignals, process_alive, process_start
from avax_assets.orchestration.pools import POOLS
from avax_assets.orchestration.progress import Steps, followed

HOST_TAG, PID_TAG, START_TAG = "avax-assets/host", "avax-assets/pid", "avax-assets/process-start"
UNFINISHED = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
              DagsterRunStatus.CANCELING]
WAIT_LINE_EVERY_S = 10.0


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
                hear: Callable[[Steps], None] = lambda steps: None,
                **kwargs) -> tuple[dg.ExecuteInProcessResult | None, int | None]:
    """`dg.materialize` for a process of its own (the CLI): the claims of dead runs freed first, the run tagged
    with this process, a line while it waits for a pool, `hear` told of its steps as they end (progress.py),
    and SIGTERM or Ctrl-C ending it at once (failed). Returns the result (None when stopped before the run
    began) and the signal that stopped it, if any."""
    for line in free_dead_claims(instance):
        say(line)
    process = RunProcess.current()
    watch = _Watch(instance, process, say)
    result = None
    try:
        with watch.installed(), followed(instance, process.tags(), hear), _claims_checked_without_spinning():
            result = dg.materialize(assets, instance=instance, raise_on_error=False, tags=process.tags(), **kwargs)
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):  # a signal Dagster did not capture
        watch.stops.signal = watch.stops.signal or signal.SIGINT
    finally:
        _end_own_runs(instance, process)
    return result, watch.stops.signal


def _end_own_runs(instance: dg.DagsterInstance, process: RunProcess) -> None:
    """This process's runs hold nothing once it returns: every step ran in it."""
    for run in instance.get_runs(RunsFilter(tags=process.tags())):
        if run.status in UNFINISHED:
            instance.report_run_failed(run, "avax-assets materialize stopped before the run ended")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def _interrupt(_signum, _frame) -> None:
    raise dg.DagsterExecutionInterruptedError()


class _Watch:
    """While this process's run executes: a line once it has waited a second for a pool and every 10 s while it
    waits, naming the runs that hold the pool (dead ones freed first); and SIGTERM or Ctrl-C interrupt a
    waiting run at once. Dagster captures both signals during a run and acts on them only when a step starts,
    so a run waiting for a slot ignored them (and waited for ever behind a dead run)."""

    def __init__(self, instance: dg.DagsterInstance, process: RunProcess, say: Callable[[str], None]) -> None:
        self.instance, self.process, self.say = instance, process, say
        self.stops = StopSignals()
        self._run_id: str | None = None
        self._waited: set[tuple[str, str]] = set()  # (pool, step) seen waiting at the last tick
        self._stop = threading.Event()

    @contextmanager
    def installed(self) -> Iterator[None]:
        with self.stops.noted():
            previous = {signum: signal.signal(signum, handler) for signum, handler in
                        ((signal.SIGUSR1, _interrupt), (signal.SIGTERM, signal.default_int_handler))}
            thread = threading.Thread(target=self._watch, args=(threading.get_ident(),), name="pool-wait",
                                      daemon=True)
            thread.start()
            try:
                yield
            finally:
                self._stop.set()
                thread.join()
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    def _watch(self, main_thread: int) -> None:
        said_at, failed = None, ""
        while not self._stop.is_set():
            try:
                said_at = self._tick(main_thread, said_at)
            except Exception as exc:  # noqa: BLE001 - the run goes on; the lines wait for the storage
                if str(exc) != failed:
                    self.say(f"cannot read the pools: {exc}")
                failed = str(exc)
                time.sleep(1)

    def _tick(self, main_thread: int, said_at: float | None) -> float | None:
        """One second of watching; returns when it last said what the run waits for (None: not waiting)."""
        if self.stops.received(wait_s=1.0):
            if self._waits():  # a running step is interrupted by Dagster itself
                signal.pthread_kill(main_thread, signal.SIGUSR1)
        waits = self._waits()
        # a step that had its slot within the second did not wait: it is pending for a moment on every claim
        lasting = [wait for wait in waits if wait in self._waited]
        self._waited = set(waits)
        if not lasting:
            return None
        if said_at is None or time.monotonic() - said_at >= WAIT_LINE_EVERY_S:
            self._say_waits(lasting, said_at is not None)
            return time.monotonic()
        return said_at

    def _waits(self) -> list[tuple[str, str]]:
        """(pool, step) of each step of this process's run waiting for a slot."""
        run_id = self._run_id or self._find_run()
        if run_id is None:
            return []
        return [(pool, step) for pool, claims in _claims(self.instance).items()
                for claimant, step, claim in claims if claimant == run_id and claim == "waits"]

    def _find_run(self) -> str | None:
        runs = self.instance.get_runs(RunsFilter(tags=self.process.tags(), statuses=UNFINISHED), limit=1)
        self._run_id = runs[0].run_id if runs else None
        return self._run_id

    def _say_waits(self, waits: list[tuple[str, str]], again: bool) -> None:
        if again:
            for line in free_dead_claims(self.instance):
                self.say(line)
        claims = _claims(self.instance)
        limits = self.instance.event_log_storage.get_concurrency_infos([pool for pool, _ in waits])
        for pool, step in waits:
            holders = [(run_id, held) for run_id, held, claim in claims.get(pool, []) if claim == "holds"]
            self.say(f"run {self._run_id}: step {step} waits for pool {pool} (limit {limits[pool].limit}), "
                     f"{self._holders(holders) if holders else 'no step holds it: claiming a slot'}")

    def _holders(self, holders: list[tuple[str, str]]) -> str:
        described = []
        for run_id, step in holders:
            run = self.instance.get_run_by_id(run_id)
            state = ", ".join(filter(None, [run.status.value if run else "no such run", _process_state(run)]))
            described.append(f"run {run_id} (step {step}, {state})")
        return "held by " + "; ".join(described)


@contextmanager
def _claims_checked_without_spinning() -> Iterator[None]:
    """Dagster 1.13's in-process executor sleeps `interval_to_next_pending_claim_check()` between checks of
    a blocked claim, which takes min([0, …]) and so is never above 0: a waiting run spins a whole core. Here
    it is the time to the next check, for this process's run."""
    original = InstanceConcurrencyContext.interval_to_next_pending_claim_check
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = _time_to_next_claim_check
    try:
        yield
    finally:
        InstanceConcurrencyContext.interval_to_next_pending_claim_check = original


def _time_to_next_claim_check(context: InstanceConcurrencyContext) -> float:
    timeouts = [context._pending_timeouts[step] for step in context.pending_claim_steps()  # noqa: SLF001
                if step in context._pending_timeouts]  # noqa: SLF001
    return max(0.0, min(timeouts) - time.time()) if timeouts else 0.0


@dg.sensor(name="free_dead_claims", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed the runs whose process is gone from this host (killed, OOM) and gives back "
                       "their pool slots, and those of runs that ended; what `avax-assets pools free-dead` does.")
def dead_claims_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    freed = free_dead_claims(context.instance)
    return dg.SkipReason("; ".join(freed) if freed else "no claims of dead runs")


def run_of_the_same_day(instance: dg.DagsterInstance, partition: str | None,
                        asset_keys: set[dg.AssetKey]) -> dg.DagsterRun | None:
    """An unfinished (or queued) run of `partition` that materializes any of `asset_keys`: starting a second one
    would do the day's work twice (the daemon queues a job's runs of one day by their job-day tag; this is the
    CLI's own check). Runs whose process is gone are failed first, so a killed run is not counted."""
    if partition is None:
        return None
    free_dead_claims(instance)
    runs = instance.get_runs(filters=RunsFilter(statuses=[*UNFINISHED, DagsterRunStatus.QUEUED],
                                                tags={"dagster/partition": partition}))
    for run in runs:
        if run.asset_selection is None or run.asset_selection & asset_keys:
            return run
    return None
