"""The ICM messages view on the session's embedded ClickHouse (no service): messages matched across two chains
by id, both ways; fees, fee additions, relayers, receipts and executions; and what is unmatched listed with as
much of the other chain as the data shows."""

import datetime as dt

import pyarrow as pa
import pytest

from avax_assets.analytics.icm import ICM_VIEWS
from avax_assets.core.chdb import chdb_client
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.events.datasets import (TELEPORTER_BLOCKCHAIN_ID, TELEPORTER_EXECUTED, TELEPORTER_EXECUTION_FAILED,
                                         TELEPORTER_FEE_ADDED, TELEPORTER_RECEIPT, TELEPORTER_RECEIVE, TELEPORTER_SEND)

DB = "icm"
NOON = int(dt.datetime(2024, 6, 2, 12, tzinfo=dt.timezone.utc).timestamp())
C_CHAIN, L1, OTHER = 43114, 43514, 555
IDS = {C_CHAIN: "0x" + "0c" * 32, L1: "0x" + "11" * 32, OTHER: "0x" + "55" * 32, "unloaded": "0x" + "99" * 32}
TOKEN, RELAYER, REWARDS, APP = "0x" + "7e" * 20, "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "ab" * 20
(VIEW,) = ICM_VIEWS


def message_id(n: int) -> str:
    return "0x" + f"{n:064x}"


@pytest.fixture
def warehouse(chdb_path):
    return icm_tables(chdb_path, DB)


def icm_tables(chdb_path, database: str) -> ClickHouseWarehouse:
    """A fresh database holding, empty, the tables the view reads (every one with `chain_id`)."""
    warehouse = ClickHouseWarehouse(chdb_client(str(chdb_path)), database)
    warehouse.client.command(f"DROP DATABASE IF EXISTS {database}")
    warehouse.client.command(f"CREATE DATABASE {database}")
    for dataset in VIEW.reads:
        columns = ", ".join(f"{c.name} {c.clickhouse_type}" for c in dataset.columns)
        warehouse.client.command(f"CREATE TABLE {database}.{dataset.table} ({columns}) ENGINE = MergeTree "
                                 "ORDER BY tuple()")
    return warehouse


DEFAULTS = {"UInt256": "0", "String": "", "UInt32": 0, "UInt64": 0}


def insert(warehouse, event, chain_id: int, rows: list[dict]) -> None:
    table = event.dataset
    full = []
    for i, row in enumerate(rows):
        at = row.pop("at", 0)
        position = {"chain_id": chain_id, "block_number": 100 + at, "block_timestamp": NOON + at,
                    "block_hash": f"0x{at:064x}", "transaction_hash": f"0x{chain_id:032x}{at:032x}",
                    "transaction_index": 0, "log_index": i, "contract_address": "0x253b"}
        full.append({c.name: DEFAULTS.get(c.type.clickhouse) for c in table.columns} | position | row)
    warehouse.client.insert_arrow(f"{DB}.{table.table}", pa.Table.from_pylist(full, schema=table.arrow_schema))


def message(n: int, destination, payload: str = "0x6869") -> dict:
    return {"message_id": message_id(n), "message_message_nonce": str(n), "message_origin_sender_address": APP,
            "message_destination_blockchain_id": IDS[destination], "message_destination_address": APP,
            "message_required_gas_limit": "100000", "message_allowed_relayer_addresses": "[]",
            "message_receipts": "[]", "message_message": payload}


def sent(n: int, destination, at: int, fee: int = 0) -> dict:
    return {**message(n, destination), "destination_blockchain_id": IDS[destination], "at": at,
            "fee_info_fee_token_address": TOKEN if fee else "0x" + "0" * 40, "fee_info_amount": str(fee)}


def received(n: int, source, here, at: int, payload: str = "0x6869") -> dict:
    return {**message(n, here, payload), "source_blockchain_id": IDS[source], "deliverer": RELAYER,
            "reward_redeemer": REWARDS, "at": at}


