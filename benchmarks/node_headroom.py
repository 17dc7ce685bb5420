"""The synthetic node's headroom: how much faster it serves the calls of our extraction than the extraction
consumes them (issue 32 asks for at least 3×, so that what the scale benchmark measures is ours, not the node).

  serving   the calls of the Dagster step (full blocks and receipts in batches of --batch-size, the two
            neighbour headers of each chunk, --concurrency requests in flight), bodies read, not parsed
  ours      the step itself: blocks, transactions and logs extracted and proven into Parquet spools
  making    the generator making blocks on the fly, on one core (what the node's store saves)

Both serving and ours read the node's store (the day made ahead), over the same day's blocks, interleaved,
median of --repeats; the node runs in a process of its own (avax_assets_dev/local/synthetic_node.py), whose
CPU seconds are read from /proc.

    uv run python benchmarks/node_headroom.py [--scale 0.05] [--repeats 3]

Adds `synthetic_node_headroom` (serving ÷ ours, transactions a second) and its figures to
benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avax_assets.chain.extract import EXTRACTIONS, IN_FULL_BLOCKS, chunk_extractor, in_chunks  # noqa: E402
from avax_assets.chain.reader import ChainReader  # noqa: E402
from avax_assets.chain.rpc import JsonRpcClient  # noqa: E402
from avax_assets.chain.settings import RpcSettings  # noqa: E402
from avax_assets.core.days import BlockRange  # noqa: E402
from avax_assets.core.processes import collecting_less_often  # noqa: E402
from avax_assets.core.spool import spool_together  # noqa: E402
from avax_assets_dev.local.services import FixtureServer  # noqa: E402
from avax_assets_dev.local.synthetic_chain import ChainSpec, SyntheticChain  # noqa: E402

HOME = REPO / ".avax-assets" / "bench-scale"
STORE = HOME / "synthetic"
NODE_PORT = 28621  # the next scale's node takes the next port
RESULTS = REPO / "benchmarks" / "results" / "scale.json"
STEP = tuple(e for e in EXTRACTIONS if e.dataset in IN_FULL_BLOCKS)  # blocks, transactions, logs: one step


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class Node:
    """The synthetic node of a spec in a process of its own, its days made ahead into the store."""

    spec: ChainSpec
    port: int

    def __post_init__(self) -> None:
        args = ["--seed", str(self.spec.seed), "--scale", str(self.spec.scale), "--days", str(self.spec.days),
                "--start", self.spec.start.isoformat(), "--era", self.spec.era, "--store", str(STORE)]
        self.args = args
        self.server = FixtureServer(f"synthetic-{self.spec.scale}", self.port, HOME,
                                    "avax_assets_dev.local.synthetic_node", lambda: args)
        self.prime_s: float | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        """Make the days ahead (or find them made), then serve."""
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "avax_assets_dev.local.synthetic_node", *self.args, "--prime-only",
                        "--port", str(self.port)], check=True, cwd=REPO, capture_output=True)
        self.prime_s = round(time.monotonic() - started, 1)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def cpu(self) -> float:
        return cpu_seconds(self.server.pid())

    def stats(self) -> dict:
        return httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "synthetic_stats"}).json()["result"]


def day_blocks(spec: ChainSpec) -> BlockRange:
    blocks = spec.day_blocks(spec.start)
    return BlockRange(blocks.start, blocks.stop - 1)


def bytes_fetch(url: str, blocks: BlockRange, settings: RpcSettings) -> int:
    """The step's calls at its concurrency, bodies read but not parsed: their bytes."""
    def post(calls: list) -> int:
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        return len(http.post(url, json=body).content)

    requests = []
    for chunk in blocks.chunks(settings.chunk_blocks):
        neighbours = [("eth_getBlockByNumber", [hex(n), False]) for n in (chunk.start - 1, chunk.stop)]
        for method, params in (("eth_getBlockByNumber", lambda n: [hex(n), True]),
                               ("eth_getBlockReceipts", lambda n: [hex(n)])):
            calls = [(method, params(n)) for n in chunk]
            requests += [calls[i:i + settings.batch_size] for i in range(0, len(calls), settings.batch_size)]
        requests.append(neighbours)
    with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=settings.concurrency)) as http, \
            ThreadPoolExecutor(settings.concurrency) as pool:
        return sum(pool.map(post, requests))


def ours_extract(url: str, day: str, blocks: BlockRange, settings: RpcSettings) -> dict[str, int]:
    """The Dagster step's extraction of blocks, transactions and logs into their spools (then discarded), with
    the step's collector setting."""
    with JsonRpcClient(settings.model_copy(update={"url": url})) as client, collecting_less_often():
        work = chunk_extractor(STEP, day, ChainReader(client))
        spools = spool_together([e.dataset for e in STEP], day,
                                in_chunks(work, "bench", day, blocks, settings.chunk_blocks))
    for spooled in spools.values():
        spooled.discard()
    return {name: spooled.rows for name, spooled in spools.items()}


