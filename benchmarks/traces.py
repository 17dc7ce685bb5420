"""Traces at scale (issue 32, part 4): a day's internal transactions against the synthetic node
(avax_assets_dev/local/synthetic_node.py), ours ÷ a raw loop of the same calls at the same concurrency.

  ours   the internal transactions' extraction as its Dagster step makes it: each chunk's headers, receipts and
         callTracer traces (debug_traceBlockByNumber), flattened into frames, proven, spooled to Parquet
  raw    the same calls in the same batches, --concurrency requests in flight, bodies read but not parsed
  parsed the raw loop with every body decoded from JSON (msgspec, as our client decodes them): the floor of
         any extraction in Python, beside the bytes-only one

The node makes a block's trace on first request and keeps it (here every trace of the day: --cache-blocks is
set from the day), so after the warm-up both sides read the same answers from memory; its CPU seconds are
reported beside. Interleaved, median of --repeats, per concurrency.

    uv run python benchmarks/traces.py [--scale 0.01] [--concurrency 1,4,8] [--repeats 3]

Adds `traces_vs_raw_fast_node` and `traces_decode_floor_vs_raw_fast_node` (parsed ÷ raw: what decoding alone
costs beside the raw loop), both at the RPC settings' default concurrency when it ran, and `traces` (the figures)
to benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from node_headroom import Node, day_blocks, merge_results, own_cpu  # noqa: E402

from avax_assets.chain.datasets import INTERNAL_TRANSACTIONS  # noqa: E402
from avax_assets.chain.extract import EXTRACTIONS, chunk_extractor, in_chunks  # noqa: E402
from avax_assets.chain.reader import ChainReader  # noqa: E402
from avax_assets.chain.rpc import JsonRpcClient  # noqa: E402
from avax_assets.chain.settings import RpcSettings  # noqa: E402
from avax_assets.core.days import BlockRange  # noqa: E402
from avax_assets.core.processes import collecting_less_often  # noqa: E402
from avax_assets.core.spool import spool_together  # noqa: E402
from avax_assets_dev.local.synthetic_chain import ChainSpec  # noqa: E402

NODE_PORT = 28641  # apart from the other scale benchmarks' nodes
TRACES = tuple(e for e in EXTRACTIONS if e.dataset is INTERNAL_TRANSACTIONS)


def ours(url: str, day: str, blocks: BlockRange, settings: RpcSettings) -> int:
    """The step's extraction of the internal transactions into their spool (then discarded), with the step's
    collector setting; its rows."""
    with JsonRpcClient(settings.model_copy(update={"url": url})) as client, collecting_less_often():
        work = chunk_extractor(TRACES, day, ChainReader(client))
        spools = spool_together([INTERNAL_TRANSACTIONS], day, in_chunks(work, "bench", day, blocks,
                                                                          settings.chunk_blocks))
    spooled = spools[INTERNAL_TRANSACTIONS.name]
    spooled.discard()
    return spooled.rows


def raw(url: str, blocks: BlockRange, settings: RpcSettings, parse: bool = False) -> int:
    """The same calls, batched as the step batches them, `settings.concurrency` in flight; their bytes (each
    body decoded from JSON too, with `parse`)."""
    requests = []
    for chunk in blocks.chunks(settings.chunk_blocks):
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in chunk]
        calls += [("eth_getBlockReceipts", [hex(n)]) for n in chunk]
        traces = [("debug_traceBlockByNumber", [hex(n), {"tracer": "callTracer"}]) for n in chunk]
        requests += [calls[i:i + settings.batch_size] for i in range(0, len(calls), settings.batch_size)]
        requests += [traces[i:i + settings.trace_batch_size] for i in range(0, len(traces), settings.trace_batch_size)]

    def post(batch: list) -> int:
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(batch)]
        content = http.post(url, json=body).content
        if parse:
            msgspec.json.decode(content)
        return len(content)

    with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=settings.concurrency)) as http, \
            ThreadPoolExecutor(settings.concurrency) as pool, collecting_less_often():  # the collector as ours
        return sum(pool.map(post, requests))


def compare(node: Node, settings: RpcSettings, repeats: int) -> dict:
    blocks, day = day_blocks(node.spec), node.spec.start.isoformat()
    names = ("ours", "raw", "parsed")
    seconds: dict[str, list] = {name: [] for name in names}
    cpu: dict[str, list] = {name: [] for name in names}
    node_cpu: dict[str, list] = {name: [] for name in names}
    size = 0
    for round_ in range(repeats):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            mine, served, started = own_cpu(), node.cpu(), time.perf_counter()
            if name == "ours":
                ours(node.url, day, blocks, settings)
            else:
                size = raw(node.url, blocks, settings, parse=name == "parsed")
            seconds[name].append(round(time.perf_counter() - started, 2))
            cpu[name].append(round(own_cpu() - mine, 2))
            node_cpu[name].append(round(node.cpu() - served, 2))
            print(f"  concurrency {settings.concurrency} round {round_ + 1} {name:4} {seconds[name][-1]:7.2f} s, "
                  f"{cpu[name][-1]:6.2f} CPU-s (node {node_cpu[name][-1]:.2f})", flush=True)
    median = {name: statistics.median(s) for name, s in seconds.items()}
    return {"ratio": round(median["ours"] / median["raw"], 3),
            "ratio_to_parsed": round(median["ours"] / median["parsed"], 3),
            "parsed_vs_raw": round(median["parsed"] / median["raw"], 3), "seconds": seconds, "cpu_s": cpu,
            "node_cpu_s": node_cpu, "answer_mb": round(size / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.01, help="the day's blocks as a fraction of mainnet's")
    parser.add_argument("--concurrency", default="1,4,8", help="requests in flight (AVAX_RPC_CONCURRENCY), each")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    node = Node(ChainSpec(scale=args.scale), NODE_PORT)
    node.args += ["--cache-blocks", str(4 * node.spec.blocks_per_day + 64)]  # every trace of the day kept
    node.start()
    default = RpcSettings.model_fields["concurrency"].default
    try:
        blocks, day = day_blocks(node.spec), node.spec.start.isoformat()
        started = time.perf_counter()
        rows = ours(node.url, day, blocks, RpcSettings(url=node.url))  # warm-up: the node makes every trace
        print(f"{blocks.count} blocks, {rows:,} internal transactions; the node made their traces in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        by_concurrency = {c: compare(node, RpcSettings(url=node.url, concurrency=c), args.repeats)
                          for c in (int(c) for c in args.concurrency.split(","))}
        stats = node.stats()
    finally:
        node.stop()
    results = {"traces": {"scale": args.scale, "blocks": blocks.count, "rows": rows, "node": stats,
                          "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                          "machine": {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 1)},
                          "by_concurrency": by_concurrency}}
    if default in by_concurrency:
        results["traces_vs_raw_fast_node"] = by_concurrency[default]["ratio"]
        # decoding the answers and nothing else: the least any extraction in Python spends beside the raw loop
        results["traces_decode_floor_vs_raw_fast_node"] = by_concurrency[default]["parsed_vs_raw"]
    merge_results(results)
    for concurrency, figures in by_concurrency.items():
        medians = {name: statistics.median(s) for name, s in figures["seconds"].items()}
        print(f"concurrency {concurrency}: ours ÷ raw {figures['ratio']} (target ≤ 1.15), ÷ parsed "
              f"{figures['ratio_to_parsed']}; parsed ÷ raw {figures['parsed_vs_raw']}; ours {medians['ours']} s, "
              f"raw {medians['raw']} s, parsed {medians['parsed']} s")
    print("written to benchmarks/results/scale.json")


if __name__ == "__main__":
    from avax_assets_dev.local.services import run_stopping_what_it_starts

    # however the run ends, no service it started outlives it
    run_stopping_what_it_starts(main, "traces", keep_on_success=False)
