"""The chain pipeline measured side by side with the physical limit, cryo, ethereum-etl and the raw engines.

One run, on the local services and a devchain of the chosen profile; every comparison is interleaved and
repeated (median of --repeats), so the ratios (ours ÷ theirs, time) mean something on any machine:

  extract_vs_bytes   blocks + transactions + receipts + logs: ours (JSON-RPC → checked Arrow → Parquet spools,
                     in one pass of full blocks and receipts, as the Dagster step) ÷ a bytes-only fetch of the
                     same calls at the same concurrency (no JSON parse)
  extract_vs_cryo    ÷ cryo (PyPI `cryo`, Rust) over the same blocks, in a side venv
  extract_vs_etl     ÷ ethereum-etl 2.4.2 (needs Python 3.10), in a side venv
  traces_vs_raw      internal transactions ÷ the same debug_traceBlockByNumber calls, raw
  kafka_vs_raw       the transactions partition published (one transaction) ÷ a plain idempotent producer
                     of the same keys and pre-encoded values
  clickhouse_vs_raw  the stored transactions object loaded (staging + REPLACE PARTITION) ÷ a raw
                     `INSERT … SELECT FROM s3()` of the same object
  memory_10x         peak RSS of extract (the step: blocks, transactions and logs) → Parquet → Kafka →
                     ClickHouse (the transactions) over 10× the blocks ÷ over 1×, each in a process of its own

    uv run python benchmarks/chain_pipeline.py --profile dense [--repeats 3]

Writes benchmarks/results/latest.json (ratios, and the rows and seconds behind each).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from confluent_kafka import Producer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avax_assets.chain.datasets import INTERNAL_TRANSACTIONS, TRANSACTIONS  # noqa: E402
from avax_assets.chain.extract import EXTRACTIONS, chunk_extractor, in_chunks  # noqa: E402
from avax_assets.chain.reader import ChainReader  # noqa: E402
from avax_assets.chain.rpc import JsonRpcClient  # noqa: E402
from avax_assets.core.chdb import chdb_client  # noqa: E402
from avax_assets.core.clickhouse import ClickHouseWarehouse, create_table_sql  # noqa: E402
from avax_assets.core.days import BlockRange  # noqa: E402
from avax_assets.core.kafka import KafkaPublisher, encode_batch  # noqa: E402
from avax_assets.core.lake import Lake  # noqa: E402
from avax_assets.chain.settings import RPC, RpcSettings  # noqa: E402
from avax_assets.core.lake import S3Settings  # noqa: E402
from avax_assets.core.processes import collecting_less_often  # noqa: E402
from avax_assets.core.spool import spool_together  # noqa: E402
from avax_assets_dev.devchain.generator import DevchainSpec  # noqa: E402
from avax_assets_dev.local.services import LocalStack, run_stopping_what_it_starts  # noqa: E402

HOME = REPO / ".avax-assets" / "bench"
PROFILES = {
    "default": DevchainSpec(seed=3, days=1, blocks_per_day=1000, max_txs_per_block=8),
    # ≥ 100k transactions and ≥ 150k logs in the day: the random mix plus 42 pool swaps (4 logs each) a block
    "dense": DevchainSpec(seed=3, days=1, blocks_per_day=2000, max_txs_per_block=16, swaps_per_block=42),
}
CHAIN_DATASETS = EXTRACTIONS[:3]  # blocks, transactions, logs
TRACED_BLOCKS = 100  # traces of the first blocks only: a dense day's traces take the node many minutes
# The memory probe's 1× partition (10× is ten times as many blocks), in chunks of MEMORY_CHUNK_BLOCKS so
# that even 1× fills the extraction pipeline (the chunk being written and CHUNKS_AHEAD being fetched).
MEMORY_BLOCKS = 200
MEMORY_CHUNK_BLOCKS = 50


def timed(fn: Callable) -> tuple[object, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the contenders -----------------------------------------------------------------------------

class Bench:
    def __init__(self, stack: LocalStack, blocks: BlockRange, day: str, args, chdb: Path = HOME / "chdb") -> None:
        self.stack, self.blocks, self.day, self.args = stack, blocks, day, args
        self.settings = RpcSettings(url=stack.anvil.url, batch_size=args.batch_size, concurrency=args.concurrency,
                                    chunk_blocks=args.chunk_blocks)
        creds = stack.s3.credentials()
        self.creds = creds
        self.lake = Lake("s3://avax-bench", S3Settings(stack.s3.endpoint, creds["access_key_id"],
                                                       creds["secret_access_key"]))
        self.kafka = KafkaPublisher({"bootstrap.servers": f"127.0.0.1:{stack.kafka.port}"})
        self.warehouse = ClickHouseWarehouse(chdb_client(str(chdb)), "bench", reads_lake=True)

    def step_spools(self, extractions=CHAIN_DATASETS, blocks: BlockRange | None = None) -> dict:
        """The datasets' partition extracted into their Parquet spools in one step, as the Dagster step that
        extracts them does (blocks, transactions and logs: one pass of full blocks and receipts; the step's
        collector setting)."""
        with JsonRpcClient(self.settings) as client, collecting_less_often():
            work = chunk_extractor(tuple(extractions), self.day, ChainReader(client))
            chunks = in_chunks(work, "bench", self.day, blocks or self.blocks, self.args.chunk_blocks)
            return spool_together([e.dataset for e in extractions], self.day, chunks)

    def ours_extract(self, extractions=CHAIN_DATASETS, blocks: BlockRange | None = None) -> dict[str, int]:
        spools = self.step_spools(extractions, blocks)
        for spooled in spools.values():
            spooled.discard()
        return {name: spooled.rows for name, spooled in spools.items()}

    def bytes_fetch(self, step: str = "chain", blocks: BlockRange | None = None) -> int:
        """The same calls at the same concurrency (requests in flight), bodies read but not parsed."""
        blocks = blocks or self.blocks
        concurrency = self.args.concurrency

        def calls_for(chunk: range) -> list:
            bodies = [("eth_getBlockByNumber", [hex(n), True]) for n in chunk]
            receipts = [("eth_getBlockReceipts", [hex(n)]) for n in chunk]
            if step == "chain":  # blocks, transactions and logs
                return bodies + receipts
            headers = [("eth_getBlockByNumber", [hex(n), False]) for n in chunk]
            traces = [("debug_traceBlockByNumber", [hex(n), {"tracer": "callTracer"}]) for n in chunk]
            return headers + receipts + traces

        def post(calls: list) -> int:
            body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
            return len(http.post(self.stack.anvil.url, json=body).content)

        size = 0
        with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as http, \
                ThreadPoolExecutor(concurrency) as pool:
            requests = []
            for chunk in blocks.chunks(self.args.chunk_blocks):
                calls = calls_for(chunk)
                traces = [c for c in calls if c[0] == "debug_traceBlockByNumber"]
                calls = [c for c in calls if c[0] != "debug_traceBlockByNumber"]
                requests += [calls[i:i + self.args.batch_size] for i in range(0, len(calls), self.args.batch_size)]
                requests += [traces[i:i + RPC.trace_batch_size]
                             for i in range(0, len(traces), RPC.trace_batch_size)]
            size += sum(pool.map(post, requests))
        return size

    def cryo(self, python: Path) -> None:
        out = Path(tempfile.mkdtemp(prefix="cryo-"))
        try:
            freeze_with_cryo(python, self.stack.anvil.url, self.blocks, out, self.args.concurrency,
                             self.args.chunk_blocks)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def ethereum_etl(self, etl: Path) -> None:
        out = Path(tempfile.mkdtemp(prefix="etl-"))
        try:
            export_with_ethereum_etl(etl, self.stack.anvil.url, self.blocks, out, self.args.batch_size,
                                     self.args.concurrency)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    # --- the sinks, on the stored transactions partition ---

    def spooled_transactions(self):
        """The transactions partition as the Dagster step spools it: with blocks and logs, from one pass
        (their spools discarded)."""
        spools = self.step_spools()
        for name, spooled in spools.items():
            if name != TRANSACTIONS.name:
                spooled.discard()
        return spools[TRANSACTIONS.name]

    def plain_produce(self, topic: str, spooled) -> None:
        encoded = [encode_batch(TRANSACTIONS, b) for b in spooled.iter_batches()]  # not timed: pre-encoded
        producer = Producer({"bootstrap.servers": f"127.0.0.1:{self.stack.kafka.port}", "linger.ms": 20,
                             "compression.type": "lz4", "enable.idempotence": True, "acks": "all"})

        def produce() -> None:
            for keys, values in encoded:
                for key, value in zip(keys, values, strict=True):
                    while True:
                        try:
                            producer.produce(topic, value=value, key=key)
                            break
                        except BufferError:
                            producer.poll(0.2)
                producer.poll(0)
            assert producer.flush(120) == 0

        return timed(produce)[1]

    def raw_clickhouse(self, path: str) -> None:
        raw = f"{TRANSACTIONS.table}_raw"
        self.warehouse.client.command(f"DROP TABLE IF EXISTS bench.{raw}")
        self.warehouse.client.command(create_table_sql(TRANSACTIONS, "bench", raw))
        self.warehouse.client.command(
            f"INSERT INTO bench.{raw} SELECT * FROM s3({{url:String}}, {{key:String}}, {{secret:String}}, 'Parquet')",
            parameters={"url": f"{self.stack.s3.endpoint}/{path.removeprefix('s3://')}",
                        "key": self.creds["access_key_id"], "secret": self.creds["secret_access_key"]})


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Every contender once per round, in a rotating order; seconds per contender."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            _, took = timed(contenders[name])
            seconds[name].append(round(took, 2))
            print(f"  round {round_ + 1} {name:14} {took:7.2f} s", flush=True)
    return seconds


def ratio(seconds: dict[str, list[float]], ours: str, theirs: str) -> float | None:
    if not seconds.get(theirs):
        return None
    return round(statistics.median(seconds[ours]) / statistics.median(seconds[theirs]), 3)


# --- the other tools, each in its side venv -----------------------------------------------------

CRYO_SCRIPT = ("import cryo, sys; cryo.freeze(['blocks', 'transactions', 'logs'], blocks=[sys.argv[1]], "
               "rpc=sys.argv[2], output_dir=sys.argv[3], max_concurrent_requests=int(sys.argv[4]), "
               "chunk_size=int(sys.argv[5]), no_verbose=True)")


def freeze_with_cryo(python: Path, url: str, blocks: BlockRange, out: Path, concurrency: int,
                     chunk_blocks: int) -> None:
    """cryo's blocks, transactions and logs of `blocks` from the node at `url`, as Parquet files in `out`."""
    subprocess.run([str(python), "-c", CRYO_SCRIPT, f"{blocks.first}:{blocks.last + 1}", url, str(out),
                    str(concurrency), str(chunk_blocks)], check=True, capture_output=True)


