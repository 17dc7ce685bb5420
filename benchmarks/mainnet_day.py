"""A mainnet-density day end to end, as Dagster runs it in one process, against a node that is not the bottleneck
(issue 32): the synthetic node (avax_assets_dev/local/synthetic_node.py), its days made ahead into its store.

  the day        the chain job's assets for one UTC day, traces left out (internal_transactions: a benchmark of
                 their own): blocks, transactions and logs in one step → Parquet on the local S3 → Kafka; the
                 transfers and events decoded from the stored logs; tokens and DEX pools read with eth_call;
                 the atomic transactions; every ClickHouse load (embedded engine, audits, swap). One
                 `dagster.materialize` in a process of its own: wall time, CPU seconds per stage (and of them
                 the Parquet uploads and Kafka publishing), rows and rows/s, peak RSS, spool and lake bytes
  memory         the same at --baseline scale, in a process of its own: peak RSS of the day ÷ the baseline's
  vs cryo        our extraction of the day's blocks, transactions and logs ÷ cryo's (PyPI `cryo`, Rust, in the
                 chain benchmark's side venv) on the same node, the same blocks and concurrency; interleaved,
                 median of --repeats; cryo's rows are counted against ours (it reads the node too)
  headroom       the node serving our extraction's calls ÷ our extraction (benchmarks/node_headroom.py), on the
                 baseline day

--scale 1.0 (the default) is a mainnet day: 43,200 blocks, about 2.5 M transactions and 8 M logs. A fraction
keeps every block as dense and makes fewer of them (0.1: 4,320 blocks, one every 20 s).

    uv run python benchmarks/mainnet_day.py [--scale 1.0] [--baseline 0.1] [--repeats 3] [--no-cryo]

Writes benchmarks/results/scale.json. Its keys are what was run: `scale` and `baseline_scale`; the day's own
figures under `day` and `baseline_day`; `mainnet_day_s` and `mainnet_day_peak_rss_mb` only for a whole day
(--scale 1), `memory_1x_vs_01x` only for --scale 1 against --baseline 0.1 (else `memory_<scale>x_vs_<baseline>x`);
`vs_cryo_fast_node` (ours ÷ cryo, time) and `synthetic_node_headroom` (its rate ÷ ours). For a fraction of a day,
`projection` extends the two measured sizes linearly to a whole day, and says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from node_headroom import (HOME, NODE_PORT, RESULTS, Node, add_rpc_arguments, cpu_seconds, day_blocks,  # noqa: E402
                           measure_headroom, ours_extract, own_cpu, rpc_settings)

# the figures of the other scale benchmarks (backfill.py, traces.py) in results/scale.json, kept as they are;
# the rest is this benchmark's, written again whole (a key is there only when this run measured it)
OTHERS = ("backfill", "backfill_days_per_hour", "traces", "traces_vs_raw_fast_node", "synthetic_node_readers",
          "backfill_30_days", "backfill_30_days_attempt")  # the last two: recorded by hand from the run storage

from avax_assets_dev.local.services import Kafka, LocalStack  # noqa: E402
from avax_assets_dev.local.synthetic_chain import ChainSpec  # noqa: E402

KAFKA_PORT, S3_PORT = 29121, 48421  # apart from the chain benchmark's (29092, 48333) and the tests'
TRACES = {"internal_transactions", "clickhouse_internal_transactions"}
STAGES = (  # (stage, which step keys are in it)
    ("extract: blocks + transactions + logs", lambda step: step == "blocks_transactions_logs"),
    ("ClickHouse loads", lambda step: step.startswith("clickhouse_")),
    ("eth_call reads: tokens, dex_pools", lambda step: step in ("tokens", "dex_pools")),
    ("atomic transactions", lambda step: step.startswith("atomic_")),
    ("decoded from logs: transfers, events", lambda step: True),
)
SAMPLE_S = 0.2


# --- the day, in a process of its own -------------------------------------------------------------

class Sampler:
    """This process's CPU seconds, resident memory and spool bytes, every SAMPLE_S, in a thread."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir, self.samples, self._stop = spool_dir, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), own_cpu(), rss_mb(), directory_bytes(self.spool_dir), rss_mb("RssAnon")))
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), own_cpu(), rss_mb(), directory_bytes(self.spool_dir), rss_mb("RssAnon")))

    def cpu_at(self, when: float) -> float:
        """CPU seconds at `when`, interpolated between the samples around it."""
        before = max((s for s in self.samples if s[0] <= when), default=self.samples[0], key=lambda s: s[0])
        after = min((s for s in self.samples if s[0] >= when), default=self.samples[-1], key=lambda s: s[0])
        if after[0] == before[0]:
            return before[1]
        return before[1] + (after[1] - before[1]) * (when - before[0]) / (after[0] - before[0])

    def peak_rss_between(self, start: float, end: float, anonymous: bool = False) -> float:
        """The highest resident memory sampled in the interval; `anonymous`: without the mapped files (the
        libraries' code, chDB's ~220 MB of it)."""
        return max((s[4 if anonymous else 2] for s in self.samples if start <= s[0] <= end), default=0.0)


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def directory_bytes(path: Path) -> int:
    try:
        return sum(entry.stat().st_size for entry in os.scandir(path) if entry.is_file())
    except FileNotFoundError:
        return 0


