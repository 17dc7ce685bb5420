"""The offline demo: local services + devchain → every chain asset of every complete day →
a summary of rows per table, next to what the node itself reports.

    bash deployments/local/demo.sh [--days 3 --blocks-per-day 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

from avax_assets.devchain.generator import DevchainSpec
from avax_assets.local.services import LocalStack
from avax_assets.sources.rpc import Call, JsonRpcClient, RpcSettings


def node_counts(rpc_url: str, first: int, last: int) -> dict[str, int]:
    with JsonRpcClient(RpcSettings(rpc_url)) as rpc:
        blocks = rpc.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)])
        logs = rpc.call("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last)}])
    return {"blocks": len(blocks), "transactions": sum(len(b["transactions"]) for b in blocks), "logs": len(logs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=os.environ.get("AVAX_HOME", ".avax-assets"))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--blocks-per-day", type=int, default=40)
    args = parser.parse_args()
    home = Path(args.home).resolve()

    stack = LocalStack(home)
    print(f"starting local services under {home} …")
    stack.up()
    spec = DevchainSpec(days=args.days, blocks_per_day=args.blocks_per_day)
    devchain = stack.devchain(spec)
    print(f"devchain: {devchain.latest_block + 1} blocks, {devchain.transactions} transactions "
          f"({devchain.reverted} reverted)")

    os.environ.update(stack.environment())
    os.environ.setdefault("AVAX_CLICKHOUSE_CHDB_PATH", str(home / "chdb"))
    import dagster as dg

    from avax_assets.datasets import CHAIN_DATASETS
    from avax_assets.definitions import build_resources, chain_assets

    resources = build_resources()
    days = [d.isoformat() for d in spec.dates]
    for day in days:
        started = time.monotonic()
        result = dg.materialize(chain_assets, partition_key=day, resources=resources,
                                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
        if not result.success:
            raise SystemExit(f"materializing {day} failed")
        print(f"materialized {day} in {time.monotonic() - started:.1f}s")

    warehouse = resources["clickhouse"].warehouse()
    print(f"\n{'day':12}{'table':14}{'ClickHouse':>12}{'node':>8}")
    mismatches = 0
    for day in days:
        first, last = devchain.blocks_by_day[day]
        expected = node_counts(stack.anvil.url, first, last)
        for dataset in CHAIN_DATASETS:
            rows = warehouse.partition_rows(dataset, dt.date.fromisoformat(day))
            mismatches += rows != expected[dataset.name]
            print(f"{day:12}{dataset.table:14}{rows:>12}{expected[dataset.name]:>8}")
    print(f"\nKafka topics: {', '.join(d.topic for d in CHAIN_DATASETS)} on {os.environ['AVAX_KAFKA_BOOTSTRAP_SERVERS']}")
    print(f"Parquet: {os.environ['AVAX_LAKE_ROOT']}/<dataset>/date=YYYY-MM-DD/ on {os.environ['AVAX_S3_ENDPOINT_URL']}")
    print(f"ClickHouse (chDB): {os.environ['AVAX_CLICKHOUSE_CHDB_PATH']}, database {warehouse.database}")
    if mismatches:
        raise SystemExit(f"{mismatches} tables do not match the node")
    print("all tables match the node")


if __name__ == "__main__":
    main()
