"""The synthetic node read by the other tools (issue 32, part 1): a day of the synthetic node
(avax_assets_dev/local/synthetic_node.py) extracted by ours, by cryo 0.3.2 and by ethereum-etl 2.4.2 (each in its
side venv under .avax-assets/bench, as the chain benchmark installs them), and their rows compared dataset by
dataset: the same blocks, transactions, logs and call frames, by key, and the same wei.

  blocks          block hashes (ours, cryo, ethereum-etl)
  transactions    transaction hashes, and the sum of their values in wei (ours, cryo, ethereum-etl)
  logs            (block, log index) with the transaction's hash (ours, cryo, ethereum-etl's receipts' logs)
  frames          (block, transaction index, trace address), and the sum of their values in wei (ours,
                  ethereum-etl's export_geth_traces: debug_traceBlockByNumber with the callTracer)

    uv run python benchmarks/synthetic_readers.py [--scale 0.002]

Adds `synthetic_node_readers` to benchmarks/results/scale.json; exits 1 when a tool's rows differ from ours.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import polars as pl  # noqa: E402

from chain_pipeline import export_with_ethereum_etl, freeze_with_cryo, python_310, side_venv  # noqa: E402
from mainnet_day import cryo_python  # noqa: E402
from node_headroom import HOME, Node, day_blocks, merge_results  # noqa: E402

from avax_assets.chain.datasets import BLOCKS, INTERNAL_TRANSACTIONS, LOGS, TRANSACTIONS  # noqa: E402
from avax_assets.chain.extract import EXTRACTIONS, chunk_extractor, in_chunks  # noqa: E402
from avax_assets.chain.reader import ChainReader  # noqa: E402
from avax_assets.chain.rpc import JsonRpcClient  # noqa: E402
from avax_assets.chain.settings import RpcSettings  # noqa: E402
from avax_assets.core.spool import spool_together  # noqa: E402
from avax_assets_dev.local.synthetic_chain import ChainSpec  # noqa: E402

NODE_PORT = 28651  # apart from the other scale benchmarks' nodes
DATASETS = (BLOCKS, TRANSACTIONS, LOGS, INTERNAL_TRANSACTIONS)


def compared(rows: dict) -> dict:
    """What each dataset's rows are compared by: its keys (a set) and, where it carries wei, their sum."""
    return {"blocks": {"keys": set(rows["blocks"]["hash"])},
            "transactions": {"keys": set(rows["transactions"]["hash"]),
                             "wei": sum(int(v) for v in rows["transactions"]["value"])},
            "logs": {"keys": set(zip(rows["logs"]["block"], rows["logs"]["index"], rows["logs"]["tx"],
                                     strict=True))},
            **({"frames": {"keys": set(zip(rows["frames"]["block"], rows["frames"]["tx_index"],
                                           rows["frames"]["address"], strict=True)),
                           "wei": sum(int(v) for v in rows["frames"]["value"])}} if "frames" in rows else {})}


def ours(url: str, day: str, settings: RpcSettings, blocks) -> dict:
    """The Dagster step's extraction of the four datasets (its spools read, then discarded)."""
    with JsonRpcClient(settings.model_copy(update={"url": url})) as client:
        work = chunk_extractor(EXTRACTIONS, day, ChainReader(client, trace_method="debug"))
        spools = spool_together(list(DATASETS), day, in_chunks(work, "readers", day, blocks, settings.chunk_blocks))
    try:
        read = {name: pl.read_parquet(spooled.path) for name, spooled in spools.items()}
    finally:
        for spooled in spools.values():
            spooled.discard()
    blocks_, txs, logs, frames = (read[d.name] for d in DATASETS)
    return {"blocks": {"hash": blocks_["block_hash"].to_list()},
            "transactions": {"hash": txs["transaction_hash"].to_list(),
                             "value": txs["value"].cast(pl.String).to_list()},
            "logs": {"block": logs["block_number"].to_list(), "index": logs["log_index"].to_list(),
                     "tx": logs["transaction_hash"].to_list()},
            "frames": {"block": frames["block_number"].to_list(), "tx_index": frames["transaction_index"].to_list(),
                       "address": frames["trace_address"].to_list(),
                       "value": frames["value"].cast(pl.String).to_list()}}


