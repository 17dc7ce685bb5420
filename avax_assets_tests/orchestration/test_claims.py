"""Pool claims of killed runs (orchestration/claims.py), on the project's local instance configuration in a
temporary DAGSTER_HOME: CLI-like runs (claims_run.py, the path `avax-assets materialize` takes) hold the `rpc`
pool (limit 1) in processes of their own. A SIGKILLed holder does not block the next run, which marks it
failed; a run waiting for the pool says which run holds it and ends at once on SIGTERM or Ctrl-C;
`avax-assets pools` lists the claims and frees those of dead runs, and so does the daemon's sensor."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

from avax_assets import cli
from avax_assets.orchestration import claims
from avax_assets.orchestration.pools import RPC
from avax_assets_tests.conftest import REPO
from avax_assets_tests.orchestration.test_ui import local_instance_config

GENEROUS_S = 180  # for a process to start, import Dagster and reach its step, or to end on a signal


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / "dagster.yaml").write_text(local_instance_config(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


class Run:
    """A CLI-like run in a process of its own, its stderr read line by line without blocking for ever."""

    def __init__(self, home: Path, seconds: float, name: str) -> None:
        self.ready = home / f"{name}.ready"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "avax_assets_tests.orchestration.claims_run", str(seconds), str(self.ready)],
            cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(home)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        self.pid = self.process.pid
        self._lines: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.seen: list[str] = []

    def _read(self) -> None:
        for line in self.process.stderr:
            self._lines.put(line)

    def until(self, text: str) -> str:
        for _ in range(GENEROUS_S):
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {GENEROUS_S} s: {''.join(self.seen)}")

    def holding(self) -> Run:
        """Once its step started: it holds the pool."""
        for _ in range(GENEROUS_S):
            if self.ready.exists():
                return self
            assert self.process.poll() is None, f"ended before its step: {self.output()}"
            time.sleep(1)
        raise AssertionError(f"its step did not start in {GENEROUS_S} s: {self.output()}")

    def ended(self) -> int:
        code = self.process.wait(timeout=GENEROUS_S)
        self._reader.join()
        return code

    def output(self) -> str:
        while not self._lines.empty():
            self.seen.append(self._lines.get())
        return "".join(self.seen)

    def killed(self) -> Run:
        self.process.kill()
        self.ended()
        return self


@pytest.fixture
def runs(home):
    """Starts CLI-like runs; kills any still running at the end."""
    started: list[Run] = []

    def start(seconds: float, name: str) -> Run:
        started.append(Run(home, seconds, name))
        return started[-1]

    yield start
    for run in started:
        if run.process.poll() is None:
            run.killed()


def run_of(instance: dg.DagsterInstance, process: Run) -> dg.DagsterRun:
    [run] = instance.get_runs(RunsFilter(tags={claims.PID_TAG: str(process.pid)}))
    return run


def claimants(instance: dg.DagsterInstance) -> set[tuple[str, str]]:
    info = instance.event_log_storage.get_concurrency_info(RPC)
    return {(slot.run_id, "holds") for slot in info.claimed_slots} | {(p.run_id, "pending") for p in info.pending_steps}


def test_a_sigkilled_run_does_not_block_the_next_one_and_is_marked_failed(home, runs):
    holder = runs(3600, "holder").holding().killed()

    following = runs(0, "following")
    assert following.ended() == 0, following.output()
    said = following.output()
    assert following.ready.exists()
    with dg.DagsterInstance.get() as instance:
        dead = run_of(instance, holder)
        assert dead.status == DagsterRunStatus.FAILURE
        assert f"run {dead.run_id} (pid {holder.pid} on " in said and "is gone: marked failed; pools freed: rpc" in said
        assert run_of(instance, following).status == DagsterRunStatus.SUCCESS
        assert claimants(instance) == set()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_waiting_run_says_what_it_waits_for_and_ends_at_once_on_a_signal(home, runs, signum):
    holder = runs(3600, "holder").holding()
    waiting = runs(0, "waiting")
    with dg.DagsterInstance.get() as instance:
        held = run_of(instance, holder).run_id
        line = waiting.until("waits for pool rpc")
        assert f"held by run {held} (step holds_rpc, STARTED, pid {holder.pid} on " in line and "(running))" in line

        waiting.process.send_signal(signum)
        assert waiting.ended() == 128 + signum, waiting.output()
        assert f"stopped by {signum.name}" in waiting.output()
        assert not waiting.ready.exists()
        assert run_of(instance, waiting).status == DagsterRunStatus.FAILURE
        assert claimants(instance) == {(held, "holds"), (held, "pending")}

        holder.process.send_signal(signal.SIGTERM)  # a running step: Dagster interrupts it, the slot is given back
        assert holder.ended() == 128 + signal.SIGTERM, holder.output()
        assert run_of(instance, holder).status == DagsterRunStatus.FAILURE
        assert claimants(instance) == set()


def test_pools_lists_the_claims_and_frees_those_of_dead_runs(home, runs, capsys):
    holder = runs(3600, "holder").holding()
    assert cli.pools("list", False) == 0
    listed = capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        held = run_of(instance, holder).run_id
    [row] = [line for line in listed.splitlines() if line.startswith("rpc")]
    assert row.split()[:5] == ["rpc", "1", "holds", held, "holds_rpc"] and row.endswith("(running)")
    assert {line.split()[0] for line in listed.splitlines()[2:-1]} == {"rpc", "avacloud", "thegraph", "clickhouse"}

    assert cli.pools("free-dead", False) == 0
    assert capsys.readouterr().out.strip() == "no claims of dead runs"
    holder.killed()
    cli.pools("list", False)
    assert "(gone)" in capsys.readouterr().out

    assert cli.pools("free-dead", False) == 0
    assert f"run {held} (pid {holder.pid} on " in capsys.readouterr().out
    cli.pools("list", False)
    assert held not in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(held).status == DagsterRunStatus.FAILURE


def test_the_sensor_frees_the_claims_of_a_killed_run(home, runs):
    holder = runs(3600, "holder").holding().killed()
    with dg.DagsterInstance.get() as instance:
        held = run_of(instance, holder).run_id
        skipped = claims.dead_claims_sensor(dg.build_sensor_context(instance=instance))
        assert f"run {held} (pid {holder.pid} on " in skipped.skip_message
        assert instance.get_run_by_id(held).status == DagsterRunStatus.FAILURE
        assert claimants(instance) == set()
        assert claims.dead_claims_sensor(dg.build_sensor_context(instance=instance)).skip_message == \
            "no claims of dead runs"


def test_a_process_is_told_apart_from_a_later_one_with_its_pid():
    me = claims.RunProcess.current()
    assert me.alive() is True
    assert claims.RunProcess(me.host, me.pid, "another boot:0").alive() is False
    assert claims.RunProcess("another-host", me.pid, me.start).alive() is None
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert claims.RunProcess(me.host, ended.pid, "").alive() is False


def test_a_blocked_claim_is_checked_again_after_a_pause_not_in_a_busy_loop(home):
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots(RPC, 1)
        first, second = (dg.DagsterRun(job_name="claims", run_id=run_id) for run_id in ("first", "second"))
        with InstanceConcurrencyContext(instance, first) as holder, \
                InstanceConcurrencyContext(instance, second) as waiter:
            assert holder.claim(RPC, "step")
            assert not waiter.claim(RPC, "step")
            with claims._claims_checked_without_spinning():  # noqa: SLF001
                assert waiter.interval_to_next_pending_claim_check() > 0


def test_a_step_is_said_to_wait_only_once_it_has_waited_a_second():
    """Every claim is pending for a moment before its slot is granted: a step seen pending at one tick only is
    not said to wait (it was, in a line naming its own run as the holder)."""
    said: list[list[tuple[str, str]]] = []
    watch = claims._Watch(None, claims.RunProcess.current(), say=print)  # noqa: SLF001
    seen = iter([[(RPC, "a")], [], [(RPC, "a")], [(RPC, "a")]])
    watch._waits = lambda: next(seen)  # noqa: SLF001
    watch._say_waits = lambda waits, again: said.append(waits)  # noqa: SLF001
    ticks = [watch._tick(threading.get_ident(), None) for _ in range(3)]  # noqa: SLF001
    assert ticks == [None, None, None] and said == []
    assert watch._tick(threading.get_ident(), None) is not None and said == [[(RPC, "a")]]  # noqa: SLF001


def test_a_day_already_being_materialized_is_not_started_twice(home):
    """Two runs of one day would do its work twice: the CLI refuses the second, naming the first; a run of that
    day whose process is gone does not count."""
    blocks, logs = dg.AssetKey("blocks"), dg.AssetKey("logs")

    def started(process: claims.RunProcess) -> dg.DagsterRun:
        run = dg.DagsterRun(job_name="__ephemeral_asset_job__", run_id=f"run-{process.pid}",
                            status=DagsterRunStatus.STARTED, asset_selection=frozenset({blocks}),
                            tags={"dagster/partition": "2024-06-02", **process.tags()})
        instance.add_run(run)
        return run

    with dg.DagsterInstance.get() as instance:
        alive = started(claims.RunProcess.current())
        assert claims.run_of_the_same_day(instance, "2024-06-02", {blocks, logs}).run_id == alive.run_id
        assert claims.run_of_the_same_day(instance, "2024-06-03", {blocks}) is None  # another day
        assert claims.run_of_the_same_day(instance, "2024-06-02", {logs}) is None  # other assets
        instance.delete_run(alive.run_id)
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        dead = started(claims.RunProcess(claims.RunProcess.current().host, gone.pid, ""))
        assert claims.run_of_the_same_day(instance, "2024-06-02", {blocks}) is None
        assert instance.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE
