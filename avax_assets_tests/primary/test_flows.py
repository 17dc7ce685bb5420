"""The primary network's views on the session's embedded ClickHouse (no service): C-Chain atomic transactions
(encoded by Ava Labs' JavaScript library, decoded by ours) matched to P-Chain UTXOs by UTXO id, both ways; what
is unmatched listed with its age; the day's AVAX per corridor; staking matched to the snapshots."""

import datetime as dt

import pyarrow as pa
import pytest

from avax_assets.analytics.views import VIEWS
from avax_assets.core.chdb import chdb_client
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.primary import ids
from avax_assets.primary.atomic_rows import decode_blocks
from avax_assets.primary.datasets import (ATOMIC_INPUTS_OUTPUTS, ATOMIC_TRANSACTIONS, P_CHAIN_TRANSACTIONS,
                                          P_CHAIN_UTXOS)
from avax_assets_tests.primary.test_atomic import blocks_batch, javascript  # noqa: F401 (a fixture)

DAY = dt.date(2024, 6, 2)
NOON = int(dt.datetime(2024, 6, 2, 12, tzinfo=dt.timezone.utc).timestamp())
VIEW = {view.name: view for view in VIEWS}


@pytest.fixture
def warehouse(chdb_path):
    warehouse = ClickHouseWarehouse(chdb_client(str(chdb_path)), "flows")
    warehouse.client.command("DROP DATABASE IF EXISTS flows")
    return warehouse


def load(warehouse, dataset, rows: list[dict]) -> None:
    full = [{c.name: None for c in dataset.columns} | row for row in rows]
    warehouse.replace_partition(dataset, DAY, [pa.RecordBatch.from_pylist(full, schema=dataset.arrow_schema)])


def p_utxo(tx: str, direction: str, creator: str, index: int, amount: int, created: str, consumed: str) -> dict:
    return {"block_number": 7, "block_timestamp": NOON + 3_600, "transaction_id": tx, "direction": direction,
            "utxo_id": ids.utxo_id_of(creator, index), "utxo_transaction_id": creator, "output_index": index,
            "asset_id": ids.AVAX_ASSET[1], "amount": str(amount), "staked": False,
            "created_on_blockchain_id": created, "consumed_on_blockchain_id": consumed}


def query(warehouse, view: str, sql: str) -> list[tuple]:
    warehouse.create_view(view, VIEW[view].select.format(db="flows"))
    return warehouse.client.query(sql.format(view=f"flows.{view}")).result_rows


def test_c_chain_exports_and_imports_match_p_chain_utxos_by_id(warehouse, javascript):  # noqa: F811
    decoded = decode_blocks([blocks_batch([{"block_number": 101, "block_timestamp": NOON, "block_hash": "0x65",
                                            "block_extra_data": "0x" + javascript["batch"]}])])
    load(warehouse, ATOMIC_TRANSACTIONS, decoded.transactions)
    load(warehouse, ATOMIC_INPUTS_OUTPUTS, decoded.inputs_outputs)
    txs = {encoded["name"]: encoded for encoded in javascript["txs"]}
    export_to_p = txs["export to P"]["id"]
    p_export = ids.cb58(bytes.fromhex("33" * 32))  # the P-Chain export whose output 2 'import from P' spends
    load(warehouse, P_CHAIN_UTXOS, [
        p_utxo("P-import", "consumed", export_to_p, 0, 2_000_000_000, ids.C_CHAIN, ids.P_CHAIN),
        p_utxo(p_export, "produced", p_export, 2, 5_000_001, ids.P_CHAIN, ids.C_CHAIN),
        p_utxo(p_export, "produced", p_export, 3, 9, ids.P_CHAIN, ids.C_CHAIN),  # not imported (yet)
        p_utxo("P-import-2", "consumed", ids.cb58(b"\x07" * 32), 0, 5, ids.C_CHAIN, ids.P_CHAIN),  # export not loaded
    ])
    rows = query(warehouse, "c_p_flow_matches", "SELECT corridor, status, export_transaction_id, "
                 "import_transaction_id, toString(sent_navax), toString(received_navax), crossing_seconds, "
                 "unmatched_age_seconds > 0 FROM {view} ORDER BY corridor, status, ifNull(sent_navax, 0)")
    assert [row[:2] for row in rows] == [
        ("C→P", "export not loaded"), ("C→P", "matched"), ("C→X", "not imported yet"), ("C→X", "not imported yet"),
        ("P→C", "export not loaded"), ("P→C", "matched"), ("P→C", "not imported yet"), ("X→C", "export not loaded"),
        ("X→C", "export not loaded")]
    assert rows[1][2:7] == (export_to_p, "P-import", "2000000000", "2000000000", 3_600)
    assert rows[5][2:7] == (p_export, txs["import from P"]["id"], "5000001", "5000001", -3_600)
    assert rows[1][7] is None and all(row[7] for row in rows if row[1] != "matched")
    daily = query(warehouse, "avax_c_p_flows_daily", "SELECT corridor, utxos_sent, toString(sent_navax), "
                  "utxos_received, toString(received_navax) FROM {view} ORDER BY corridor")
    assert daily == [("C→P", 1, "2000000000", 2, "2000000005"), ("C→X", 2, "100", 0, "0"),
                     ("P→C", 2, "5000010", 1, "5000001"), ("X→C", 0, "0", 2, "18446744074709551615")]