def export_with_ethereum_etl(etl: Path, url: str, blocks: BlockRange, out: Path, batch_size: int, concurrency: int,
                             traces: bool = False) -> None:
    """ethereum-etl's blocks.csv, txs.csv, receipts.csv and logs.json of `blocks` in `out`; with `traces`, its geth
    traces too (geth_traces.json, flattened into traces.csv)."""
    common = ["--provider-uri", url, "--batch-size", str(batch_size), "--max-workers", str(concurrency)]
    span = ["--start-block", str(blocks.first), "--end-block", str(blocks.last)]

    def run(*argv: str) -> None:
        subprocess.run([str(etl), *argv], check=True, capture_output=True)

    run("export_blocks_and_transactions", *span, *common, "--blocks-output", str(out / "blocks.csv"),
        "--transactions-output", str(out / "txs.csv"))
    run("extract_csv_column", "--input", str(out / "txs.csv"), "--column", "hash", "--output", str(out / "hashes.txt"))
    run("export_receipts_and_logs", "--transaction-hashes", str(out / "hashes.txt"), *common,
        "--receipts-output", str(out / "receipts.csv"), "--logs-output", str(out / "logs.json"))
    if traces:
        run("export_geth_traces", *span, *common, "--output", str(out / "geth_traces.json"))
        run("extract_geth_traces", "--input", str(out / "geth_traces.json"), "--output", str(out / "traces.csv"))


