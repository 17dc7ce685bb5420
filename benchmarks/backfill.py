"""History backfill through the production-like Dagster instance (issue 32, part 3): days of the synthetic node
(avax_assets_dev/local/synthetic_node.py, its days made ahead into its store) backfilled with `avax-assets
backfill --job chain_daily` as docs/operations.md writes it, on deployments/production/dagster.yaml (PostgreSQL,
the QueuedRunCoordinator, run monitoring and retries, pools), run by a `dagster-daemon` of its own.

  per concurrency   the backfill at 1, 2 and 4 concurrent runs (the instance's max_concurrent_runs and backfill
                    limit; the `rpc` pool as large, the `clickhouse` pool 1: the embedded engine takes one
                    process at a time): days an hour, each run's wall time, how busy each pool was (its steps'
                    time ÷ the backfill's), the CPU seconds of the runs' processes and of each service, and the
                    machine's load
  killed            in the run at --kill-concurrency: once --kill-after of the days are done, the daemon and every
                    run process are killed (SIGKILL); the runs at work are failed (as forcing their termination in
                    the UI does), a new daemon is started and the same backfill command is run again: it queues
                    the days not done and not queued (Dagster retries no run of a completed backfill). Checked:
                    every day ends with one successful run and no day that had finished runs again

Each concurrency starts from nothing: its own bucket, embedded engine, spool, Dagster home and PostgreSQL database.
Traces are left out (AVAX_CHAIN_TRACING=false: the job's internal transactions have a benchmark of their own).

    uv run python benchmarks/backfill.py [--days 30] [--scale 0.01] [--concurrency 1,2,4] [--kill-concurrency 2]

Adds `backfill_days_per_hour` (per concurrency, only those that ran) and `backfill` (the figures) to
benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from node_headroom import RESULTS, Node, cpu_seconds, merge_results  # noqa: E402

from avax_assets.orchestration import pools  # noqa: E402
from avax_assets_dev.local.services import LocalStack  # noqa: E402
from avax_assets_dev.local.synthetic_chain import ChainSpec  # noqa: E402

HOME = REPO / ".avax-assets" / "bench-backfill"
KAFKA_PORT, S3_PORT, POSTGRES_PORT, NODE_PORT = 29131, 48431, 25431, 28631  # apart from the other benchmarks'
JOB = "chain_daily"
BIN = Path(sys.executable).parent  # the venv's dagster and dagster-daemon
POLL_S = 2.0
RUN_TIMEOUT_S = 1800  # a day's run that takes longer than this stops the benchmark
MAX_RETRIES = 2  # run_retries.max_retries of deployments/production/dagster.yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", type=float, default=0.01, help="each day's blocks as a fraction of mainnet's")
    parser.add_argument("--concurrency", default="1,2,4", help="concurrent runs, one backfill each")
    parser.add_argument("--kill-concurrency", type=int, default=2, help="the backfill that is killed and resumed "
                                                                        "(0: none)")
    parser.add_argument("--kill-after", type=float, default=0.4, help="the share of days done before the kill")
    parser.add_argument("--executor", default="in_process", choices=["in_process", "multiprocess"],
                        help="AVAX_DAGSTER_EXECUTOR of the runs (multiprocess adds ~3.5 s a step, docs/operations.md)")
    args = parser.parse_args()
    stack = LocalStack(HOME, kafka_port=KAFKA_PORT, s3_port=S3_PORT, postgres_port=POSTGRES_PORT)
    node = Node(ChainSpec(scale=args.scale, days=args.days), NODE_PORT)
    started = [s for s in (stack.s3, stack.kafka, stack.postgres) if not (s.pid() and s.is_ready())]
    results: dict[str, dict] = {}
    try:
        for service in (stack.s3, stack.kafka, stack.postgres):
            service.start()
        node.start()
        print(f"synthetic node: {args.days} days at scale {args.scale} ({node.spec.blocks_per_day} blocks a day), "
              f"made ahead in {node.prime_s} s", flush=True)
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            kill_after = args.kill_after if concurrency == args.kill_concurrency else None
            results[str(concurrency)] = Backfill(stack, node, concurrency, kill_after, args.executor).run()
    finally:
        node.stop()
        for service in started:
            service.stop()
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for result in results.values():
        result.update(days=args.days, scale=args.scale, executor=args.executor, at=at)
    merge_results(merged(results, {"days": args.days, "scale": args.scale,
                                   "blocks_per_day": node.spec.blocks_per_day, "executor": args.executor,
                                   "machine": {"cpus": os.cpu_count()}, "at": at}))
    report(results)


def merged(results: dict[str, dict], run: dict) -> dict:
    """This run's concurrencies over those of earlier runs in results/scale.json (each keeps its days and time),
    so that one concurrency can be measured again alone."""
    found = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    by_concurrency = {**found.get("backfill", {}).get("by_concurrency", {}), **results}
    return {"backfill_days_per_hour": {c: r["days_per_hour"] for c, r in sorted(by_concurrency.items())},
            "backfill": {**run, "by_concurrency": dict(sorted(by_concurrency.items()))}}


class Backfill:
    """One backfill of the node's days at `concurrency` concurrent runs, from nothing."""

    def __init__(self, stack: LocalStack, node: Node, concurrency: int, kill_after: float | None,
                 executor: str) -> None:
        self.stack, self.node, self.concurrency, self.kill_after = stack, node, concurrency, kill_after
        self.executor = executor
        self.tag = f"c{concurrency}-{uuid.uuid4().hex[:6]}"
        self.home = HOME / f"dagster-{self.tag}"
        self.days = [node.spec.start + dt.timedelta(days=i) for i in range(node.spec.days)]
        self.env = self._environment()
        self.daemon: subprocess.Popen | None = None
        self.daemon_restarts: list[float] = []  # when a daemon ended from outside was started again
        self.backfill_ids: list[str] = []  # the backfill, then the one that resumed it after the kill

    def _environment(self) -> dict[str, str]:
        bucket, database = f"avax-backfill-{self.tag}", f"backfill_{self.tag.replace('-', '_')}"
        self.stack.s3.ensure_bucket(bucket)
        self.stack.postgres.create_database(database)
        creds = self.stack.s3.credentials()
        first, last = self.days[0].isoformat(), self.days[-1].isoformat()
        return {**os.environ, **self.stack.environment(bucket=bucket), **self.stack.postgres.environment(database),
                "AVAX_ENV_FILE": "", "AVAX_RPC_URL": self.node.url, "AVAX_CHAIN_TRACING": "false",
                "AVAX_DAGSTER_EXECUTOR": self.executor,
                "AVAX_HOME": str(HOME), "AVAX_CLICKHOUSE_CHDB_PATH": str(HOME / f"chdb-{self.tag}"),
                "AVAX_SPOOL_DIR": str(HOME / f"spool-{self.tag}"),
                "AVAX_CHAIN_START_DATE": first, "AVAX_CHAIN_END_DATE": last,
                "AVAX_SNAPSHOT_START_DATE": first, "AVAX_SNAPSHOT_END_DATE": last,
                "DAGSTER_HOME": str(self.home), "DAGSTER_COMPUTE_LOG_BUCKET": bucket,
                "DAGSTER_COMPUTE_LOG_PREFIX": "dagster/compute-logs", "AWS_ACCESS_KEY_ID": creds["access_key_id"],
                "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"], "PYTHONWARNINGS": "ignore"}

    def _write_instance(self) -> None:
        """deployments/production/dagster.yaml with this backfill's run limits."""
        config = yaml.safe_load((REPO / "deployments" / "production" / "dagster.yaml").read_text())
        runs = config["concurrency"]["runs"]
        runs["max_concurrent_runs"] = self.concurrency
        for limit in runs["tag_concurrency_limits"]:
            if limit["key"] == "dagster/backfill":
                limit["limit"] = self.concurrency
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def instance(self):
        import dagster as dg

        os.environ.update({k: v for k, v in self.env.items() if k.startswith(("DAGSTER_", "AWS_", "AVAX_S3_"))})
        return dg.DagsterInstance.from_config(str(self.home))

    def run(self) -> dict:
        self._write_instance()
        with self.instance() as instance:
            pools.apply_limits(instance, {**pools.LOCAL_LIMITS, pools.RPC: self.concurrency})
        print(f"backfill of {len(self.days)} days at {self.concurrency} concurrent runs ({self.tag}) ...", flush=True)
        self.daemon = self._start_daemon()
        services = {"node": self.node.server, "S3 (SeaweedFS)": self.stack.s3, "Kafka (Tansu)": self.stack.kafka,
                    "PostgreSQL": self.stack.postgres}
        before = {name: service_cpu(s) for name, s in services.items()}
        ours = ProcessTreeCpu()
        load = [os.getloadavg()[0]]
        started = time.time()
        try:
            self._launch()
            killed = self._wait(ours, load)
        finally:
            self._stop_daemon()
        wall = time.time() - started
        with self.instance() as instance:
            figures = self._figures(instance, wall, killed)
            figures["pools"] = {key: instance.event_log_storage.get_concurrency_info(key).slot_count
                                for key in instance.event_log_storage.get_concurrency_keys()}
        figures["cpu_s"] = {"runs and daemon": round(ours.total, 1),
                            **{name: round(service_cpu(s) - before[name], 1) for name, s in services.items()}}
        figures["daemon_ended_from_outside"] = len(self.daemon_restarts)
        figures["load_average_1min"] = {"min": round(min(load), 1), "max": round(max(load), 1),
                                        "mean": round(sum(load) / len(load), 1)}
        print(f"  {figures['days_per_hour']} days an hour ({figures['wall_s']} s); runs {figures['run_s']}; "
              f"clickhouse pool busy {figures['pool_busy']['clickhouse']:.0%}, rpc {figures['pool_busy']['rpc']:.0%}; "
              f"CPU {figures['cpu_s']}; load {figures['load_average_1min']}", flush=True)
        if killed:
            print(f"  killed and resumed: {killed}", flush=True)
        return figures

    def _start_daemon(self) -> subprocess.Popen:
        log = (HOME / "logs").joinpath(f"daemon-{self.tag}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=REPO,
                                env=self.env, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)

    def _stop_daemon(self, kill: bool = False) -> None:
        """The daemon and every process under it (code server, run workers, steps): SIGTERM, or SIGKILL."""
        if self.daemon is None:
            return
        tree = descendants(self.daemon.pid)
        for pid in [self.daemon.pid, *tree] if kill else [self.daemon.pid]:
            try:
                os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for pid in [self.daemon.pid, *descendants(self.daemon.pid)]:
                os.kill(pid, signal.SIGKILL)
            self.daemon.wait()
        self.daemon = None

    def _launch(self) -> None:
        """`avax-assets backfill` over the days, as docs/operations.md writes it (its id kept). Launched again
        after the kill, it queues only the days not done and not queued or running."""
        command = [str(BIN / "avax-assets"), "backfill", "--job", JOB, "--from", self.days[0].isoformat(),
                   "--to", self.days[-1].isoformat()]
        done = subprocess.run(command, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not done.stdout.startswith("backfill "):
            raise SystemExit(f"the backfill was not launched: {(done.stderr or done.stdout)[-2000:]}")
        print(f"  {done.stdout.strip()}", flush=True)
        self.backfill_ids.append(done.stdout.split("backfill ")[1].split(":")[0])

    def _wait(self, ours: ProcessTreeCpu, load: list[float]) -> dict | None:
        """Until every day has a successful run (after a kill, the unfinished days launched again), sampling; kills
        once if asked."""
        import dagster as dg

        killed, deadline = None, time.time() + RUN_TIMEOUT_S * len(self.days)
        with self.instance() as instance:
            while time.time() < deadline:
                self._restart_daemon_if_gone()
                ours.sample(self.daemon.pid if self.daemon else None)
                load.append(os.getloadavg()[0])
                runs = self._runs(instance)
                done = {r.tags["dagster/partition"] for r in runs if r.status == dg.DagsterRunStatus.SUCCESS}
                in_flight = [r for r in runs if r.status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING)]
                if self.kill_after is not None and killed is None and len(done) >= self.kill_after * len(self.days) \
                        and in_flight:  # killed while runs are at work, not between them
                    killed = self._kill_and_resume(runs, done)
                if len(done) == len(self.days):
                    return killed
                if killed is not None and all(r.is_finished for r in runs):
                    # a run the kill caught before it started is failed by run monitoring only later, after the
                    # first resumption saw it still queued: the operator runs the same command again
                    self._launch()
                    killed["resumed"] += 1
                    continue
                failures = [r.tags["dagster/partition"] for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
                if given_up := sorted(day for day in set(failures) if failures.count(day) > MAX_RETRIES):
                    raise SystemExit(f"day {given_up[0]} failed {MAX_RETRIES + 1} times (see the daemon's log under "
                                     f"{HOME / 'logs'} and the runs in the Dagster home {self.home})")
                time.sleep(POLL_S)
        raise SystemExit(f"the backfill did not finish within {RUN_TIMEOUT_S * len(self.days)} s")

    def _restart_daemon_if_gone(self) -> None:
        """A daemon ended from outside (the machine is shared: it has happened) is started again, and counted."""
        if self.daemon is not None and self.daemon.poll() is not None:
            print(f"  the daemon ended by itself (exit {self.daemon.returncode}); starting it again", flush=True)
            self.daemon_restarts.append(round(time.time(), 1))
            self.daemon = self._start_daemon()

    def _kill_and_resume(self, runs, done: set[str]) -> dict:
        """SIGKILL the daemon and its runs; then what an operator does (docs/operations.md: a daemon-launched run
        that was killed is terminated in the UI, forcing it, which fails it and gives its pool slots back), a new
        daemon, and the same backfill command again: it queues the killed days; the queue goes on."""
        import dagster as dg

        running = [r for r in runs if r.status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING)]
        days_running = sorted(r.tags["dagster/partition"] for r in running)
        print(f"  killing the daemon and its runs with {len(done)} days done, {days_running} running", flush=True)
        self._stop_daemon(kill=True)
        killed_at = time.time()
        with self.instance() as instance:
            for run in running:
                instance.report_run_failed(instance.get_run_by_id(run.run_id),
                                           "its process was killed with the daemon (benchmarks/backfill.py)")
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        self.daemon = self._start_daemon()
        self._launch()  # the same command again: the killed days, and no other
        return {"days_done": sorted(done), "days_running": days_running, "killed_at": killed_at, "resumed": 1}

    def _runs(self, instance) -> list:
        """The runs of the backfill and of its resumption."""
        import dagster as dg

        return [run for backfill_id in self.backfill_ids
                for run in instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))]

    def _figures(self, instance, wall: float, killed: dict | None) -> dict:
        import dagster as dg

        runs = self._runs(instance)
        by_day: dict[str, list] = {}
        for run in runs:
            by_day.setdefault(run.tags["dagster/partition"], []).append(run)
        succeeded = {day: [r for r in day_runs if r.status == dg.DagsterRunStatus.SUCCESS]
                     for day, day_runs in by_day.items()}
        stats = {r.run_id: instance.get_run_stats(r.run_id) for r in runs}
        durations = sorted(stats[r[0].run_id].end_time - stats[r[0].run_id].start_time for r in succeeded.values())
        figures = {"concurrency": self.concurrency, "days": len(self.days), "wall_s": round(wall, 1),
                   "days_per_hour": round(len(self.days) / wall * 3600, 1),
                   "run_s": {"min": round(durations[0], 1), "median": round(durations[len(durations) // 2], 1),
                             "max": round(durations[-1], 1)},
                   "runs": len(runs), "every_day_one_success": all(len(s) == 1 for s in succeeded.values())
                   and len(succeeded) == len(self.days),
                   "pool_busy": pool_busy(instance, [r.run_id for r in runs], wall)}
        if killed:
            ran_twice = sorted(day for day, day_runs in by_day.items() if len(day_runs) > 1)
            figures["killed"] = {**{k: v for k, v in killed.items() if k != "killed_at"},
                                 "days_run_again": ran_twice,
                                 "only_unfinished_days_ran_again": not set(ran_twice) & set(killed["days_done"]),
                                 "resumed_in_s": round(min((stats[r.run_id].start_time for day in ran_twice
                                                            for r in by_day[day]
                                                            if stats[r.run_id].start_time
                                                            and stats[r.run_id].start_time > killed["killed_at"]),
                                                           default=killed["killed_at"]) - killed["killed_at"], 1)}
        return figures


def pool_busy(instance, run_ids: list[str], wall: float) -> dict[str, float]:
    """Per pool, the time its steps ran (overlaps merged) ÷ the backfill's wall time: 1.0 for a pool of one slot
    that never idled. Steps are told apart by name: ClickHouse loads (clickhouse_*), the node's (rpc) steps."""
    import dagster as dg

    intervals: dict[str, list] = {"clickhouse": [], "rpc": []}
    for run_id in run_ids:
        started: dict[str, float] = {}
        for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START,
                                                        dg.DagsterEventType.STEP_SUCCESS,
                                                        dg.DagsterEventType.STEP_FAILURE}):
            step = entry.dagster_event.step_key
            if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                started[step] = entry.timestamp
            elif step in started:
                pool = "clickhouse" if step.startswith("clickhouse_") else "rpc" if step in RPC_STEPS else None
                if pool:
                    intervals[pool].append((started.pop(step), entry.timestamp))
    return {pool: round(merged_length(spans) / wall, 3) for pool, spans in intervals.items()}


