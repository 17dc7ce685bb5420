"""The offline demo: local services + devchain → every asset of every complete day and the analytics
views, recorded in the project's Dagster instance (so the UI shows them afterwards) → rows per table, a
reconciliation of ClickHouse with the node's own state, and where everything is.

    bash deployments/local/demo.sh [--days 3 --blocks-per-day 40 --blocks-source rpc|data_api] [--verbose]

Every source is a local service (`services.sh up` starts the same ones): the node (anvil), the AvaCloud
Data and Metrics APIs (fixtures validated against the official specs, the per-block C-Chain paths from the
node) and a Trader Joe v2 subgraph over its real schema, whose swaps it indexes from the devchain's Liquidity Book
pair (the same swaps as `lb_swap`, reconciled swap for swap).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import warnings
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from avax_assets import cli
from avax_assets.core.processes import StopSignals

from avax_assets_dev.devchain.generator import DevchainSpec
from avax_assets_dev.devchain.icm import C_CHAIN, DEV_L1
from avax_assets_dev.local.services import (REPO, LocalStack, ServiceError, add_stack_arguments, stack_from_args,
                                            stops_what_it_starts)

console = Console(highlight=False, soft_wrap=True)  # full lines, never folded at 80 columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_stack_arguments(parser)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--blocks-per-day", type=int, default=40)
    parser.add_argument("--blocks-source", choices=("rpc", "data_api"), default="rpc",
                        help="where blocks and transactions come from (logs and traces: always JSON-RPC)")
    parser.add_argument("--verbose", action="store_true",
                        help="show framework warnings, Dagster's event log and librdkafka's lines")
    args = parser.parse_args()
    if not args.verbose:
        quiet()
    try:
        # a demo that fails or is interrupted stops the services it started (those it found running keep running);
        # one that ends well leaves them up, for the UI, `avax-assets sql` and the next commands
        with stops_what_it_starts() as started:
            demo(args)
    except ServiceError as exc:
        raise SystemExit(f"demo: {exc}{_stopped(started)}") from None
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback; what was stored stays consistent (runs are atomic)
        console.print(f"\ndemo: interrupted{_stopped(started)}")
        raise SystemExit(130) from None
    except SystemExit as failed:
        if started and isinstance(failed.code, str):
            raise SystemExit(f"{failed.code}{_stopped(started)}") from None
        raise


def _stopped(started: list) -> str:
    return f"; stopped the services it had started ({', '.join(s.name for s in started)})" if started else ""


def quiet() -> None:
    """Only what the demo says, and errors: the framework's warnings (the version is pinned) and the
    per-event log lines stay out of the terminal; --verbose brings them back."""
    warnings.simplefilter("ignore")
    os.environ["PYTHONWARNINGS"] = "ignore"  # the same in subprocesses
    for name in ("dagster", "avax_assets", "avax_assets.kafka", "alembic", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def progress_bar() -> Progress:
    return cli.progress_bar(console)  # the bars `avax-assets materialize` shows too


def demo(args) -> None:
    stack = stack_from_args(args)
    spec = DevchainSpec(days=args.days, blocks_per_day=args.blocks_per_day)
    console.print(f"[bold]avax-assets demo[/]: {args.days} devchain days of {args.blocks_per_day} blocks, "
                  f"every service on loopback, state under {_relative(stack.home)}")
    with progress_bar() as progress:
        services = progress.add_task("starting local services", total=len(stack.services_with_fixtures))
        for service in stack.services_with_fixtures:
            service.start()
            progress.advance(services)
        chain = progress.add_task(f"devchains (C-Chain {C_CHAIN.chain_id}, L1 {DEV_L1.chain_id})",
                                  total=spec.days * spec.blocks_per_day)
        devchain, l1 = stack.linked_devchains(spec, progress=lambda done: progress.update(chain, completed=done))
        progress.update(chain, completed=spec.days * spec.blocks_per_day, description=(
            f"devchains: {devchain.latest_block + 1}+{l1.latest_block + 1} blocks, "
            f"{devchain.transactions + l1.transactions} txs, {devchain.icm['sent'] + l1.icm['sent']} ICM messages"))
    os.environ.update({**stack.environment(with_fixtures=True), "AVAX_BLOCKS_SOURCE": args.blocks_source,
                       "AVAX_RPC_URL": node_url(stack, args.blocks_source),
                       "AVAX_CHAIN_START_DATE": spec.start.isoformat(),
                       "AVAX_SNAPSHOT_START_DATE": spec.start.isoformat()})
    os.environ.setdefault("AVAX_CLICKHOUSE_CHDB_PATH", str(stack.home / "chdb"))
    os.environ.setdefault("DAGSTER_HOME", str(REPO))  # the project's dagster.yaml: what the UI reads
    # what later commands read without exports (avax-assets materialize|sql|live, ui.sh, mine_live)
    stack.write_env_file({name: os.environ[name] for name in (
        "AVAX_RPC_URL", "AVAX_BLOCKS_SOURCE", "AVAX_CHAIN_START_DATE", "AVAX_SNAPSHOT_START_DATE",
        "AVAX_CLICKHOUSE_CHDB_PATH", "DAGSTER_HOME")} | {"AVAX_CHAIN_END_DATE": spec.dates[-1].isoformat(),
                            "AVAX_SNAPSHOT_END_DATE": spec.dates[-1].isoformat()})
    forget_another_chains_data(stack, (devchain, l1))
    materialize_all(spec, (devchain, l1), stack, args.verbose)


def node_url(stack: LocalStack, blocks_source: str) -> str:
    """The C-Chain as the demo reads it: through the FAKE that gives a few devchain blocks atomic transactions
    (anvil makes none); with blocks from the Data API, which serves no blockExtraData either, anvil itself."""
    return stack.atomic.url if blocks_source == "rpc" else stack.anvil.url


def forget_another_chains_data(stack: LocalStack, devchains) -> None:
    """The demo's tables and lake hold the devchain they were built from: when the devchain is another one
    (a changed spec or generator), they are emptied first, or the new chain's days would sit beside the
    old chain's and fail the contiguity checks."""
    import shutil

    from avax_assets.core.lake import Lake
    from avax_assets.core.lake import S3Settings

    record = stack.home / "demo-chain.json"
    built_from = json.loads(record.read_text()).get("latest_block_hashes") if record.exists() else None
    chdb = Path(os.environ["AVAX_CLICKHOUSE_CHDB_PATH"])
    hashes = [chain.latest_block_hash for chain in devchains]
    if built_from != hashes and (record.exists() or chdb.exists()):
        shutil.rmtree(chdb, ignore_errors=True)
        lake = Lake(os.environ["AVAX_LAKE_ROOT"], S3Settings(os.environ["AVAX_S3_ENDPOINT_URL"],
                                                             os.environ["AVAX_S3_ACCESS_KEY_ID"],
                                                             os.environ["AVAX_S3_SECRET_ACCESS_KEY"]))
        for path in lake.fs.ls(lake.bucket, refresh=True) if lake.fs.exists(lake.bucket) else ():
            lake.fs.rm(path, recursive=True)
        _delete_topics(f"127.0.0.1:{stack.kafka.port}")
        console.print("the devchain is not the one the tables were built from: emptied the demo's ClickHouse, lake "
                      "and Kafka topics")
    record.write_text(json.dumps({"latest_block_hashes": hashes}))