def test_messages_are_matched_across_chains_and_the_unmatched_listed(warehouse):
    insert(warehouse, TELEPORTER_SEND, C_CHAIN, [sent(1, L1, at=0, fee=5), sent(3, L1, at=50),
                                                  sent(6, L1, at=60)])
    insert(warehouse, TELEPORTER_FEE_ADDED, C_CHAIN, [
        {"message_id": message_id(1), "updated_fee_info_fee_token_address": TOKEN, "updated_fee_info_amount": "6",
         "at": 1},
        {"message_id": message_id(1), "updated_fee_info_fee_token_address": TOKEN,
         "updated_fee_info_amount": str(2**200), "at": 2}])
    insert(warehouse, TELEPORTER_RECEIVE, L1, [received(1, C_CHAIN, L1, at=30),
                                               received(6, C_CHAIN, L1, at=90, payload="0x")])
    insert(warehouse, TELEPORTER_EXECUTED, L1, [{"message_id": message_id(1), "source_blockchain_id": IDS[C_CHAIN],
                                                 "at": 30}])
    insert(warehouse, TELEPORTER_RECEIPT, C_CHAIN, [
        {"message_id": message_id(1), "destination_blockchain_id": IDS[L1], "relayer_reward_address": REWARDS,
         "fee_info_fee_token_address": TOKEN, "fee_info_amount": str(2**200), "at": 80},
        {"message_id": message_id(77), "destination_blockchain_id": IDS[L1], "relayer_reward_address": REWARDS,
         "at": 81}])  # a receipt for a message neither day loaded: not a message of the view
    # the other way: 2 delivered but its execution failed, 4 received while its send's day is not loaded
    insert(warehouse, TELEPORTER_SEND, L1, [sent(2, C_CHAIN, at=10)])
    insert(warehouse, TELEPORTER_RECEIVE, C_CHAIN, [received(2, L1, C_CHAIN, at=20), received(4, L1, C_CHAIN, at=40)])
    insert(warehouse, TELEPORTER_EXECUTION_FAILED, C_CHAIN, [
        {**message(2, C_CHAIN), "source_blockchain_id": IDS[L1], "at": 20}])
    # a third chain that only ever showed its id at start, sending to a chain not loaded and to the L1
    insert(warehouse, TELEPORTER_BLOCKCHAIN_ID, OTHER, [{"blockchain_id": IDS[OTHER], "at": 0}])
    insert(warehouse, TELEPORTER_SEND, OTHER, [sent(5, "unloaded", at=5), sent(8, L1, at=6)])

    warehouse.create_view(VIEW.name, VIEW.select.format(db=DB))
    rows = warehouse.client.query(
        f"SELECT toUInt8(reinterpretAsUInt256(reverse(unhex(substring(message_id, 3))))) AS n, status, "
        "source_chain_id, destination_chain_id, source_blockchain_id = "
        f"'{IDS[C_CHAIN]}', toString(fee_amount), relayer, relayer_reward_address, receipt_received, execution, "
        f"latency_seconds FROM {DB}.{VIEW.name} ORDER BY n").result_rows
    c, l1, none = C_CHAIN, L1, None
    assert [row[:4] for row in rows] == [
        (1, "delivered", c, l1), (2, "delivered", l1, c), (3, "sent, not received", c, l1),
        (4, "received, send not loaded", l1, c), (5, "sent, not received", OTHER, none), (6, "delivered", c, l1),
        (8, "sent, not received", OTHER, l1)]
    by = {row[0]: row[4:] for row in rows}
    assert by[1] == (True, str(2**200), RELAYER, REWARDS, True, "executed", 30)
    assert by[2] == (False, "0", RELAYER, REWARDS, False, "failed", 10)
    assert by[3] == (True, "0", none, none, False, none, none)
    assert by[4] == (False, none, RELAYER, REWARDS, False, none, none)
    assert by[6][-2:] == ("no payload", 30)
    detail = warehouse.client.query(
        f"SELECT source_blockchain_id, destination_blockchain_id, message_nonce, fee_token_address, "
        f"source_transaction_hash, destination_transaction_hash, source_block_number, destination_block_number "
        f"FROM {DB}.{VIEW.name} WHERE message_id IN ('{message_id(4)}', '{message_id(5)}', '{message_id(1)}') "
        "ORDER BY message_id").result_rows
    assert detail == [
        (IDS[C_CHAIN], IDS[L1], 1, TOKEN, f"0x{C_CHAIN:032x}{0:032x}", f"0x{L1:032x}{30:032x}", 100, 130),
        (IDS[L1], IDS[C_CHAIN], 4, None, None, f"0x{C_CHAIN:032x}{40:032x}", None, 140),
        (IDS[OTHER], IDS["unloaded"], 5, "0x" + "0" * 40, f"0x{OTHER:032x}{5:032x}", None, 105, None)]
