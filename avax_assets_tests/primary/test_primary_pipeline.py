"""The primary network's datasets through the whole pipeline on the real local services: the fixture P-Chain's
days from the fixture server (Data API, then a node's platform API) → Kafka → Parquet on S3 → ClickHouse with
their audits; the devchain's atomic transactions (anvil makes no blockExtraData: none, and the tables exist; the
FAKE that adds some is test_atomic_devchain.py's); the views over them."""

import dagster as dg
import pytest

from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.catalogue import Catalogue
from avax_assets.primary.datasets import P_CHAIN_BLOCKS, P_CHAIN_REWARDS, P_CHAIN_TRANSACTIONS, P_CHAIN_UTXOS
from avax_assets.primary.resources import PChainResource
from avax_assets_dev.local.avacloud_fixtures import AvaCloudFixtureServer
from avax_assets_tests.support import kafka_messages_of_run, materialization_of

DAYS = ("2024-06-01", "2024-06-02", "2024-06-03")
# per day: blocks, transactions, UTXOs, rewards of the fixture story (avax_assets_dev/local/p_chain_fixtures.py)
EXPECTED = {"2024-06-01": (6, 5, 12, 1), "2024-06-02": (13, 13, 34, 4), "2024-06-03": (4, 6, 16, 0)}
DATASETS = (P_CHAIN_BLOCKS, P_CHAIN_TRANSACTIONS, P_CHAIN_UTXOS, P_CHAIN_REWARDS)


@pytest.fixture(scope="module")
def fixture_server():
    with AvaCloudFixtureServer() as server:
        yield server


@pytest.fixture(scope="module")
def from_data_api(resources, fixture_server):
    faked = {**resources, "avacloud": AvaCloudResource(data_url=fixture_server.url, page_size=3)}
    results = {day: dg.materialize(Catalogue().scope("primary"), partition_key=day, resources=faked) for day in DAYS}
    assert all(result.success for result in results.values())
    return results, faked


def counts(warehouse, day: str) -> tuple:
    return tuple(warehouse.client.query(f"SELECT count() FROM avax.{d.table} WHERE toDate(block_timestamp) = "
                                        "{d:Date}", parameters={"d": day}).result_rows[0][0] for d in DATASETS)


def test_the_p_chain_days_land_everywhere_and_pass_their_audits(from_data_api, resources, pipeline_env, lake):
    results, _ = from_data_api
    warehouse = resources["clickhouse"].warehouse()
    for day, result in results.items():
        assert counts(warehouse, day) == EXPECTED[day], day
        assert [lake.open_partition(d, day).num_rows for d in DATASETS] == list(EXPECTED[day])
        checks = result.get_asset_check_evaluations()
        assert {c.check_name for c in checks} >= {"unique_keys", "contiguous_blocks", "adjacent_days_contiguous",
                                                  "hash_chain", "joins_parent", "parent_counts_match",
                                                  "rows_match_parquet"}
        assert all(check.passed for check in checks), [c.check_name for c in checks if not c.passed]
    day2 = results["2024-06-02"]
    messages = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], P_CHAIN_TRANSACTIONS.topic,
                                     day2.run_id)
    assert P_CHAIN_TRANSACTIONS.topic == "avalanche.transactions.p-chain" and len(messages) == 13
    metadata = materialization_of(day2, "p_chain_transactions").metadata
    assert metadata["unknown_transaction_types"].value == {"UNKNOWN": 1}
    assert metadata["source"].value == "avacloud data api" and metadata["compute_units"].value > 0
    rows = warehouse.client.query(
        "SELECT tx_type, toString(amount_staked), toString(fee_burned), delegation_fee FROM avax.p_chain_transactions "
        "WHERE tx_type = 'AddPermissionlessValidatorTx' ORDER BY amount_staked DESC LIMIT 1").result_rows
    assert rows == [("AddPermissionlessValidatorTx", "18446744073709551617000", "1000000", "5.5000")]
    paid = warehouse.client.query("SELECT reward_type, toString(sum(reward_amount)) FROM avax.p_chain_rewards "
                                  "GROUP BY reward_type ORDER BY reward_type").result_rows
    assert paid == [("DELEGATOR", "2419752"), ("VALIDATOR", "123456789012"), ("VALIDATOR_FEE", "49382")]


def test_a_day_from_a_node_replaces_the_data_apis_with_the_same_rows(from_data_api, resources, fixture_server):
    _, faked = from_data_api
    warehouse = resources["clickhouse"].warehouse()
    compared = ("SELECT block_number, block_id, tx_type, transaction_id, toString(fee_burned), "
                "toString(amount_staked), node_id, start_timestamp FROM avax.p_chain_transactions "
                "WHERE toDate(block_timestamp) = '2024-06-03' ORDER BY transaction_id")
    before = warehouse.client.query(compared).result_rows
    node = {**faked, "p_chain": PChainResource(rpc_url=f"{fixture_server.url}/ext/bc/P")}
    result = dg.materialize(Catalogue().scope("primary"), partition_key="2024-06-03", resources=node)
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    assert materialization_of(result, "p_chain_blocks").metadata["source"].value == "p-chain node"
    assert warehouse.client.query(compared).result_rows == before
    assert counts(warehouse, "2024-06-03") == EXPECTED["2024-06-03"]
    assert any(r.startswith("POST /ext/bc/P") for r in fixture_server.requests)


def test_the_devchain_has_no_atomic_transactions_and_the_views_match_staking_to_the_snapshots(
        from_data_api, resources, devchain):
    _, faked = from_data_api
    day = "2024-06-03"
    chain = dg.materialize(Catalogue().scope("chain"), partition_key=day, resources=resources,
                           selection=["blocks", "clickhouse_blocks", "atomic_transactions",
                                      "clickhouse_atomic_transactions", "atomic_inputs_outputs",
                                      "clickhouse_atomic_inputs_outputs"])
    assert chain.success
    decoded = [c for c in chain.get_asset_check_evaluations() if c.check_name == "atomic_payloads_decode"]
    assert len(decoded) == 2 and all(c.passed for c in decoded)
    assert materialization_of(chain, "atomic_transactions").metadata["dagster/row_count"].value == 0
    assert dg.materialize(Catalogue().scope("network"), partition_key=day, resources=faked).success
    assert dg.materialize(Catalogue().analytics, resources=resources).success
    warehouse = resources["clickhouse"].warehouse()
    staking = warehouse.client.query("SELECT kind, count(), countIf(found) FROM avax.staking_snapshot_matches "
                                     "GROUP BY kind ORDER BY kind").result_rows
    assert staking == [("delegator", 4, 4), ("validator", 4, 4)]
    flows = warehouse.client.query("SELECT corridor, status, count() FROM avax.c_p_flow_matches GROUP BY ALL "
                                   "ORDER BY ALL").result_rows
    assert flows == [("C→P", "export not loaded", 2), ("P→C", "not imported yet", 2)]