def _delete_topics(bootstrap: str) -> None:
    """The project's topics on the demo's broker (the live follower would resume after another chain's steps)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(("avalanche.", "avax."))]
    for future in (admin.delete_topics(topics, operation_timeout=10).values() if topics else ()):
        future.result(timeout=10)


def materialize_all(spec, devchains, stack: LocalStack, verbose: bool = False) -> None:
    import dagster as dg

    from avax_assets.catalogue import Catalogue, build_resources
    from avax_assets.orchestration.configured import partition_settings
    from avax_assets.orchestration.partitions import Partitions

    catalogue = Catalogue(Partitions.from_settings(partition_settings()))
    resources = build_resources()
    # the named daily jobs, as the schedules run them: the UI's Jobs pages show every demo run
    definitions = catalogue.definitions(resources, dg.in_process_executor)
    days = [d.isoformat() for d in spec.dates]
    runs = named_runs(days, [job.name for job in catalogue.jobs if job.scope.endswith("_chain")])
    size = {name: len(definitions.resolve_job_def(name).asset_layer.selected_asset_keys) for _, name, _ in runs}
    instance_file = Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml"
    # Ctrl-C fails the running step (not retried: orchestration/interrupts.py) and Dagster ends the run; one in the
    # moment a run ends never reaches it: both are noted here, and end the demo
    with dg.DagsterInstance.get() as instance, progress_bar() as progress, StopSignals().noted() as stops:
        task = progress.add_task("materializing", total=sum(size[name] for _, name, _ in runs))
        for label, name, day in runs:
            progress.update(task, description=f"materializing {label}")
            result = run_named_job(definitions, instance, name, day, verbose)
            stops.received()
            if stops.signal:
                raise KeyboardInterrupt
            if not result.success:
                progress.stop()
                raise SystemExit(f"materializing {label} failed, {failure(result)}\n"
                                 f"(the run: bash deployments/local/ui.sh, then Runs)")
            progress.advance(task, size[name])
        progress.update(task, description=f"{len(runs)} runs, in the instance of {_relative(instance_file)}")
    summary(catalogue, resources, days, devchains, stack)


def named_runs(days: list[str], other_chains: list[str] = ()) -> list[tuple[str, str, str | None]]:
    """(label, job, day) of every run of the demo: each day's named daily jobs, as the schedules run them, chain
    first (the other jobs read its days), then the other chains' jobs, and the analytics views last (they count
    what every job loaded)."""
    runs: list[tuple[str, str, str | None]] = [(f"{job} {day}", job, day) for job in ("chain_daily", *other_chains)
                                               for day in days]
    runs += [(f"{scope}_daily {day}", f"{scope}_daily", day) for day in days
             for scope in ("network", "metrics", "bridges", "primary", "subgraphs")]
    return [*runs, ("analytics views", "analytics", None)]


def run_named_job(definitions, instance, job: str, day: str | None, verbose: bool = False):
    """One run of a named job, executed in this process and recorded as a run of the UI's code location."""
    return definitions.resolve_job_def(job).execute_in_process(
        partition_key=day, instance=instance, run_config=run_config(verbose),
        tags={"avax-assets/source": "demo", **code_location_tags()}, raise_on_error=False)


