"""Internal transactions from real call traces on the devchain node (both trace formats)."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.chain.datasets import INTERNAL_TRANSACTIONS
from avax_assets.chain.reader import ChainReader, Scope
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.traces import extract_internal_transactions
from avax_assets.core.days import day_block_range
from avax_assets.core.errors import TracingUnavailable
from avax_assets.core.settings import RpcSettings
from avax_assets.orchestration.resources import ChainRpcResource
from avax_assets_tests.support import FaultyNodeProxy, rpc

DAY = "2024-06-01"


def frames(url: str, method: str) -> list[dict]:
    with JsonRpcClient(RpcSettings(url)) as client:
        reader = ChainReader(client, trace_method=method)
        blocks = day_block_range(reader, dt.date.fromisoformat(DAY))
        batch = extract_internal_transactions(reader, range(blocks.first, blocks.last + 1),
                                              Scope(INTERNAL_TRANSACTIONS, DAY))
    return pa.Table.from_batches([batch]).to_pylist()


@pytest.fixture(scope="module")
def debug_frames(stack, devchain):
    return frames(stack.anvil.url, "debug")


def test_debug_and_parity_traces_give_the_same_frames(stack, debug_frames):
    def comparable(row):
        kind = "CREATE" if row["call_type"] == "CREATE2" else row["call_type"]  # parity cannot tell CREATE2
        return (row["transaction_hash"], row["trace_address"], kind, row["from_address"], row["to_address"],
                row["value"], row["reverted"], row["input_size"])

    parity = frames(stack.anvil.url, "parity")
    assert sorted(map(comparable, debug_frames)) == sorted(map(comparable, parity))
    assert {r["call_type"] for r in debug_frames} >= {"CALL", "CREATE", "CREATE2"}


def test_a_revert_fails_every_frame_below_it(debug_frames, stack):
    by_tx: dict[str, list[dict]] = {}
    for row in debug_frames:
        by_tx.setdefault(row["transaction_hash"], []).append(row)
    nested_reverts = [rows for rows in by_tx.values() if rows[0]["reverted"] and len(rows) > 1]
    assert nested_reverts, "the devchain day should hold a reverted transaction with inner calls"
    for rows in nested_reverts:
        assert all(r["reverted"] == 1 for r in rows)
        assert rows[0]["error"] is not None and all(r["error"] is None for r in rows[1:])
        status = rpc(stack.anvil.url, "eth_getTransactionReceipt", [rows[0]["transaction_hash"]])["status"]
        assert status == "0x0"


def test_top_frame_gas_is_the_receipts(debug_frames, stack):
    for row in [r for r in debug_frames if r["depth"] == 0][:20]:
        receipt = rpc(stack.anvil.url, "eth_getTransactionReceipt", [row["transaction_hash"]])
        assert row["gas_used"] == int(receipt["gasUsed"], 16)


def test_every_transaction_has_its_top_frame(debug_frames, stack, devchain):
    first, last = devchain.blocks_by_day[DAY]
    tx_count = sum(len(rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(n), False])["transactions"])
                   for n in range(first, last + 1))
    assert sum(1 for r in debug_frames if r["trace_address"] == "") == tx_count


def test_a_node_without_tracing_fails_the_asset_with_what_to_configure(stack, resources):
    proxy = FaultyNodeProxy(stack.anvil.url)
    proxy.mode = "no-tracing"
    try:
        selection = [a for a in Catalogue().family("chain") if a.key.path[-1] == "internal_transactions"]
        faulty = {**resources, "rpc": ChainRpcResource(url=proxy.url)}
        result = dg.materialize(selection, partition_key=DAY, resources=faulty, raise_on_error=False)
    finally:
        proxy.close()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    text = failure.step_failure_data.error.to_string()
    assert TracingUnavailable.__name__ in text
    assert "debug_traceBlockByNumber" in text and "trace_block" in text and "AVAX_TRACE_RPC_URL" in text