# --- side venvs ---------------------------------------------------------------------------------

def side_venv(name: str, python: str | None, requirement: str, executable: str) -> tuple[Path | None, str]:
    """A venv of its own under the bench home with the requirements (from the package registry)."""
    venv = HOME / f"{name}-venv"
    target = venv / "bin" / executable
    if target.exists():
        return target, "ready"
    if python is None:
        return None, f"skipped: no interpreter for {requirement}"
    try:
        subprocess.run(["uv", "venv", "-q", "--python", python, str(venv)], check=True, capture_output=True)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *requirement.split()],
                       check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return None, f"skipped: could not install {requirement} ({exc})"
    return target, "installed"


def python_310() -> str | None:
    """ethereum-etl 2.4 does not import on 3.11: a 3.10 interpreter from uv or pyenv, if there is one."""
    found = subprocess.run(["uv", "python", "find", "3.10"], capture_output=True, text=True)
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))
    return str(pyenv[-1]) if pyenv else None


# --- memory, each size in a process of its own --------------------------------------------------

def memory_probe(blocks: int) -> dict:
    """Run this file again with --memory-probe: one partition of `blocks` blocks extracted by the step
    (blocks, transactions and logs), its transactions through Parquet → Kafka → ClickHouse; its peak RSS."""
    out = subprocess.run([sys.executable, __file__, "--memory-probe", str(blocks), "--chunk-blocks",
                          str(MEMORY_CHUNK_BLOCKS)], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_memory(day_blocks: int) -> dict:
    print("memory:", flush=True)
    small, large = memory_probe(MEMORY_BLOCKS), memory_probe(min(10 * MEMORY_BLOCKS, day_blocks - 2))
    return {"memory_10x": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3), "memory": {"1x": small, "10x": large}}