def code_location_tags() -> dict[str, str]:
    """The tag Dagster gives a run launched from a code location (repository@location, workspace.yaml's): a
    job's pages in the UI list only the runs of their code location, so a run executed here without it shows
    nowhere but in Runs."""
    import yaml
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

    [location] = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    return {REPOSITORY_LABEL_TAG: f"{SINGLETON_REPOSITORY_NAME}@{location['python_module']['location_name']}"}


def run_config(verbose: bool) -> dict:
    """The run's console logger silent unless --verbose (then INFO, as Dagster prints it): a failure is
    said once, by `failure`, without the framework's traceback."""
    return {"loggers": {"console": {"config": {"log_level": "INFO" if verbose else "CRITICAL"}}}}


def failure(result) -> str:
    """The first failed step and its error, in a line or two."""
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = (error.cause.message if error.cause else error.message).strip()
            return f"step {event.step_key}: {message}"
    return "the run failed"


def summary(catalogue, resources, days: list[str], devchains, stack: LocalStack) -> None:
    warehouse = resources["clickhouse"].warehouse()
    with warehouse.session():  # one open of the embedded engine for every query of the summary
        _summary(warehouse, catalogue, resources, days, devchains, stack)


def _summary(warehouse, catalogue, resources, days: list[str], devchains, stack: LocalStack) -> None:
    from avax_assets.analytics.views import VIEWS
    from avax_assets.catalogue import SCOPES
    from avax_assets.chain.rpc import JsonRpcClient
    from avax_assets.chain.settings import RpcSettings
    from avax_assets_dev import reconcile

    devchain, l1 = devchains
    datasets = [spec.dataset for specs in SCOPES.values() for spec in specs]
    counts = folded({d.table: [warehouse.partition_rows(d, dt.date.fromisoformat(day)) for day in days]
                     for d in datasets})
    console.print(f"\n[bold]rows per ClickHouse table[/] of database {warehouse.database}, C-Chain, by day "
                  f"({days[0]} to {days[-1]})")
    for line in side_by_side(counts, [day[5:] for day in days]):
        console.print(line)
    l1_chain = next(chain for chain in catalogue.chains if chain.chain_id == DEV_L1.chain_id)
    console.print(f"and of chain {l1_chain.scope} ({l1_chain.chain_id}, an L1), every day: " + ", ".join(
        f"{name} {sum(rows):,}" for name, rows in other_chain_counts(warehouse, l1_chain.chain_id, days).items()))

    first_block, last_block = devchain.blocks_by_day[days[0]][0], devchain.blocks_by_day[days[-1]][1]
    with JsonRpcClient(RpcSettings(url=os.environ["AVAX_RPC_URL"])) as node:
        checks = [
            reconcile.dataset_counts(warehouse, node, first_block, last_block),
            reconcile.erc20_balances(warehouse, node, last_block),
            together("ERC-721 owners, native flows, V2 reserves, WAVAX supply vs the contracts' state", [
                reconcile.erc721_owners(warehouse, node, last_block),
                reconcile.native_flows(warehouse, node, last_block,
                                       [devchain.contracts["ForwarderA"], devchain.contracts["ForwarderB"]]),
                reconcile.v2_reserves(warehouse, node, last_block),
                reconcile.wavax_supply(warehouse, node, last_block)]),
            together(f"token metadata of the {len(days)} days vs the contracts' answers",
                     [reconcile.token_metadata(warehouse, node, day) for day in days]),
            reconcile.subgraph_swaps(warehouse, first_block, last_block),
        ]
        with JsonRpcClient(RpcSettings(url=l1_chain.url)) as l1_node:
            l1_last = l1.blocks_by_day[days[-1]][1]
            checks += [other_chain_reconciled(warehouse, l1_node, l1_chain, l1, days),
                       reconcile.icm_messages(warehouse, {devchain_id(): node, l1_chain.chain_id: l1_node},
                                              {devchain_id(): last_block, l1_chain.chain_id: l1_last})]
    console.print(f"\n[bold]reconciliation with the nodes[/] at blocks {last_block} (C-Chain) and {l1_last} "
                  f"({l1_chain.scope})")
    for check in checks:
        console.print(f"  {check}")
    icm_messages(warehouse)

    swaps_in_token_units(warehouse)
    primary_network(warehouse)

    charts = stack.home / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    written = []
    for view in (v for v in VIEWS if v.chart):
        rows = warehouse.client.query(view.chart.query(warehouse.qualified(view.name))).result_rows
        path = charts / f"{view.name}.png"
        path.write_bytes(view.chart.png(rows))
        written.append(path)
    console.print("\n[bold]where the data is[/]")
    console.print(f"  Kafka      {os.environ['AVAX_KAFKA_BOOTSTRAP_SERVERS']}  topics avalanche.*, avax.metrics.*")
    console.print(f"  Parquet    {os.environ['AVAX_LAKE_ROOT']}/<dataset>/chain_id=<id>/date=YYYY-MM-DD/ on "
                  f"{os.environ['AVAX_S3_ENDPOINT_URL']}")
    console.print(f"  ClickHouse {os.environ['AVAX_CLICKHOUSE_CHDB_PATH']} (embedded), database {warehouse.database}; "
                  f"views {', '.join(v.name for v in VIEWS)}")
    for path in written:
        console.print(f"  chart      {_relative(path)}")
    console.print("\n[bold]next[/]")
    console.print("  the UI:   bash deployments/local/ui.sh            (then http://127.0.0.1:3000)")
    console.print('  SQL:      uv run avax-assets sql "SELECT * FROM avax.daily_chain_activity"')
    if not all(check.ok for check in checks):
        raise SystemExit("reconciliation with the node failed")
    console.print("[bold green]everything reconciles with the node[/]")


