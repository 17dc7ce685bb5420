"""The offline demo: local services + devchain → every chain asset of every complete day and the
analytics views → rows per table, and a reconciliation of ClickHouse with the node's own state.

    bash deployments/local/demo.sh [--days 3 --blocks-per-day 40 --blocks-source rpc|data_api]

The AvaCloud paths are served locally: Data API lists and Metrics API series from fixtures, and the
per-block C-Chain paths from the devchain node (for `--blocks-source data_api`). The Trader Joe v2
subgraph is served by a local GraphQL server over its real schema, with swaps in the devchain's blocks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

from avax_assets_dev.devchain.generator import DevchainSpec
from avax_assets_dev.local.services import LocalStack
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.settings import RpcSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=os.environ.get("AVAX_HOME", ".avax-assets"))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--blocks-per-day", type=int, default=40)
    parser.add_argument("--blocks-source", choices=("rpc", "data_api"), default="rpc",
                        help="where blocks and transactions come from (logs and traces: always JSON-RPC)")
    args = parser.parse_args()
    home = Path(args.home).resolve()

    stack = LocalStack(home)
    print(f"starting local services under {home} …")
    stack.up()
    spec = DevchainSpec(days=args.days, blocks_per_day=args.blocks_per_day)
    devchain = stack.devchain(spec)
    print(f"devchain: {devchain.latest_block + 1} blocks, {devchain.transactions} transactions "
          f"({devchain.reverted} reverted)")

    from avax_assets_dev.local.avacloud_fixtures import AvaCloudFixtureServer
    from avax_assets_dev.local.subgraph_server import SubgraphServer, node_block_timestamps, trader_joe_swaps

    stamps = node_block_timestamps(stack.anvil.url, 0, devchain.latest_block)
    swaps = trader_joe_swaps(stamps, {block: 4 for block in stamps})
    with AvaCloudFixtureServer(chain_rpc_url=stack.anvil.url) as avacloud, \
            SubgraphServer(swaps, indexed_block=devchain.latest_block) as graph:
        os.environ.update({**stack.environment(), "AVAX_AVACLOUD_DATA_URL": avacloud.url,
                           "AVAX_AVACLOUD_METRICS_URL": avacloud.url, "AVAX_BLOCKS_SOURCE": args.blocks_source,
                           "AVAX_GRAPH_GATEWAY_URL": graph.url.split("/subgraphs/")[0],
                           "AVAX_SUBGRAPH_IDS": f"traderjoe-v2={graph.subgraph_id}"})
        os.environ.setdefault("AVAX_CLICKHOUSE_CHDB_PATH", str(home / "chdb"))
        materialize_all(spec, devchain, stack)


def materialize_all(spec, devchain, stack) -> None:
    import dagster as dg

    from avax_assets.catalogue import DATASETS, FAMILIES, Catalogue
    from avax_assets.orchestration.environment import build_resources
    from avax_assets_dev import reconcile

    catalogue = Catalogue()
    resources = build_resources()
    days = [d.isoformat() for d in spec.dates]
    for day in days:
        started = time.monotonic()
        result = dg.materialize(catalogue.family("chain"), partition_key=day, resources=resources,
                                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
        if not result.success:
            raise SystemExit(f"materializing {day} failed")
        print(f"materialized {day} in {time.monotonic() - started:.1f}s "
              f"(blocks and transactions from {os.environ['AVAX_BLOCKS_SOURCE']})")

    assert dg.materialize(catalogue.analytics, resources=resources).success
    for day in days:
        for assets in (catalogue.family("network"), [*catalogue.family("metrics"), *catalogue.family("bridges")],
                       catalogue.family("subgraphs")):  # a run each
            if not dg.materialize(assets, partition_key=day, resources=resources,
                                  run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}}).success:
                raise SystemExit(f"AvaCloud datasets for {day} failed")
    print("network snapshots and metrics (AvaCloud fixtures) and DEX swaps (local subgraph) materialized")
    warehouse = resources["clickhouse"].warehouse()
    print(f"\nrows per ClickHouse table ({warehouse.database}):")
    for group in ([spec.dataset for spec in FAMILIES["chain"]],
                  [spec.dataset for name in ("network", "bridges", "metrics", "subgraphs") for spec in FAMILIES[name]]):
        print(f"{'day':12}" + "".join(f"{d.table[:14]:>15}" for d in group))
        for day in days:
            counts = [warehouse.partition_rows(d, dt.date.fromisoformat(day)) for d in group]
            print(f"{day:12}" + "".join(f"{c:>15}" for c in counts))

    last_block = devchain.blocks_by_day[days[-1]][1]
    with JsonRpcClient(RpcSettings(stack.anvil.url)) as node:
        checks = [
            reconcile.dataset_counts(warehouse, node, devchain.blocks_by_day[days[0]][0], last_block),
            reconcile.erc20_balances(warehouse, node, last_block),
            reconcile.erc721_owners(warehouse, node, last_block),
            reconcile.native_flows(warehouse, node, last_block,
                                   [devchain.contracts["ForwarderA"], devchain.contracts["ForwarderB"]]),
        ]
    print(f"\nreconciliation with the node at block {last_block}:")
    for check in checks:
        print(f"  {check}")
    print(f"\nKafka: {os.environ['AVAX_KAFKA_BOOTSTRAP_SERVERS']}, topics "
          f"{', '.join(d.topic for d in DATASETS.values())}")
    print(f"Parquet: {os.environ['AVAX_LAKE_ROOT']}/<dataset>/date=YYYY-MM-DD/ on {os.environ['AVAX_S3_ENDPOINT_URL']}")
    print(f"ClickHouse (chDB): {os.environ['AVAX_CLICKHOUSE_CHDB_PATH']}; views daily_chain_activity, "
          "erc20_daily_volume, erc20_balances")
    if not all(check.ok for check in checks):
        raise SystemExit("reconciliation with the node failed")
    print("everything reconciles with the node")


if __name__ == "__main__":
    main()
