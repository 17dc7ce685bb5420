"""The column-at-a-time path builds exactly the batch the row converters build, and gives way to them
(so the error names the field and value) whenever any value breaks a rule."""

import json

import msgspec
import pyarrow as pa
import pytest

from avax_assets.chain import fields as f
from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.chain.columns import log_columns, transaction_columns
from avax_assets.chain.extractors import Scope, to_batch
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rows import block_row, log_row, plain, transaction_row
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings

DAY = "2024-06-02"


def test_hex_columns_are_lower_case_and_refuse_what_the_row_converter_refuses():
    assert f.hex_column(["0xAB", "0x", None], nullable=True).to_pylist() == ["0xab", "0x", None]
    assert f.hex_column(["0xabc"]) is None  # odd length
    assert f.hex_column(["0x" + "a" * 40, "0x" + "a" * 38], byte_length=20) is None
    assert f.hex_column(["0xab", None]) is None  # null where required
    assert f.hex_column([12]) is None


def test_quantity_columns_take_64_bits_and_leave_the_rest_to_the_row_converter():
    assert f.quantity_column(["0x0", "0xffffffffffffffff"]).to_pylist() == [0, 2**64 - 1]
    assert f.quantity_column(["0x1" + "0" * 16]) is None  # 2^64: over UInt64
    assert f.quantity_column(["0x100"], pa.uint8()) is None  # 256: over UInt8
    assert f.quantity_column(["12"]) is None and f.quantity_column(["0x"]) is None


def test_uint256_columns_are_exact():
    assert f.uint256_column([hex(2**256 - 1), "0x0", None], nullable=True).to_pylist() == [str(2**256 - 1), "0", None]
    assert f.uint256_column(["0x" + "f" * 65]) is None


@pytest.fixture(scope="module")
def reader(stack, devchain):
    with JsonRpcClient(RpcSettings(url=stack.anvil.url)) as client:
        yield ChainReader(client)


def test_transactions_built_by_column_equal_the_rows(reader, devchain):
    first, last = devchain.blocks_by_day[DAY]
    blocks = range(first, last + 1)
    scope = Scope(TRANSACTIONS, DAY)
    full = reader.full_blocks(blocks)  # each block's transactions undecoded
    in_order = reader.receipt_structs(full)
    receipts = {r["transactionHash"]: r for r in reader.receipts(full)}
    rows = [transaction_row(b, tx, receipts[tx["hash"]]) for b in full for tx in map(plain, b["transactions"])]
    by_column = transaction_columns(full, in_order, TRANSACTIONS.source_schema)
    assert by_column is not None and by_column.num_rows > 50 and by_column.equals(to_batch(scope, rows))
    decoded = [{**b, "transactions": [plain(tx) for tx in b["transactions"]]} for b in full]
    assert transaction_columns(decoded, in_order, TRANSACTIONS.source_schema).equals(by_column)
    assert transaction_columns(full, in_order[::-1], TRANSACTIONS.source_schema) is None  # receipts out of order
    with_txs = next(b for b in decoded if b["transactions"])
    with_txs["transactions"][0] = {**with_txs["transactions"][0], "value": 5}  # a number, not a hex string
    assert transaction_columns(decoded, in_order, TRANSACTIONS.source_schema) is None
    in_order[-1].status = "0x2A0"  # over UInt8: the rows must judge
    assert transaction_columns(full, in_order, TRANSACTIONS.source_schema) is None