def devchain_id() -> int:
    return C_CHAIN.chain_id


FOLDED = ("teleporter_",)  # tables counted together in the demo's table of rows (one event family)


def folded(counts: dict[str, list[int]]) -> dict[str, list[int]]:
    """The rows per table, a family of event tables (teleporter_*) summed in one line."""
    out: dict[str, list[int]] = {}
    for table, rows in counts.items():
        name = next((f"{prefix}*" for prefix in FOLDED if table.startswith(prefix)), table)
        out[name] = [a + b for a, b in zip(out.get(name, [0] * len(rows)), rows, strict=True)]
    return out


OTHER_CHAIN_TABLES = ("blocks", "transactions", "logs", "erc20_transfers", "internal_transactions",
                      "teleporter_send_cross_chain_message", "teleporter_receive_cross_chain_message")


def other_chain_counts(warehouse, chain_id: int, days: list[str]) -> dict[str, list[int]]:
    """Rows of a few of another chain's tables, by day."""
    from avax_assets.catalogue import DATASETS

    return {table.removeprefix("teleporter_").replace("_cross_chain_message", "s"):
            [warehouse.partition_rows(DATASETS[table].on(chain_id), dt.date.fromisoformat(day)) for day in days]
            for table in OTHER_CHAIN_TABLES}