def cryo(python: Path, url: str, blocks, settings: RpcSettings, out: Path) -> dict:
    freeze_with_cryo(python, url, blocks, out, settings.concurrency, settings.chunk_blocks)

    def read(name: str) -> pl.DataFrame:
        return pl.read_parquet(str(out / f"*__{name}__*.parquet"))

    def hexed(column) -> list[str]:  # cryo keeps hashes as bytes
        return [f"0x{v.hex()}" for v in column]

    txs, logs = read("transactions"), read("logs")
    return {"blocks": {"hash": hexed(read("blocks")["block_hash"])},
            "transactions": {"hash": hexed(txs["transaction_hash"]), "value": txs["value_string"].to_list()},
            "logs": {"block": logs["block_number"].to_list(), "index": logs["log_index"].to_list(),
                     "tx": hexed(logs["transaction_hash"])}}


def ethereum_etl(etl: Path, url: str, blocks, settings: RpcSettings, out: Path) -> dict:
    export_with_ethereum_etl(etl, url, blocks, out, settings.batch_size, settings.concurrency, traces=True)

    def table(name: str) -> list[dict]:
        with open(out / name, newline="") as rows:
            return list(csv.DictReader(rows))

    txs, frames = table("txs.csv"), table("traces.csv")
    logs = [json.loads(line) for line in (out / "logs.json").read_text().splitlines() if line.strip()]
    return {"blocks": {"hash": [b["hash"] for b in table("blocks.csv")]},
            "transactions": {"hash": [t["hash"] for t in txs], "value": [t["value"] for t in txs]},
            "logs": {"block": [g["block_number"] for g in logs], "index": [g["log_index"] for g in logs],
                     "tx": [g["transaction_hash"] for g in logs]},
            # its trace address is comma-separated (ours: dot-separated); the top frame's is empty in both
            "frames": {"block": [int(f["block_number"]) for f in frames],
                       "tx_index": [int(f["transaction_index"]) for f in frames],
                       "address": [f["trace_address"].replace(",", ".") for f in frames],
                       "value": [f["value"] or "0" for f in frames]}}


def against(mine: dict, theirs: dict) -> dict:
    """Per dataset the tool read: its rows, and whether its keys (and wei) are ours."""
    result = {}
    for name, figures in theirs.items():
        ours_ = mine[name]
        result[name] = {"rows": len(figures["keys"]), "same_keys": figures["keys"] == ours_["keys"],
                        **({"same_wei": figures["wei"] == ours_["wei"]} if "wei" in figures else {})}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.002, help="the day's blocks as a fraction of mainnet's")
    args = parser.parse_args()
    node = Node(ChainSpec(scale=args.scale), NODE_PORT)
    node.start()
    settings = RpcSettings(url=node.url)
    blocks, day = day_blocks(node.spec), node.spec.start.isoformat()
    # each tool: its side venv's executable (or None, and why) and how its rows are read
    tools = {"cryo": (*cryo_python(), cryo),
             "ethereum-etl": (*side_venv("etl", python_310(), "ethereum-etl==2.4.2 setuptools<81", "ethereumetl"),
                              ethereum_etl)}
    results: dict = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "scale": args.scale,
                     "blocks": blocks.count}
    try:
        mine = compared(ours(node.url, day, settings, blocks))
        results["ours"] = {name: len(figures["keys"]) for name, figures in mine.items()}
        for name, (tool, state, read) in tools.items():
            if tool is None:
                results[name] = {"side_venv": state}
                continue
            out = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=HOME))
            try:
                results[name] = {"side_venv": state,
                                 **against(mine, compared(read(tool, node.url, blocks, settings, out)))}
            finally:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        node.stop()
    checked = [figures for name in tools for figures in results[name].values() if isinstance(figures, dict)]
    results["agree"] = bool(checked) and all(all(v for k, v in f.items() if k.startswith("same")) for f in checked)
    merge_results({"synthetic_node_readers": results})
    print(json.dumps(results, indent=1))
    print("written to benchmarks/results/scale.json")
    raise SystemExit(0 if results["agree"] else 1)


if __name__ == "__main__":
    from avax_assets_dev.local.services import run_stopping_what_it_starts

    # however the run ends, no service it started outlives it
    run_stopping_what_it_starts(main, "synthetic readers", keep_on_success=False)