def timed_method(cls: type, name: str, kind: str, intervals: list) -> None:
    """Record the wall and CPU interval of every call of cls.name (a benchmark's probe: steps run one at a time,
    so the process's CPU in the interval is the call's)."""
    original = getattr(cls, name)

    def timed(*args, **kwargs):
        wall, cpu = time.time(), own_cpu()
        try:
            return original(*args, **kwargs)
        finally:
            intervals.append((kind, wall, time.time(), own_cpu() - cpu))

    setattr(cls, name, timed)


def run_day(scale: float) -> None:
    """The day's materialization in this process (its environment set by the parent); its figures as JSON."""
    import dagster as dg

    from avax_assets.catalogue import Catalogue, build_resources
    from avax_assets.core.kafka import KafkaPublisher
    from avax_assets.core.lake import Lake, S3Settings

    spec = ChainSpec(scale=scale)
    day = spec.start.isoformat()
    intervals: list = []
    timed_method(Lake, "put_atomic", "parquet → S3", intervals)
    timed_method(KafkaPublisher, "publish", "Kafka", intervals)
    assets = Catalogue().scope("chain")
    selection = [key for asset in assets for key in asset.keys if key.path[-1] not in TRACES]
    instance = dg.DagsterInstance.ephemeral()
    resources = build_resources()
    started_rss = rss_mb()
    with Sampler(Path(os.environ["AVAX_SPOOL_DIR"])) as sampler:
        started, cpu = time.time(), own_cpu()
        result = dg.materialize(assets, selection=selection, partition_key=day, resources=resources,
                                instance=instance, raise_on_error=False)
        wall, cpu = time.time() - started, own_cpu() - cpu
    if not result.success:
        failed = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
        raise SystemExit(f"the day failed at {failed.step_key}: {failed.step_failure_data.error.message.strip()}")
    steps = step_figures(instance, result.run_id, sampler, intervals)
    rows = {event.asset_key.path[-1]: event.materialization.metadata["parquet_rows"].value
            for event in result.get_asset_materialization_events()
            if "parquet_rows" in event.materialization.metadata}
    lake = Lake(os.environ["AVAX_LAKE_ROOT"], S3Settings(os.environ["AVAX_S3_ENDPOINT_URL"],
                                                         os.environ["AVAX_S3_ACCESS_KEY_ID"],
                                                         os.environ["AVAX_S3_SECRET_ACCESS_KEY"]))
    print(json.dumps({
        "scale": scale, "blocks": spec.blocks_per_day, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "peak_rss_mb": round(rss_mb("VmHWM"), 1), "rss_before_run_mb": round(started_rss, 1),
        "peak_anonymous_mb": round(max(s[4] for s in sampler.samples), 1),
        "spool_peak_mb": round(max(s[3] for s in sampler.samples) / 2**20, 1),
        "lake_mb": round(lake_bytes(lake) / 2**20, 1),
        "rows": rows, "rows_total": sum(rows.values()),
        "rows_per_s": round(sum(rows.values()) / wall), "transactions_per_s": round(rows.get("transactions", 0) / wall),
        "stages": stages_of(steps, intervals), "steps": steps,
    }))


def lake_bytes(lake) -> int:
    root = lake.root.removeprefix("s3://")
    return sum(info["size"] for info in lake.fs.find(root, detail=True).values())