def other_chain_reconciled(warehouse, node, chain, devchain, days: list[str]):
    """Another chain's tables reconciled with its own node, in one line."""
    from avax_assets_dev import reconcile

    first, last, chain_id = devchain.blocks_by_day[days[0]][0], devchain.blocks_by_day[days[-1]][1], chain.chain_id
    return together(f"chain {chain.scope}: dataset counts, ERC-20 balances, ERC-721 owners, native flows, V2 reserves, "
                    "WAVAX, token metadata vs its node", [
                        reconcile.dataset_counts(warehouse, node, first, last, chain_id=chain_id),
                        reconcile.erc20_balances(warehouse, node, last, chain_id),
                        reconcile.erc721_owners(warehouse, node, last, chain_id),
                        reconcile.native_flows(warehouse, node, last, [devchain.contracts["ForwarderA"],
                                                                       devchain.contracts["ForwarderB"]], chain_id),
                        reconcile.v2_reserves(warehouse, node, last, chain_id),
                        reconcile.wavax_supply(warehouse, node, last, chain_id),
                        *(reconcile.token_metadata(warehouse, node, day, chain_id) for day in days)])


def icm_messages(warehouse) -> None:
    """The cross-chain messages matched across the two chains, by status."""
    rows = warehouse.client.query(
        f"SELECT status, count(), round(avg(latency_seconds)) FROM {warehouse.qualified('icm_messages')} "
        "GROUP BY status ORDER BY status").result_rows
    console.print("  ICM messages between the chains, matched by message id (icm_messages): " + "; ".join(
        f"{status} {count}" + (f" (after {latency:g} s on average)" if latency == latency and latency else "")
        for status, count, latency in rows))


def side_by_side(counts: dict[str, list[int]], days: list[str]) -> list[str]:
    """The rows of each table by day, in two columns (the first half of the tables down the left): the
    demo's whole output fits a screen."""
    names = list(counts)
    width = max(map(len, names))
    cell = 1 + max(*map(len, days), *(len(f"{c:,}") for row in counts.values() for c in row))

    def column(name: str | None) -> str:
        if name is None:
            return ""
        return f"{name:<{width}}" + "".join(f"{c:>{cell},}" for c in counts[name])

    half = (len(names) + 1) // 2
    left, right = names[:half], [*names[half:], *[None] * (2 * half - len(names))]
    header = f"{'table':<{width}}" + "".join(f"{day:>{cell}}" for day in days)
    return [f"{header}  {header}", *(f"{column(a)}  {column(b)}".rstrip() for a, b in zip(left, right, strict=True))]