RPC_STEPS = {"blocks_transactions_logs", "tokens", "dex_pools", "atomic_transactions", "atomic_inputs_outputs"}


def merged_length(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


class ProcessTreeCpu:
    """CPU seconds of a process and all its descendants, summed over every process seen (a finished process
    counts with what it had at its last sample: steps live seconds, sampled every POLL_S)."""

    def __init__(self) -> None:
        self.last: dict[tuple[int, str], float] = {}

    def sample(self, root: int | None) -> None:
        if root is None:
            return
        for pid in [root, *descendants(root)]:
            try:
                start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
                self.last[(pid, start)] = cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue

    @property
    def total(self) -> float:
        return sum(self.last.values())


def descendants(root: int) -> list[int]:
    """Every process under `root` (children, their children…)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def service_cpu(service) -> float:
    pid = service.pid()
    return cpu_seconds(pid) if pid else 0.0


def report(results: dict[str, dict]) -> None:
    print(f"\n{'concurrent runs':18}{'days/hour':>10}{'wall s':>9}{'run s (median)':>16}{'clickhouse busy':>17}"
          f"{'rpc busy':>10}{'our CPU s':>11}{'S3 CPU s':>10}{'load':>7}")
    for concurrency, r in results.items():
        print(f"{concurrency:18}{r['days_per_hour']:>10}{r['wall_s']:>9}{r['run_s']['median']:>16}"
              f"{r['pool_busy']['clickhouse']:>17.0%}{r['pool_busy']['rpc']:>10.0%}"
              f"{r['cpu_s']['runs and daemon']:>11}{r['cpu_s']['S3 (SeaweedFS)']:>10}"
              f"{r['load_average_1min']['mean']:>7}")
    print("\nwritten to benchmarks/results/scale.json")


if __name__ == "__main__":
    from avax_assets_dev.local.services import run_stopping_what_it_starts

    # however the run ends, no service it started outlives it
    run_stopping_what_it_starts(main, "backfill", keep_on_success=False)
