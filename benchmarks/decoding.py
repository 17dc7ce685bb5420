"""Log decoding and contract reads, measured on a devchain profile (dense by default):

  decoders   rows/s of every log-decoded dataset over the day's logs (held in memory, as the assets
             read them from the stored partition): the three transfer standards and every declared ABI
             event, side by side, each the median of --repeats
  metadata   the eth_call reads of `dex_pools` and `tokens` for the tokens and pools seen that day, and
             the throughput of the same batched reads at scale (the seen tokens cycled to --metadata-tokens)

    uv run python benchmarks/decoding.py [--profile dense] [--repeats 3] [--metadata-tokens 2000]

Writes benchmarks/results/decoding.json. The services and devchain are the chain benchmark's
(benchmarks/chain_pipeline.py: same ports, same home), so one generation serves both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from chain_pipeline import HOME, PROFILES  # noqa: E402

from avax_assets.chain.calls import ContractCall, read_contracts  # noqa: E402
from avax_assets.chain.datasets import LOGS  # noqa: E402
from avax_assets.chain.extract import EXTRACTIONS, block_batches  # noqa: E402
from avax_assets.chain.reader import ChainReader  # noqa: E402
from avax_assets.chain.rpc import JsonRpcClient  # noqa: E402
from avax_assets.core.days import BlockRange  # noqa: E402
from avax_assets.chain.settings import RPC, RpcSettings  # noqa: E402
from avax_assets.events.assets import event_log_decoder  # noqa: E402
from avax_assets.events.datasets import EVENTS, POOL_EVENTS  # noqa: E402
from avax_assets.events.pools import pool_batches  # noqa: E402
from avax_assets.tokens.decode import EVENTS as TRANSFER_DECODERS  # noqa: E402
from avax_assets.tokens.metadata import CALLS, token_batches  # noqa: E402
from avax_assets_dev.local.services import LocalStack, run_stopping_what_it_starts  # noqa: E402


def day_logs(client: JsonRpcClient, day: str, blocks: BlockRange) -> list[pa.RecordBatch]:
    logs = next(e for e in EXTRACTIONS if e.dataset is LOGS)
    return list(block_batches(ChainReader(client), LOGS, day, blocks, logs.rpc, RPC.chunk_blocks))


def decoder_rates(batches: list[pa.RecordBatch], repeats: int) -> tuple[dict[str, dict], dict[str, list]]:
    """Each decoder's rows and median seconds, and its decoded output (for the metadata reads)."""
    decoders = [*TRANSFER_DECODERS, *(event_log_decoder(e) for e in EVENTS)]
    seconds: dict[str, list[float]] = defaultdict(list)
    outputs: dict[str, list] = {}
    for _ in range(repeats):  # interleaved: each round runs every decoder once
        for decoder in decoders:
            started = time.perf_counter()
            outputs[decoder.dataset.name] = [decoder(batch) for batch in batches]
            seconds[decoder.dataset.name].append(time.perf_counter() - started)
    rates = {}
    for name, runs in seconds.items():
        rows = sum(d.batch.num_rows for d in outputs[name])
        median = statistics.median(runs)
        rates[name] = {"rows": rows, "malformed": sum(len(d.malformed) for d in outputs[name]),
                       "seconds": round(median, 3), "rows_per_s": round(rows / median) if median else None}
    return rates, outputs


def metadata_costs(client: JsonRpcClient, outputs: dict[str, list], at: dict, scale: int) -> dict:
    pools = {}
    for event in POOL_EVENTS:
        for decoded in outputs[event.dataset.name]:
            pools.update(dict.fromkeys(decoded.batch.column("contract_address").to_pylist(), event.pool))
    started = time.perf_counter()
    pool_rows = [row for batch in pool_batches(client, pools, at) for row in batch.to_pylist()]
    pools_s = time.perf_counter() - started
    seen: dict[str, set[str]] = defaultdict(set)
    for name in ("erc20_transfers", "erc721_transfers", "erc1155_transfers"):
        for decoded in outputs[name]:
            for token in decoded.batch.column("token_address").to_pylist():
                seen[token].add(name)
    for row in pool_rows:
        for token in (row["token0"], row["token1"]):
            if token:
                seen[token].add("dex_pools")
    started = time.perf_counter()
    tokens = sum(b.num_rows for b in token_batches(client, seen, at))
    tokens_s = time.perf_counter() - started
    # the same batched reads at scale (as many tokens as a busy mainnet day sees): the seen tokens cycled
    tokens_cycled = list(itertools.islice(itertools.cycle(sorted(seen)), scale))
    calls = [ContractCall(token, call) for token in tokens_cycled for call in CALLS]
    started = time.perf_counter()
    read_contracts(client, calls, at["block_number"])
    scale_s = time.perf_counter() - started
    read = len(tokens_cycled)
    return {"pools": len(pools), "pool_calls": 2 * len(pools), "pools_seconds": round(pools_s, 3),
            "tokens": tokens, "token_calls": len(CALLS) * tokens, "tokens_seconds": round(tokens_s, 3),
            "at_scale": {"token_reads": read, "calls": len(CALLS) * read, "seconds": round(scale_s, 2),
                         "calls_per_s": round(len(CALLS) * read / scale_s) if scale_s else None}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=list(PROFILES), default="dense")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metadata-tokens", type=int, default=2000)
    args = parser.parse_args()
    stack = LocalStack(HOME, kafka_port=29092, s3_port=48333, anvil_port=28545)
    stack.up()
    spec = PROFILES[args.profile]
    summary = stack.devchain(spec)
    day = spec.start.isoformat()
    first, last = summary.blocks_by_day[day]
    blocks = BlockRange(first, last)
    with JsonRpcClient(RpcSettings(url=stack.anvil.url)) as client:
        batches = day_logs(client, day, blocks)
        logs = sum(b.num_rows for b in batches)
        print(f"devchain ({args.profile}): {blocks.count} blocks, {logs:,} logs", flush=True)
        rates, outputs = decoder_rates(batches, args.repeats)
        header = client.call("eth_getBlockByNumber", [hex(last), False])
        at = {"block_number": last, "block_timestamp": int(header["timestamp"], 16), "block_hash": header["hash"]}
        metadata = metadata_costs(client, outputs, at, args.metadata_tokens)
    results = {"profile": args.profile, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "logs": logs, "blocks": blocks.count, "decoders": rates, "metadata": metadata,
               "logs_per_s_all_decoders": round(logs * len(rates) / sum(r["seconds"] for r in rates.values()))}
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "decoding.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"\n{'dataset':20}{'rows':>10}{'malformed':>11}{'seconds':>9}{'rows/s':>11}")
    for name, rate in rates.items():
        print(f"{name:20}{rate['rows']:>10,}{rate['malformed']:>11}{rate['seconds']:>9.3f}"
              f"{rate['rows_per_s'] or 0:>11,}")
    print(f"\nmetadata: {metadata['pools']} pools ({metadata['pools_seconds']} s), {metadata['tokens']} tokens "
          f"({metadata['tokens_seconds']} s); at scale {metadata['at_scale']['calls']:,} eth_calls in "
          f"{metadata['at_scale']['seconds']} s ({metadata['at_scale']['calls_per_s']:,} calls/s)")
    print("written to benchmarks/results/decoding.json")


if __name__ == "__main__":
    # a failed or interrupted run stops the services it started; one that ends well leaves them up for the next
    run_stopping_what_it_starts(main, "decoding")