def test_every_current_validator_and_delegator_is_matched_to_its_staking_transaction(warehouse):
    from avax_assets.avacloud.snapshots import DELEGATORS, VALIDATORS

    snapshot = {"snapshot_date": DAY, "fetched_at": NOON, "subnet_id": ids.P_CHAIN, "start_timestamp": NOON}

    def load_snapshot(dataset, rows):
        full = [{c.name: None for c in dataset.columns} | snapshot | row for row in rows]
        warehouse.replace_partition(dataset, DAY, [pa.RecordBatch.from_pylist(full, schema=dataset.arrow_schema)])

    load_snapshot(VALIDATORS, [
        {"validation_id": "v1", "tx_hash": "v1", "validator_kind": "primary_network", "node_id": "NodeID-a",
         "validation_status": "active", "amount_staked": "2000000000000"},
        {"validation_id": "v2", "tx_hash": "v2", "validator_kind": "primary_network", "node_id": "NodeID-b",
         "validation_status": "pending", "amount_staked": "1"},
        {"validation_id": "v3", "tx_hash": "v3", "validator_kind": "primary_network", "node_id": "NodeID-c",
         "validation_status": "completed", "amount_staked": "1"},
        {"validation_id": "l1", "validator_kind": "l1", "node_id": "NodeID-d", "validation_status": "active"}])
    load_snapshot(DELEGATORS, [{"tx_hash": "d1", "node_id": "NodeID-a", "delegation_status": "active",
                                "reward_addresses": "[]", "amount_delegated": "25", "delegation_fee": "2",
                                "end_timestamp": NOON}])
    staked = (("v1", "AddPermissionlessValidatorTx"), ("d1", "AddPermissionlessDelegatorTx"))
    load(warehouse, P_CHAIN_TRANSACTIONS, [
        {"block_number": 7, "block_timestamp": NOON, "block_id": "b", "transaction_id": tx, "tx_type": kind,
         "utxo_count": 0} for tx, kind in staked])
    rows = query(warehouse, "staking_snapshot_matches", "SELECT kind, tx_hash, status, found, tx_type "
                 "FROM {view} ORDER BY kind, tx_hash")
    assert rows == [("delegator", "d1", "active", True, "AddPermissionlessDelegatorTx"),
                    ("validator", "v1", "active", True, "AddPermissionlessValidatorTx"),
                    ("validator", "v2", "pending", False, None)]