def step_figures(instance, run_id: str, sampler: Sampler, intervals: list) -> dict:
    """Each step's wall and CPU seconds and the peak RSS while it ran (from the run's event log)."""
    windows: dict[str, list] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            windows[event.step_key] = [entry.timestamp, None]
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in windows:
            windows[event.step_key][1] = entry.timestamp
    figures = {}
    for step, (start, end) in sorted(windows.items(), key=lambda item: item[1][0]):
        inside = [i for i in intervals if start <= i[1] and i[2] <= end]
        figures[step] = {"wall_s": round(end - start, 2),
                         "cpu_s": round(sampler.cpu_at(end) - sampler.cpu_at(start), 2),
                         "parquet_to_s3_cpu_s": round(sum(i[3] for i in inside if i[0] == "parquet → S3"), 2),
                         "kafka_cpu_s": round(sum(i[3] for i in inside if i[0] == "Kafka"), 2),
                         "peak_rss_mb": round(sampler.peak_rss_between(start, end), 1),
                         "peak_anonymous_mb": round(sampler.peak_rss_between(start, end, anonymous=True), 1)}
    return figures


def stages_of(steps: dict, intervals: list) -> dict:
    """CPU and wall seconds per stage; the Parquet uploads and Kafka publishing apart from the steps they ran in."""
    stages = {name: {"wall_s": 0.0, "cpu_s": 0.0, "steps": 0} for name, _ in STAGES}
    for step, figures in steps.items():
        name = next(name for name, belongs in STAGES if belongs(step))
        stages[name]["wall_s"] += figures["wall_s"]
        stages[name]["cpu_s"] += figures["cpu_s"] - figures["parquet_to_s3_cpu_s"] - figures["kafka_cpu_s"]
        stages[name]["steps"] += 1
    for kind in ("parquet → S3", "Kafka"):
        stages[kind] = {"wall_s": sum(i[2] - i[1] for i in intervals if i[0] == kind),
                        "cpu_s": sum(i[3] for i in intervals if i[0] == kind),
                        "calls": sum(i[0] == kind for i in intervals)}
    return {name: {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
            for name, figures in stages.items()}


# --- the parent: services, nodes, the days, cryo -------------------------------------------------

def day_environment(stack: LocalStack, node: Node, scale: float) -> dict[str, str]:
    """Where the day's process finds the node and the services: a bucket, an engine directory and a spool of its own."""
    day = node.spec.start.isoformat()
    bucket = f"avax-scale-{str(scale).replace('.', '-')}-{uuid.uuid4().hex[:6]}"
    stack.s3.ensure_bucket(bucket)
    engine, spool = HOME / f"chdb-{scale}", HOME / f"spool-{scale}"
    shutil.rmtree(engine, ignore_errors=True)
    shutil.rmtree(spool, ignore_errors=True)
    return {**os.environ, **stack.environment(bucket=bucket), "AVAX_ENV_FILE": "", "AVAX_RPC_URL": node.url,
            "AVAX_CLICKHOUSE_CHDB_PATH": str(engine), "AVAX_SPOOL_DIR": str(spool), "AVAX_HOME": str(HOME),
            "AVAX_CHAIN_START_DATE": day, "AVAX_CHAIN_END_DATE": day, "AVAX_SNAPSHOT_START_DATE": day,
            "AVAX_SNAPSHOT_END_DATE": day, "PYTHONWARNINGS": "ignore"}


def the_day(stack: LocalStack, node: Node) -> dict:
    """The day in a process of its own; with the CPU seconds the services spent meanwhile (their own processes)."""
    scale = node.spec.scale
    print(f"day at scale {scale} ({node.spec.blocks_per_day} blocks), in its own process ...", flush=True)
    services = {"node": node.server, "S3 (SeaweedFS)": stack.s3, "Kafka (Tansu)": stack.kafka}
    before, load = {name: cpu_seconds(s.pid()) for name, s in services.items()}, os.getloadavg()[0]
    done = subprocess.run([sys.executable, __file__, "--run-day", str(scale)], env=day_environment(stack, node, scale),
                          cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the day at scale {scale} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["services_cpu_s"] = {name: round(cpu_seconds(s.pid()) - before[name], 1) for name, s in services.items()}
    figures["load_average_1min"] = {"before": round(load, 1), "after": round(os.getloadavg()[0], 1)}
    figures["node_made_ahead_s"] = node.prime_s
    print(f"  {figures['wall_s']} s, {figures['cpu_s']} CPU-s, peak RSS {figures['peak_rss_mb']} MB, "
          f"{figures['rows_total']:,} rows", flush=True)
    return figures


def cryo_python() -> tuple[Path | None, str]:
    """The chain benchmark's cryo side venv (installed there on first use)."""
    from chain_pipeline import side_venv

    return side_venv("cryo", sys.executable, "cryo==0.3.2", "python")


def run_cryo(python: Path, node: Node, settings, count: bool = False) -> dict[str, int] | None:
    """cryo over the node's day (its rows per dataset when `count`)."""
    import polars as pl
    from chain_pipeline import freeze_with_cryo

    blocks = day_blocks(node.spec)
    out = Path(tempfile.mkdtemp(prefix="cryo-", dir=HOME))
    try:
        freeze_with_cryo(python, node.url, blocks, out, settings.concurrency, settings.chunk_blocks)
        if not count:
            return None
        return {name: pl.scan_parquet(str(out / f"*__{name}__*.parquet")).select(pl.len()).collect().item()
                for name in ("blocks", "transactions", "logs")}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def against_cryo(node: Node, settings, repeats: int) -> dict:
    python, state = cryo_python()
    if python is None:
        print(f"cryo: {state}", flush=True)
        return {"cryo": state}
    blocks, day = day_blocks(node.spec), node.spec.start.isoformat()
    ours_rows = ours_extract(node.url, day, blocks, settings)
    cryo_rows = run_cryo(python, node, settings, count=True)
    print(f"cryo ({state}) read the day: {cryo_rows} (ours {ours_rows}); ours vs cryo:", flush=True)
    seconds: dict[str, list] = {"ours": [], "cryo": []}
    cpu: dict[str, list] = {"ours": [], "cryo": [], "node": []}
    for round_ in range(repeats):
        for name in (("ours", "cryo") if round_ % 2 == 0 else ("cryo", "ours")):
            mine, children, node_cpu = own_cpu(), children_cpu(), node.cpu()
            started = time.perf_counter()
            ours_extract(node.url, day, blocks, settings) if name == "ours" else run_cryo(python, node, settings)
            seconds[name].append(round(time.perf_counter() - started, 2))
            cpu[name].append(round(own_cpu() - mine if name == "ours" else children_cpu() - children, 2))
            cpu["node"].append(round(node.cpu() - node_cpu, 2))
            print(f"  round {round_ + 1} {name:5} {seconds[name][-1]:7.2f} s, {cpu[name][-1]:6.2f} CPU-s", flush=True)
    return {"vs_cryo_fast_node": round(statistics.median(seconds["ours"]) / statistics.median(seconds["cryo"]), 3),
            "cryo": {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "version": "0.3.2",
                     "side_venv": state, "scale": node.spec.scale, "blocks": blocks.count,
                     "seconds": seconds, "cpu_s": cpu,
                     "cpu_ratio": round(statistics.median(cpu["ours"]) / statistics.median(cpu["cryo"]), 3),
                     "rows": {"ours": ours_rows, "cryo": cryo_rows}, "same_rows": ours_rows == cryo_rows}}


def children_cpu() -> float:
    """CPU seconds of this process's finished children (cryo's runs)."""
    times = os.times()
    return times.children_user + times.children_system


def scale_key(scale: float) -> str:
    return f"{scale:g}".replace(".", "") if scale < 1 else f"{scale:g}"


def projection(day: dict, baseline: dict) -> dict:
    """The two measured sizes extended linearly to a whole day (a fixed part and a part per block)."""
    def line(field_of) -> float:
        per_scale = (field_of(day) - field_of(baseline)) / (day["scale"] - baseline["scale"])
        return round(field_of(day) + per_scale * (1 - day["scale"]), 1)

    return {"mainnet_day_s": line(lambda d: d["wall_s"]), "cpu_s": line(lambda d: d["cpu_s"]),
            "stage_cpu_s": {stage: line(lambda d, stage=stage: d["stages"][stage]["cpu_s"])
                            for stage in day["stages"]},
            "services_cpu_s": {name: line(lambda d, name=name: d["services_cpu_s"][name])
                               for name in day["services_cpu_s"]},
            "lake_mb": line(lambda d: d["lake_mb"]),
            "method": f"linear through the measured scales {baseline['scale']} and {day['scale']} (time, CPU and "
                      "bytes each a fixed part plus a part per block), to scale 1: a projection, not a run; peak "
                      "memory is not projected (it is bounded by the chunks in flight, not by the day: see the "
                      "memory ratio)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="the day's blocks as a fraction of mainnet's")
    parser.add_argument("--baseline", type=float, default=0.1, help="the smaller day memory is compared with")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of ours vs cryo and of the headroom")
    parser.add_argument("--no-cryo", action="store_true", help="leave out the comparison with cryo (the last "
                        "one's figures are kept in the results)")
    parser.add_argument("--kafka-storage", choices=("memory", "s3"), default="memory", help="where the broker "
                        "(Tansu) keeps its topics: memory (default), a broker that is not the bottleneck; s3: the "
                        "local stack's, a write to SeaweedFS for every batch")
    parser.add_argument("--run-day", type=float, help=argparse.SUPPRESS)
    add_rpc_arguments(parser)
    args = parser.parse_args()
    if args.run_day is not None:
        run_day(args.run_day)
        return
    if args.baseline >= args.scale:
        raise SystemExit("--baseline must be smaller than --scale")
    settings = rpc_settings(args)
    stack = LocalStack(HOME, kafka_port=KAFKA_PORT, s3_port=S3_PORT)
    stack.kafka = Kafka("kafka", KAFKA_PORT, HOME, stack.s3, in_memory=args.kafka_storage == "memory")
    started = [s for s in (stack.s3, stack.kafka) if not (s.pid() and s.is_ready())]
    nodes = [Node(ChainSpec(scale=s), NODE_PORT + i) for i, s in enumerate((args.baseline, args.scale))]
    try:
        for service in (stack.s3, stack.kafka):
            service.start()
        for node in nodes:
            node.start()
        baseline, day = (the_day(stack, node) for node in nodes)
        cryo = {} if args.no_cryo else against_cryo(nodes[1], settings, args.repeats)
        print("synthetic node headroom (baseline day):", flush=True)
        headroom = measure_headroom(nodes[0], settings, args.repeats)
    finally:
        for node in nodes:
            node.stop()
        for service in started:
            service.stop()
    results = {"scale": args.scale, "baseline_scale": args.baseline,
               "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"cpus": os.cpu_count()}, "kafka_storage": args.kafka_storage,
               "settings": {"batch_size": settings.batch_size, "concurrency": settings.concurrency,
                            "chunk_blocks": settings.chunk_blocks},
               "day": day, "baseline_day": baseline}
    if args.scale == 1:
        results.update(mainnet_day_s=day["wall_s"], mainnet_day_peak_rss_mb=day["peak_rss_mb"])
    memory = round(day["peak_rss_mb"] / baseline["peak_rss_mb"], 3)
    results[f"memory_{scale_key(args.scale)}x_vs_{scale_key(args.baseline)}x"] = memory
    results.update(cryo)
    results.update(headroom)
    if args.scale < 1:
        results["projection"] = projection(day, baseline)
    # --no-cryo keeps the last comparison's figures (their time in cryo.at): extraction alone, the same code
    others = OTHERS + (("vs_cryo_fast_node", "cryo") if args.no_cryo else ())
    kept = {k: v for k, v in (json.loads(RESULTS.read_text()) if RESULTS.exists() else {}).items() if k in others}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**kept, **results}, indent=1) + "\n")
    report(results)