def making_rate(spec: ChainSpec, blocks: int = 300) -> dict:
    """Transactions the generator makes a CPU-second, on the fly (its blooms' memory warmed first)."""
    chain = SyntheticChain(spec)
    first = spec.day_blocks(spec.start).start
    chain.day_tally(range(first, first + blocks))
    started = time.process_time()
    made = chain.day_tally(range(first + blocks, first + 2 * blocks))
    seconds = time.process_time() - started
    return {"blocks": blocks, "transactions": made["transactions"], "cpu_s": round(seconds, 2),
            "tx_per_cpu_s": round(made["transactions"] / seconds)}


def measure_headroom(node: Node, settings: RpcSettings, repeats: int) -> dict:
    """Serving and ours over the node's first day, interleaved (median of `repeats`)."""
    spec = node.spec
    blocks, day = day_blocks(spec), spec.start.isoformat()
    rows = ours_extract(node.url, day, blocks, settings)  # warm-up: imports, connections; and the row counts
    figures: dict[str, list] = {"serving": [], "ours": []}
    node_cpu: dict[str, list] = {"serving": [], "ours": []}
    our_cpu: list[float] = []
    size = 0
    for round_ in range(repeats):
        for name in (("serving", "ours") if round_ % 2 == 0 else ("ours", "serving")):
            node_before, mine = node.cpu(), own_cpu()
            started = time.perf_counter()
            if name == "serving":
                size = bytes_fetch(node.url, blocks, settings)
            else:
                ours_extract(node.url, day, blocks, settings)
                our_cpu.append(round(own_cpu() - mine, 2))
            figures[name].append(round(time.perf_counter() - started, 2))
            node_cpu[name].append(round(node.cpu() - node_before, 2))
            print(f"  round {round_ + 1} {name:8} {figures[name][-1]:7.2f} s", flush=True)
    transactions = rows["transactions"]
    rate = {name: round(transactions / statistics.median(seconds)) for name, seconds in figures.items()}
    making = making_rate(spec)
    ours_per_cpu = round(transactions / statistics.median(our_cpu))
    return {
        "synthetic_node_headroom": round(rate["serving"] / rate["ours"], 2),
        "synthetic_node": {
            "scale": spec.scale, "blocks": blocks.count, "rows": rows, "answer_mb": round(size / 2**20, 1),
            "seconds": figures, "tx_per_s": rate,
            "blocks_per_s": {name: round(blocks.count / statistics.median(s)) for name, s in figures.items()},
            "node_cpu_s": node_cpu, "node_tx_per_cpu_s": round(transactions / statistics.median(node_cpu["serving"])),
            "ours_cpu_s": our_cpu, "ours_tx_per_cpu_s": ours_per_cpu,
            "made_ahead_s": node.prime_s, "making_on_the_fly": making,
            "making_vs_ours_per_cpu_s": round(making["tx_per_cpu_s"] / ours_per_cpu, 2),
            "settings": {"batch_size": settings.batch_size, "concurrency": settings.concurrency,
                         "chunk_blocks": settings.chunk_blocks},
        },
    }


def add_rpc_arguments(parser: argparse.ArgumentParser) -> None:
    """--batch-size, --concurrency and --chunk-blocks, the RPC settings' defaults by default."""
    for name in ("batch_size", "concurrency", "chunk_blocks"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=RpcSettings.model_fields[name].default)


def rpc_settings(args: argparse.Namespace, url: str = "http://127.0.0.1") -> RpcSettings:
    return RpcSettings(url=url, batch_size=args.batch_size, concurrency=args.concurrency,
                       chunk_blocks=args.chunk_blocks)


def merge_results(results: dict) -> None:
    """Add figures to benchmarks/results/scale.json (keeping the others there)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    found = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    found.update(results)
    RESULTS.write_text(json.dumps(found, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3)
    add_rpc_arguments(parser)
    args = parser.parse_args()
    settings = rpc_settings(args)
    node = Node(ChainSpec(scale=args.scale), NODE_PORT)
    node.start()
    try:
        print(f"synthetic node: scale {args.scale}, made ahead in {node.prime_s} s; serving vs ours:", flush=True)
        results = measure_headroom(node, settings, args.repeats)
    finally:
        node.stop()
    results["at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    merge_results(results)
    figures = results["synthetic_node"]
    print(f"\nserving {figures['tx_per_s']['serving']:,} tx/s, ours {figures['tx_per_s']['ours']:,} tx/s: headroom "
          f"{results['synthetic_node_headroom']} (target ≥ 3); the node serves {figures['node_tx_per_cpu_s']:,} tx per "
          f"CPU-second of its own; making on the fly "
          f"{figures['making_on_the_fly']['tx_per_cpu_s']:,} tx per CPU-second, ours "
          f"{figures['ours_tx_per_cpu_s']:,}\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    from avax_assets_dev.local.services import run_stopping_what_it_starts

    # however the run ends, no service it started outlives it
    run_stopping_what_it_starts(main, "node_headroom", keep_on_success=False)