def test_staking_and_l1_fees_per_day(warehouse):
    from avax_assets.primary.datasets import P_CHAIN_BLOCKS, P_CHAIN_REWARDS

    load(warehouse, P_CHAIN_BLOCKS, [{"block_number": n, "block_timestamp": NOON + n, "block_id": f"b{n}",
                                      "parent_block_id": f"b{n - 1}", "block_type": "BanffStandardBlock",
                                      "transaction_count": 1, "l1_validators_accrued_fees": str(1_000 * n)}
                                     for n in (1, 2)])
    warehouse.replace_partition(P_CHAIN_BLOCKS, DAY + dt.timedelta(days=1), [pa.RecordBatch.from_pylist(
        [{c.name: None for c in P_CHAIN_BLOCKS.columns} | {
            "block_number": 3, "block_timestamp": NOON + 86_400, "block_id": "b3", "parent_block_id": "b2",
            "block_type": "BanffStandardBlock", "transaction_count": 0, "l1_validators_accrued_fees": "5500"}],
        schema=P_CHAIN_BLOCKS.arrow_schema)])
    load(warehouse, P_CHAIN_TRANSACTIONS, [
        {"block_number": 1, "block_timestamp": NOON, "block_id": "b1", "transaction_id": "t1",
         "tx_type": "AddPermissionlessValidatorTx", "amount_staked": str(2**70), "utxo_count": 0},
        {"block_number": 2, "block_timestamp": NOON, "block_id": "b2", "transaction_id": "t2",
         "tx_type": "RegisterL1ValidatorTx", "l1_validator_balance": "500", "fee_burned": "7",
         "utxo_count": 0}])
    load(warehouse, P_CHAIN_REWARDS, [
        {"block_number": 2, "block_timestamp": NOON, "transaction_id": "t2", "staking_transaction_id": "s",
         "utxo_id": f"u{n}", "output_index": n, "node_id": "NodeID-a", "reward_type": kind, "asset_id": "a",
         "reward_amount": str(amount), "amount_staked": "1", "addresses": "[]", "start_timestamp": NOON,
         "end_timestamp": NOON} for n, (kind, amount) in enumerate((("VALIDATOR", 10), ("DELEGATOR", 20),
                                                                     ("VALIDATOR_FEE", 3)))])
    staking = query(warehouse, "p_chain_daily_staking", "SELECT day, validations_started, "
                    "toString(validator_stake_navax), toString(validator_rewards_navax), "
                    "toString(delegator_rewards_navax), toString(validator_fee_rewards_navax) FROM {view}")
    assert staking == [(DAY, 1, str(2**70), "10", "20", "3")]
    fees = query(warehouse, "l1_validator_fees_daily", "SELECT day, l1_transactions, "
                 "toString(balance_deposited_navax), toString(transaction_fees_navax), "
                 "toString(continuous_fees_navax) FROM {view} ORDER BY day")
    assert fees == [(DAY, 1, "500", "7", None), (DAY + dt.timedelta(days=1), 0, "0", "0", "3500")]


def test_flows_on_fuji_are_named_and_counted_by_fujis_own_ids(warehouse):
    """Fuji's C-Chain and AVAX have ids of their own: its P-Chain UTXOs crossing to and from its C-Chain count."""
    fuji_c, fuji_avax = ids.C_CHAINS[5], ids.AVAX_ASSET[5]
    load(warehouse, P_CHAIN_UTXOS, [
        {**p_utxo("P-export", "produced", ids.cb58(b"\x08" * 32), 0, 40, ids.P_CHAIN, fuji_c), "asset_id": fuji_avax},
        {**p_utxo("P-import", "consumed", ids.cb58(b"\x09" * 32), 0, 7, fuji_c, ids.P_CHAIN), "asset_id": fuji_avax},
    ])
    load(warehouse, ATOMIC_TRANSACTIONS, [])
    load(warehouse, ATOMIC_INPUTS_OUTPUTS, [])
    daily = query(warehouse, "avax_c_p_flows_daily", "SELECT corridor, utxos_sent, toString(sent_navax), "
                  "utxos_received, toString(received_navax) FROM {view} ORDER BY corridor")
    assert daily == [("C→P", 0, "0", 1, "7"), ("P→C", 1, "40", 0, "0")]