def run_memory_probe(blocks: int, args) -> None:
    stack = LocalStack(HOME, kafka_port=29092, s3_port=48333, anvil_port=28545)
    summary = json.loads((HOME / "devchain.json").read_text())
    first = summary["blocks_by_day"][summary["spec"]["start"]][0] + 2
    # an empty engine directory of its own (the benchmark's process holds its own one): what an earlier
    # probe stored there would weigh on this probe's start
    engine = HOME / f"chdb-memory-{blocks}"
    shutil.rmtree(engine, ignore_errors=True)
    bench = Bench(stack, BlockRange(first, first + blocks - 1), summary["spec"]["start"], args, chdb=engine)
    stages = {"start": round(peak_rss_mb(), 1)}
    spooled = bench.spooled_transactions()
    stages["extract"] = round(peak_rss_mb(), 1)
    path = bench.lake.put_atomic(spooled.path, f"memory_{blocks}", bench.day)
    bench.kafka.publish(TRANSACTIONS, bench.day, spooled.iter_batches(), "bench-memory")
    stages["parquet + kafka"] = round(peak_rss_mb(), 1)
    part = bench.lake.stored(f"memory_{blocks}", bench.day).conformed_to(TRANSACTIONS)
    with bench.warehouse.session():
        bench.warehouse.replace_partition_from(TRANSACTIONS, dt.date.fromisoformat(bench.day), part.parquet_source())
    stages["clickhouse"] = round(peak_rss_mb(), 1)
    spooled.discard()
    print(json.dumps({"blocks": blocks, "rows": spooled.rows, "path": path, "peak_rss_mb": round(peak_rss_mb(), 1),
                      "peak_after_stage_mb": stages}))