def test_logs_built_by_column_equal_the_rows(reader, devchain):
    first, last = devchain.blocks_by_day[DAY]
    blocks = range(first, last + 1)
    scope = Scope(LOGS, DAY)
    timestamps = {h["hash"]: int(h["timestamp"], 16) for h in reader.headers(blocks)}
    undecoded = reader.logs_json(blocks)
    logs = [plain(entry) for entry in undecoded]
    rows = sorted((log_row(entry, timestamps) for entry in logs), key=lambda r: (r["block_number"], r["log_index"]))
    by_column = log_columns(undecoded, timestamps, LOGS.source_schema)
    assert by_column is not None and by_column.num_rows > 50 and by_column.equals(to_batch(scope, rows))
    pretty = [msgspec.Raw(json.dumps(entry, indent=2).encode()) for entry in logs]  # newlines inside objects
    assert log_columns(pretty, timestamps, LOGS.source_schema).equals(by_column)
    logs[3]["topics"] = [logs[3]["topics"][0], None]  # a null topic: the rows must judge
    assert log_columns(logs, timestamps, LOGS.source_schema) is None
    logs[3]["topics"] = logs[3]["topics"][0]  # one topic, not in a list
    assert log_columns(logs, timestamps, LOGS.source_schema) is None
    logs[3]["topics"] = [logs[3]["topics"]]
    logs[5]["logIndex"] = 7  # a number, not a hex string
    assert log_columns(logs, timestamps, LOGS.source_schema) is None


def test_uint256_columns_are_exact_across_the_128_bit_fast_path():
    values = ["0x0", "0xde0b6b3a7640000", "0x" + "f" * 32, "0x1" + "0" * 32, None]
    assert f.uint256_column(values[:3], nullable=True).to_pylist() == [str(int(v, 16)) for v in values[:3]]
    assert f.uint256_column(values, nullable=True).to_pylist() == [str(int(v, 16)) for v in values[:4]] + [None]
    assert f.uint256_column(["0x" + "f" * 65]) is None  # over 256 bits
    assert f.uint256_column(["0xg"]) is None


def test_fees_are_exact_products_beyond_64_bits():
    gas = pa.array([21_000, 2**64 - 1], pa.uint64())
    for prices in (["0x5d21dba00", "0x" + "f" * 16], ["0x5d21dba00", "0x1" + "0" * 20]):  # the second over 64 bits
        products = [str(g * int(p, 16)) for g, p in zip(gas.to_pylist(), prices, strict=True)]
        assert f.product_column(gas, prices).to_pylist() == products


AVALANCHE_HEADER = {  # the fields a C-Chain node serves beyond Ethereum's, as coreth names them
    "number": "0x2faf080", "timestamp": "0x6659a6d0", "hash": "0x" + "ab" * 32, "parentHash": "0x" + "cd" * 32,
    "miner": "0x0100000000000000000000000000000000000000", "stateRoot": "0x" + "01" * 32,
    "transactionsRoot": "0x" + "02" * 32, "receiptsRoot": "0x" + "03" * 32, "extraData": "0x" + "00" * 80,
    "size": "0x2c1", "gasLimit": "0xe4e1c0", "gasUsed": "0x5208", "baseFeePerGas": "0x5d21dba00",
    "difficulty": "0x1", "transactions": [], "blockGasCost": "0x0", "extDataGasUsed": "0x2710",
    "extDataHash": "0x" + "EF" * 32, "blockExtraData": "0x0000000000010000000100" + "AB" * 40,
    "blobGasUsed": "0x0", "excessBlobGas": "0x0", "parentBeaconBlockRoot": "0x" + "00" * 32,
    "timestampMilliseconds": "0x18fe5a6cf51", "minDelayExcess": "0x4c4b40",
}


def test_avalanche_header_fields_are_kept_exact_and_lower_case():
    row = block_row(AVALANCHE_HEADER)
    assert row["ext_data_hash"] == "0x" + "ef" * 32
    assert row["block_extra_data"] == AVALANCHE_HEADER["blockExtraData"].lower()
    assert row["ext_data_gas_used"] == "10000" and row["excess_blob_gas"] == 0
    assert row["parent_beacon_block_root"] == "0x" + "00" * 32
    assert row["timestamp_milliseconds"] == 0x18fe5a6cf51 and row["min_delay_excess"] == 5_000_000
    older = {k: v for k, v in AVALANCHE_HEADER.items()
             if k not in ("extDataHash", "blockExtraData", "timestampMilliseconds", "minDelayExcess")}
    assert block_row(older)["block_extra_data"] is None and block_row(older)["timestamp_milliseconds"] is None
    assert to_batch(Scope(BLOCKS, DAY), [row]).num_rows == 1  # fits the declared schema