def report(results: dict) -> None:
    day, baseline = results["day"], results["baseline_day"]
    print(f"\n{'':44}{'scale ' + str(baseline['scale']):>14}{'scale ' + str(day['scale']):>14}")
    for label, key in (("wall s", "wall_s"), ("CPU s", "cpu_s"), ("peak RSS MB", "peak_rss_mb"),
                       ("rows", "rows_total"), ("rows/s", "rows_per_s"), ("transactions/s", "transactions_per_s"),
                       ("spool peak MB", "spool_peak_mb"), ("lake MB", "lake_mb")):
        print(f"{label:44}{baseline[key]:>14,}{day[key]:>14,}")
    for stage in day["stages"]:
        print(f"{'CPU s, ' + stage:44}{baseline['stages'][stage]['cpu_s']:>14,}{day['stages'][stage]['cpu_s']:>14,}")
    headline = ("vs_cryo_fast_node", "synthetic_node_headroom", "mainnet_day_s", "mainnet_day_peak_rss_mb")
    for key in sorted(k for k in results if k.startswith("memory_") or k in headline):
        print(f"{key:44}{results[key]:>28}")
    if "projection" in results:
        print(f"projected to a whole day: {results['projection']}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    from avax_assets_dev.local.services import run_stopping_what_it_starts

    # however the run ends, no service it started outlives it
    run_stopping_what_it_starts(main, "mainnet_day", keep_on_success=False)
