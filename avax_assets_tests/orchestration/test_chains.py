"""Several EVM chains side by side: a chain added by configuration alone (its own anvil, chain id and native
token, shaped as an L1), stored beside the C-Chain without collisions, refused when its node serves another chain,
and failing alone when its node is down."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from avax_assets.catalogue import Catalogue, build_resources, configured_chains
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.days import day_block_range
from avax_assets.core.errors import SettingError
from avax_assets_dev.devchain.generator import DevchainSpec, ensure_devchain
from avax_assets_dev.local.services import Anvil
from avax_assets_tests.conftest import service_port
from avax_assets_tests.support import kafka_messages_of_run

L1_ID = 777_001  # a local chain id of our own choosing
DAY = "2024-06-01"
REPO = Path(__file__).resolve().parents[2]
L1 = DevchainSpec(seed=11, days=2, blocks_per_day=12, max_txs_per_block=3)


@pytest.fixture(scope="module")
def l1_node(stack):
    """A second local chain: its own anvil (chain id L1_ID) with a devchain of its own."""
    anvil = Anvil("anvil-l1", service_port(18546), stack.home, chain_id=L1_ID)
    started = not (anvil.pid() and anvil.is_ready())
    if started:
        anvil.start()
    try:
        ensure_devchain(anvil.url, L1, stack.home / "devchain-l1.json")
        yield anvil
    finally:
        if started:
            anvil.stop()


def l1_environment(url: str, **more: str) -> dict[str, str]:
    return {"AVAX_CHAINS": "l1", "AVAX_L1_RPC_URL": url, "AVAX_L1_CHAIN_ID": str(L1_ID),
            "AVAX_L1_CHAIN_VM": "subnet_evm", "AVAX_L1_NATIVE_SYMBOL": "LONE", "AVAX_L1_CHAIN_START_DATE": "2024-06-01",
            "AVAX_L1_CHAIN_END_DATE": "2024-06-02", **more}


def materialize_l1_day(monkeypatch, url: str, **more: str):
    for name, value in l1_environment(url, **more).items():
        monkeypatch.setenv(name, value)
    catalogue = Catalogue()
    return dg.materialize(catalogue.scope("l1_chain"), partition_key=DAY, resources=build_resources(),
                          raise_on_error=False)


def node_blocks(url: str, chain_id: int) -> range:
    with JsonRpcClient(RpcSettings(url=url, chain_id=chain_id)) as client:
        blocks = day_block_range(ChainReader(client), dt.date.fromisoformat(DAY))
    return range(blocks.first, blocks.last + 1)


def test_a_chain_added_by_configuration_alone_is_stored_beside_the_c_chain(monkeypatch, pipeline_env, resources,
                                                                           stack, l1_node):
    home = dg.materialize(Catalogue().scope("chain"), selection=["blocks", "transactions", "logs", "clickhouse_blocks",
                                                                 "clickhouse_transactions", "clickhouse_logs"],
                          partition_key=DAY, resources=resources)
    assert home.success
    result = materialize_l1_day(monkeypatch, l1_node.url)
    assert result.success
    warehouse = resources["clickhouse"].warehouse()
    per_chain = dict(warehouse.client.query(
        "SELECT chain_id, count() FROM avax.blocks WHERE toDate(block_timestamp) = {day:Date} GROUP BY chain_id",
        parameters={"day": DAY}).result_rows)
    assert per_chain == {43114: len(node_blocks(stack.anvil.url, 43114)), L1_ID: len(node_blocks(l1_node.url, L1_ID))}
    for table in ("transactions", "logs", "erc20_transfers"):  # the L1's rows, each saying its chain
        chains = {row[0] for row in warehouse.client.query(f"SELECT DISTINCT chain_id FROM avax.{table}").result_rows}
        assert L1_ID in chains, table
    # its own topic, Parquet folder and assets; the C-Chain's untouched
    published = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], f"avalanche.blocks.{L1_ID}",
                                      result.run_id)
    assert len(published) == per_chain[L1_ID]
    assert all(m.key().startswith(f"{L1_ID}:".encode()) for m in published)  # keys unique across chains
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert {"l1/blocks", "l1/clickhouse_blocks", "l1/erc20_transfers"} <= materialized
    assert "l1/internal_transactions" in materialized and "l1/atomic_transactions" not in materialized
    parquet = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "l1/blocks"]
    path = parquet[0].step_materialization_data.materialization.metadata["parquet_path"].value
    assert f"/blocks/chain_id={L1_ID}/date={DAY}/blocks.parquet" in path
    again = materialize_l1_day(monkeypatch, l1_node.url)  # a re-run leaves the same rows
    assert again.success
    assert warehouse.client.query("SELECT count() FROM avax.blocks WHERE chain_id = {c:UInt64} AND "
                                  "toDate(block_timestamp) = {day:Date}",
                                  parameters={"c": L1_ID, "day": DAY}).result_rows[0][0] == per_chain[L1_ID]


def test_a_chain_whose_node_serves_another_chain_is_refused_naming_its_variable(monkeypatch, pipeline_env, stack):
    result = materialize_l1_day(monkeypatch, stack.anvil.url)  # the C-Chain's node, configured as the L1's
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.to_string()
    assert "serves chain id 43114, not 777001" in failure and "AVAX_L1_CHAIN_ID" in failure


def test_a_chain_whose_node_is_down_fails_alone_naming_its_url_variable(monkeypatch, pipeline_env):
    result = materialize_l1_day(monkeypatch, "http://127.0.0.1:9", AVAX_L1_RPC_MAX_ATTEMPTS="1")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.to_string()
    assert "AVAX_L1_RPC_URL" in failure
    # the home chain's job does not depend on it: its assets and resources are its own, and its day goes green
    # with the L1 still configured and down
    catalogue = Catalogue()
    job = catalogue.definitions(build_resources()).resolve_job_def("chain_daily")
    assert not any(key.path[0] == "l1" for key in job.asset_layer.selected_asset_keys)
    home = dg.materialize(catalogue.scope("chain"), selection=["blocks", "clickhouse_blocks"], partition_key=DAY,
                          resources=build_resources(), raise_on_error=False)
    assert home.success


def test_two_chains_with_one_id_are_refused_naming_both():
    with pytest.raises(SettingError, match=r"chains the home chain \(43114\) and l1 both have chain id 43114; set "
                                           r"AVAX_L1_CHAIN_ID"):
        configured_chains({"AVAX_CHAINS": "l1", "AVAX_L1_RPC_URL": "http://127.0.0.1:9650/ext/bc/l1/rpc"})


def test_a_chain_is_one_settings_object_read_with_its_name():
    home, l1 = configured_chains(l1_environment("https://l1.example/rpc", AVAX_L1_RPC_BATCH_SIZE="7"))
    assert (home.chain_id, home.scope, home.native_symbol) == (43114, None, "AVAX")
    assert (l1.chain_id, l1.scope, l1.native_symbol, l1.batch_size, l1.vm.value) == (L1_ID, "l1", "LONE", 7,
                                                                                     "subnet_evm")
    assert l1.variable("url") == "AVAX_L1_RPC_URL" and home.variable("url") == "AVAX_RPC_URL"


# --- the views across chains, on the session's embedded ClickHouse (no service) ---------------------------------

@pytest.fixture
def warehouse(chdb_path):
    from avax_assets.core.chdb import chdb_client
    from avax_assets.core.clickhouse import ClickHouseWarehouse

    warehouse = ClickHouseWarehouse(chdb_client(str(chdb_path)), "chain_views")
    warehouse.client.command("DROP DATABASE IF EXISTS chain_views")
    return warehouse


def load(warehouse, dataset, day: dt.date, rows: list[dict]) -> None:
    import pyarrow as pa

    full = [{name: None for name in dataset.source_schema.names} | row for row in rows]
    warehouse.replace_partition(dataset, day, [pa.RecordBatch.from_pylist(full, schema=dataset.source_schema)])


def view_rows(warehouse, name: str, sql: str) -> list[tuple]:
    from avax_assets.analytics.views import VIEWS

    view = next(v for v in VIEWS if v.name == name)
    for dataset in view.reads:
        warehouse.ensure_table(dataset)
    warehouse.create_view(name, view.select.format(db="chain_views"))
    return warehouse.client.query(sql.format(view=f"chain_views.{name}")).result_rows


def transaction(chain_day: dt.date, index: int, sender: str) -> dict:
    stamp = int(dt.datetime.combine(chain_day, dt.time(12), dt.timezone.utc).timestamp()) + index
    return {"block_number": 10 + index, "block_timestamp": stamp, "block_hash": f"0x{index:064x}",
            "transaction_index": 0, "transaction_hash": f"0x{index:064x}", "from_address": sender, "value": "0",
            "nonce": index, "gas": 21_000, "transaction_type": 0, "status": 1, "gas_used": 21_000,
            "effective_gas_price": "1", "transaction_fee": str(10**18 + index)}


def test_daily_activity_is_per_chain_and_chains_ingested_says_which_listed_chains_are_loaded(warehouse):
    from avax_assets.avacloud.snapshots import CHAINS
    from avax_assets.chain.datasets import BLOCKS, TRANSACTIONS

    day = dt.date(2024, 6, 1)
    l1_transactions = TRANSACTIONS.on(L1_ID, ("l1",))
    load(warehouse, TRANSACTIONS, day, [transaction(day, i, "0x" + "a" * 40) for i in range(3)])
    load(warehouse, l1_transactions, day, [transaction(day, i, "0x" + "b" * 40) for i in range(2)])  # same hashes
    activity = view_rows(warehouse, "daily_chain_activity",
                         "SELECT chain_id, transactions, toString(fees_wei) FROM {view} ORDER BY chain_id")
    assert activity == [(43114, 3, str(3 * 10**18 + 3)), (L1_ID, 2, str(2 * 10**18 + 1))]

    noon = int(dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone.utc).timestamp())
    for dataset, count in ((BLOCKS, 2), (BLOCKS.on(L1_ID, ("l1",)), 1)):
        load(warehouse, dataset, day, [{"block_number": n, "block_timestamp": noon + n, "block_hash": f"0x{n:x}",
                                        "parent_hash": "0x0", "gas_limit": 1, "gas_used": 0, "transaction_count": 0}
                                       for n in range(count)])
    listed = [{"snapshot_date": day, "fetched_at": noon, "chain_id": chain_id, "chain_name": name, "status": "OK",
               "vm_name": "EVM", "is_testnet": False, "rpc_url": "https://x", "network_token_symbol": symbol,
               "network_token_decimals": 18} for chain_id, name, symbol in (("43114", "Avalanche C-Chain", "AVAX"),
                                                                           ("53935", "DFK Chain", "JEWEL"))]
    warehouse.replace_partition(CHAINS, day, [pa_batch(CHAINS, listed)])
    chains = view_rows(warehouse, "chains_ingested", "SELECT chain_id, chain_name, listed_by_avacloud, ingested, "
                                                     "loaded_blocks FROM {view} ORDER BY chain_id")
    assert chains == [(43114, "Avalanche C-Chain", True, True, 2), (53935, "DFK Chain", True, False, 0),
                      (L1_ID, None, False, True, 1)]


def pa_batch(dataset, rows: list[dict]):
    import pyarrow as pa

    full = [{name: None for name in dataset.arrow_schema.names} | row for row in rows]
    return pa.RecordBatch.from_pylist(full, schema=dataset.arrow_schema)


def test_two_chains_never_share_a_topic_key_transactional_id_parquet_folder_or_staging_table():
    from avax_assets.catalogue import chain_assets
    from avax_assets.core.kafka import transactional_id

    home, l1 = configured_chains(l1_environment("https://l1.example/rpc"))
    of = {chain.chain_id: [spec.dataset for spec in chain_assets(chain)[0]] for chain in (home, l1)}
    # an L1 has no atomic transactions, and this one no wrapped native token (none set)
    assert {d.name for d in of[L1_ID]} == {d.name for d in of[43114]} - {"atomic_transactions", "atomic_inputs_outputs",
                                                                         "wavax_deposit", "wavax_withdrawal"}
    everything = [d for datasets in of.values() for d in datasets]
    for derived in (lambda d: d.topic, lambda d: d.lake_folder, lambda d: transactional_id(d, DAY),
                    lambda d: d.qualified_name):  # the staging table's name carries the chain id too
        values = [derived(d) for d in everything]
        assert len(values) == len(set(values))
    assert all(d.key[0] == "chain_id" and d.topic.endswith(f".{d.chain_id}") for d in everything)
    assert {d.table for d in of[L1_ID]} <= {d.table for d in of[43114]}  # one table per dataset, every chain in it


def test_a_chain_s_assets_have_their_own_prefix_group_pool_days_job_and_schedule(monkeypatch):
    for name, value in l1_environment("https://l1.example/rpc", AVAX_L1_CHAIN_START_DATE="2024-05-30").items():
        monkeypatch.setenv(name, value)
    defs = Catalogue().definitions(build_resources())
    graph = defs.resolve_asset_graph()
    blocks = graph.get(dg.AssetKey(["l1", "blocks"]))
    assert blocks.group_name == "l1_chain" and blocks.pools == {"rpc_l1"}
    assert blocks.partitions_def.get_partition_keys() == ["2024-05-30", "2024-05-31", "2024-06-01", "2024-06-02"]
    assert graph.get(dg.AssetKey("blocks")).pools == {"rpc"}  # the home chain's node is its own
    assert dg.AssetKey(["l1", "clickhouse_transactions"]) in graph.get(dg.AssetKey(["l1", "transactions"])).child_keys
    assert {s.name for s in defs.schedules} >= {"chain_daily_schedule", "l1_chain_daily_schedule"}
    assert defs.resources["rpc_l1"].settings().url == "https://l1.example/rpc"


def test_a_chains_wrapped_native_events_are_its_own_tokens_or_none(monkeypatch):
    fuji_wavax = "0xd00ae08403b9bbb9124bb305c09058e32c39a48c"
    for name, value in {**l1_environment("https://l1.example/rpc"), "AVAX_CHAINS": "l1,fuji",
                        "AVAX_FUJI_RPC_URL": "https://fuji.example/rpc", "AVAX_FUJI_CHAIN_ID": "43113",
                        "AVAX_FUJI_WRAPPED_NATIVE": fuji_wavax}.items():
        monkeypatch.setenv(name, value)
    graph = Catalogue().definitions(build_resources()).resolve_asset_graph()
    described = {key.to_user_string(): graph.get(key).description for key in graph.get_all_asset_keys()
                 if key.path[-1] == "wavax_withdrawal"}
    assert set(described) == {"wavax_withdrawal", "fuji/wavax_withdrawal"}  # the L1 sets none: it has none
    assert "emitted by 0xb31f66aa3c1e785363f0875a1b74e27b85fd66c7" in described["wavax_withdrawal"]
    assert f"emitted by {fuji_wavax}," in described["fuji/wavax_withdrawal"]


def test_one_days_runs_of_two_chains_never_wait_for_each_other_a_days_second_run_does(monkeypatch):
    """The instances limit runs per job-day tag (dagster.yaml, production, helm): the C-Chain's and the L1's runs
    of one day carry different values, two runs of one job's day the same one."""
    import yaml

    from avax_assets.orchestration.schedules import JOB_DAY_TAG

    for name, value in l1_environment("https://l1.example/rpc", AVAX_L1_CHAIN_START_DATE="2024-05-30").items():
        monkeypatch.setenv(name, value)
    defs = Catalogue().definitions(build_resources())
    at = dt.datetime(2024, 6, 2, 1, tzinfo=dt.timezone.utc)
    with dg.instance_for_test() as instance:
        tags = {name: [request.tags[JOB_DAY_TAG] for request in defs.resolve_schedule_def(f"{name}_schedule")
                       .evaluate_tick(dg.build_schedule_context(instance, scheduled_execution_time=at)).run_requests]
                for name in ("chain_daily", "l1_chain_daily")}
    assert tags == {"chain_daily": ["chain_daily:2024-06-01"], "l1_chain_daily": ["l1_chain_daily:2024-06-01"]}
    for path in ("dagster.yaml", "deployments/production/dagster.yaml"):
        limits = yaml.safe_load((REPO / path).read_text())["concurrency"]["runs"]["tag_concurrency_limits"]
        assert {"key": JOB_DAY_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits, path
        assert not any(limit["key"] == "dagster/partition" for limit in limits), path


def test_the_configured_chains_view_lists_each_chain_from_its_settings(warehouse):
    from avax_assets.catalogue import configured_chains_view

    chains = configured_chains(l1_environment("https://l1.example/rpc", AVAX_L1_CHAIN_TRACING="false",
                                              AVAX_L1_BLOCKCHAIN_ID="2q9e4r6Mu3U68nU1fYjgbR6JvwrRx36CohpAX5UQxse55x1Q5"))
    view = configured_chains_view(chains)
    warehouse.create_view(view.name, view.select.format(db="chain_views"))
    rows = warehouse.client.query("SELECT chain_id, name, vm, blockchain_id, native_symbol, serves_traces "
                                  "FROM chain_views.configured_chains ORDER BY chain_id").result_rows
    assert rows == [(43114, "home", "coreth", None, "AVAX", True),
                    (L1_ID, "l1", "subnet_evm", "2q9e4r6Mu3U68nU1fYjgbR6JvwrRx36CohpAX5UQxse55x1Q5", "LONE", False)]
    with pytest.raises(SettingError, match="AVAX_L1_NATIVE_SYMBOL"):
        configured_chains(l1_environment("https://l1.example/rpc", AVAX_L1_NATIVE_SYMBOL="x'); DROP TABLE t; --"))