# --- the run ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=list(PROFILES), default="default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=RPC.batch_size)
    parser.add_argument("--concurrency", type=int, default=RPC.concurrency)
    parser.add_argument("--chunk-blocks", type=int, default=RPC.chunk_blocks)
    parser.add_argument("--only-memory", action="store_true",
                        help="measure memory again and update latest.json (the services must be up)")
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        run_memory_probe(args.memory_probe, args)
        return
    if args.only_memory:
        latest = REPO / "benchmarks" / "results" / "latest.json"
        results = json.loads(latest.read_text())
        results.update(measure_memory(results["devchain"]["blocks"]))
        latest.write_text(json.dumps(results, indent=1) + "\n")
        report(results)
        return

    stack = LocalStack(HOME, kafka_port=29092, s3_port=48333, anvil_port=28545)
    stack.up()
    spec = PROFILES[args.profile]
    summary, generate_s = timed(lambda: stack.devchain(spec))
    day = spec.start.isoformat()
    first, last = summary.blocks_by_day[day]
    blocks = BlockRange(first + 2, last)  # after the setup blocks (deployments, mints): the day's traffic
    print(f"devchain ({args.profile}): blocks {blocks.first}..{blocks.last}, {summary.transactions} transactions "
          f"(ready in {generate_s:.0f} s)", flush=True)
    bench = Bench(stack, blocks, day, args)

    cryo, cryo_state = side_venv("cryo", sys.executable, "cryo==0.3.2", "python")
    # ethereum-etl's web3 imports pkg_resources, which setuptools 81 dropped
    etl, etl_state = side_venv("etl", python_310(), "ethereum-etl==2.4.2 setuptools<81", "ethereumetl")
    print(f"cryo: {cryo_state}; ethereum-etl: {etl_state}", flush=True)

    rows = bench.ours_extract()  # warm-up: imports, connections, the node's caches; and the row counts
    print(f"rows: {rows}", flush=True)
    print("extraction (blocks + transactions + receipts + logs):", flush=True)
    extraction = interleaved({"ours": bench.ours_extract, "bytes": bench.bytes_fetch,
                              **({"cryo": lambda: bench.cryo(cryo)} if cryo else {}),
                              **({"ethereum-etl": lambda: bench.ethereum_etl(etl)} if etl else {})}, args.repeats)

    traced = BlockRange(blocks.first, min(blocks.first + TRACED_BLOCKS - 1, blocks.last))
    print(f"traces ({traced.count} blocks):", flush=True)
    traces = interleaved({"ours": lambda: bench.ours_extract(EXTRACTIONS[3:], traced),
                          "raw": lambda: bench.bytes_fetch("internal_transactions", traced)}, args.repeats)
    trace_rows = bench.ours_extract(EXTRACTIONS[3:], traced)[INTERNAL_TRANSACTIONS.name]

    spooled = bench.spooled_transactions()
    path = bench.lake.put_atomic(spooled.path, TRANSACTIONS.lake_folder, day)
    stored = bench.lake.open_partition(TRANSACTIONS, day)
    print(f"kafka ({spooled.rows} transactions):", flush=True)
    kafka = interleaved({"ours": lambda: bench.kafka.publish(TRANSACTIONS, day, spooled.iter_batches(), "bench"),
                         "raw": lambda: bench.plain_produce(TRANSACTIONS.topic + ".raw", spooled)}, args.repeats)
    print("clickhouse:", flush=True)
    load_day = dt.date.fromisoformat(day)
    def held(load):  # each side opens the embedded engine once, as a Dagster load does per day
        def run():
            with bench.warehouse.session():
                load()
        return run

    clickhouse = interleaved({"ours": held(lambda: bench.warehouse.replace_partition_from(TRANSACTIONS, load_day,
                                                                                        stored.parquet_source())),
                              "raw": held(lambda: bench.raw_clickhouse(path))}, args.repeats)
    spooled.discard()

    memory = measure_memory(blocks.count)
    results = {
        "profile": args.profile, "machine": {"cpus": os.cpu_count()},
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "devchain": {"blocks": blocks.count, "transactions": rows["transactions"], "logs": rows["logs"],
                     "generate_s": round(generate_s, 1)},
        "settings": {"batch_size": args.batch_size, "concurrency": args.concurrency, "chunk_blocks": args.chunk_blocks},
        "extract_vs_bytes": ratio(extraction, "ours", "bytes"),
        "extract_vs_cryo": ratio(extraction, "ours", "cryo"),
        "extract_vs_etl": ratio(extraction, "ours", "ethereum-etl"),
        "traces_vs_raw": ratio(traces, "ours", "raw"),
        "kafka_vs_raw": ratio(kafka, "ours", "raw"),
        "clickhouse_vs_raw": ratio(clickhouse, "ours", "raw"),
        **memory,
        "seconds": {"extraction": extraction, "traces": traces, "kafka": kafka, "clickhouse": clickhouse},
        "rows": {**rows, "internal_transactions (traced blocks)": trace_rows, "kafka_messages": spooled.rows},
        "side_venvs": {"cryo": cryo_state, "ethereum-etl": etl_state},
    }
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
    report(results)


def report(results: dict) -> None:
    print(f"\n{'ratio (ours ÷ theirs, time)':32}{'value':>8}   target")
    targets = {"extract_vs_bytes": "≤ 1.15", "extract_vs_cryo": "< 1.0", "extract_vs_etl": "< 1.0",
               "traces_vs_raw": "≤ 1.15", "kafka_vs_raw": "≤ 1.25", "clickhouse_vs_raw": "≤ 1.25",
               "memory_10x": "≤ 1.3"}
    for key, target in targets.items():
        value = results[key]
        print(f"{key:32}{'-' if value is None else f'{value:.2f}':>8}   {target}")
    print("\nwritten to benchmarks/results/latest.json")


if __name__ == "__main__":
    # a failed or interrupted run stops the services it started; one that ends well leaves them up for the next
    run_stopping_what_it_starts(main, "chain_pipeline")