def together(name: str, checks: list):
    """Several reconciliations said in one line."""
    from avax_assets_dev.reconcile import Reconciliation

    return Reconciliation(name, sum(c.checked for c in checks), [m for c in checks for m in c.mismatches])


SWAPS_SHOWN = 2


def swaps_in_token_units(warehouse) -> None:
    """The swaps view's first rows, amounts in token units, and its swaps per DEX kind."""
    view = warehouse.qualified("swaps")
    per_dex = warehouse.client.query(f"SELECT dex, count() FROM {view} GROUP BY dex ORDER BY dex").result_rows
    rows = warehouse.client.query(
        f"SELECT block_number, dex, amount_in_units, symbol_in, amount_out_units, symbol_out, transaction_hash "
        f"FROM {view} ORDER BY block_number, log_index LIMIT {SWAPS_SHOWN}").result_rows
    console.print(f"\n[bold]swaps[/] ({', '.join(f'{dex} {n:,}' for dex, n in per_dex)}), in token units, exact")
    console.print(f"{'block':>6}  {'dex':<15} {'paid in':>36}        {'paid out':>36}        transaction")
    for block, dex, amount_in, symbol_in, amount_out, symbol_out, tx in rows:
        console.print(f"{block:>6}  {dex:<15} {amount_in or '?':>36} {symbol_in or '?':<6} "
                      f"{amount_out or '?':>36} {symbol_out or '?':<6} {tx[:18]}…")


FLOWS_SHOWN = 8


def primary_network(warehouse) -> None:
    """The P-Chain's fixture days reconciled: C↔P flows matched by UTXO id, and the snapshots' current stakers
    found among the P-Chain's transactions."""
    view = warehouse.qualified("c_p_flow_matches")
    matched = warehouse.client.query(
        f"SELECT corridor, export_transaction_id, import_transaction_id, toString(sent_navax), crossing_seconds "
        f"FROM {view} WHERE status = 'matched' ORDER BY exported_at LIMIT {FLOWS_SHOWN}").result_rows
    unmatched = warehouse.client.query(
        f"SELECT corridor, status, count(), toString(sum(ifNull(sent_navax, received_navax))) FROM {view} "
        "WHERE status != 'matched' GROUP BY corridor, status ORDER BY corridor, status").result_rows
    console.print("\n[bold]AVAX between the C-Chain and the P-Chain[/], matched by UTXO id (c_p_flow_matches, nAVAX; "
                  "the C-Chain's side from a FAKE in front of anvil, which makes none: local/atomic_proxy.py)")
    for corridor, export, import_, amount, seconds in matched:
        console.print(f"  matched {corridor}: export {export[:12]}… → import {import_[:12]}…, {amount:>12} nAVAX, "
                      f"{seconds} s later")
    if not matched:
        atomic = warehouse.client.query(f"SELECT count() FROM {warehouse.qualified('atomic_transactions')}")
        console.print(f"  none matched: the C-Chain side has {atomic.result_rows[0][0]} atomic transactions (blocks "
                      "from the Data API carry no blockExtraData)")
    console.print("  unmatched: " + ("; ".join(f"{corridor} {count} UTXO, {amount} nAVAX, {status}"
                                               for corridor, status, count, amount in unmatched) or "none"))
    staking = warehouse.client.query(
        f"SELECT kind, count(), countIf(found) FROM {warehouse.qualified('staking_snapshot_matches')} "
        "GROUP BY kind ORDER BY kind").result_rows
    console.print("  current stakers of the newest snapshot with their staking transaction in p_chain_transactions: "
                  + ", ".join(f"{kind}s {found}/{total}" for kind, total, found in staking))


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
