"""Cross-chain messages between two local chains, end to end on two anvils: the dev messenger at ICM's address on
both, messages sent both ways and relayed, the chains' logs (eth_getLogs) decoded by the events family's
declarations, and matched by the icm_messages view in the embedded ClickHouse."""

import json

import pyarrow as pa
import pytest

from avax_assets.chain.datasets import LOGS
from avax_assets.chain.rpc import Call, JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.chdb import chdb_client
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.events.assets import event_log_decoder
from avax_assets.events.datasets import ABIS, TELEPORTER_EVENTS, TELEPORTER_MESSENGER
from avax_assets_dev.devchain.generator import ARTIFACTS, DevchainSpec
from avax_assets_dev.devchain.icm import (C_CHAIN, DEV_L1, REWARD_REDEEMER, RELAYER, IcmSpec, LinkedChain,
                                          ensure_linked_devchains, messenger_call, relay)
from avax_assets_dev.local.services import Anvil
from avax_assets_dev.reconcile import icm_messages
from avax_assets_tests.analytics.test_icm import VIEW
from avax_assets_tests.conftest import service_port

SPEC = DevchainSpec(days=2, blocks_per_day=8, max_txs_per_block=2, reverts_per_day=0)
SPEC_L1 = DevchainSpec(seed=8, days=2, blocks_per_day=8, max_txs_per_block=2, reverts_per_day=0)


def test_the_dev_messenger_has_teleporters_real_event_abi():
    def shape(entry):  # what the ABI says, without Solidity's internal type names
        return {k: shape(v) if isinstance(v, dict) else [shape(i) for i in v] if isinstance(v, list) else v
                for k, v in entry.items() if k != "internalType"}

    dev = [e for e in ARTIFACTS["DevTeleporterMessenger"]["abi"] if e["type"] == "event"]
    real = json.loads((ABIS / "teleporter_messenger.json").read_text())
    assert sorted(json.dumps(shape(e), sort_keys=True) for e in dev) == \
        sorted(json.dumps(shape(e), sort_keys=True) for e in real)


@pytest.fixture
def two_chains(tmp_path):
    nodes = (Anvil("c_chain", service_port(18547), tmp_path), Anvil("l1", service_port(18548), tmp_path,
                                                                     chain_id=DEV_L1.chain_id))
    try:
        for node in nodes:
            node.start()
        chains = (LinkedChain(nodes[0].url, SPEC, C_CHAIN), LinkedChain(nodes[1].url, SPEC_L1, DEV_L1))
        records = (tmp_path / "c_chain.json", tmp_path / "l1.json")
        summaries = ensure_linked_devchains(*chains, records, IcmSpec(messages_per_day=2))
        # both anvils hold the recorded chains: reused, not generated again (which a used anvil would refuse)
        assert ensure_linked_devchains(*chains, records, IcmSpec(messages_per_day=2)) == summaries
        yield nodes, summaries
    finally:
        for node in nodes:
            node.stop()


def messenger_rows(url: str) -> dict[str, list[dict]]:
    """The chain's messenger logs as the logs dataset stores them, decoded by each ICM declaration."""
    with JsonRpcClient(RpcSettings(url=url)) as rpc:
        logs = rpc.call("eth_getLogs", [{"address": TELEPORTER_MESSENGER, "fromBlock": "0x0", "toBlock": "latest"}])
        numbers = sorted({log["blockNumber"] for log in logs})
        headers = rpc.batch([Call("eth_getBlockByNumber", [n, False]) for n in numbers])
        times = {n: int(h["timestamp"], 16) for n, h in zip(numbers, headers, strict=True)}
    stored = [{"block_number": int(log["blockNumber"], 16), "block_timestamp": times[log["blockNumber"]],
               "block_hash": log["blockHash"], "transaction_hash": log["transactionHash"],
               "transaction_index": int(log["transactionIndex"], 16), "log_index": int(log["logIndex"], 16),
               "address": log["address"], "data": log["data"],
               **{f"topic{i}": (log["topics"][i] if i < len(log["topics"]) else None) for i in range(4)}}
              for log in logs]
    batch = pa.RecordBatch.from_pylist(stored, schema=LOGS.source_schema)
    rows = {}
    for event in TELEPORTER_EVENTS:
        decoded = event_log_decoder(event)(batch)
        assert decoded.malformed == [], decoded.malformed
        rows[event.dataset.name] = decoded.batch.to_pylist()
    assert sum(len(r) for r in rows.values()) == len(logs)  # every messenger log is one of its eight events
    return rows


def matched(chdb_path, chains: dict[int, str]) -> list[dict]:
    """The view's rows over both chains' decoded logs, loaded as the pipeline loads a chain's day (the table
    partitioned by chain and day), and reconciled with both messengers."""
    warehouse = ClickHouseWarehouse(chdb_client(str(chdb_path)), "icm_two_chains")
    warehouse.client.command("DROP DATABASE IF EXISTS icm_two_chains")
    for chain_id, url in chains.items():
        decoded = messenger_rows(url)
        for dataset in VIEW.reads:
            bound = dataset if dataset.chain_id == chain_id else dataset.on(chain_id, ("l1",))
            warehouse.ensure_table(bound)
            rows = decoded[dataset.name]
            for day in sorted({row["block_timestamp"].date() for row in rows}):
                batch = pa.RecordBatch.from_pylist([r for r in rows if r["block_timestamp"].date() == day],
                                                   schema=bound.source_schema)
                warehouse.replace_partition(bound, day, [batch])
    warehouse.create_view(VIEW.name, VIEW.select.format(db="icm_two_chains"))
    with JsonRpcClient(RpcSettings(url=chains[C_CHAIN.chain_id])) as a, \
            JsonRpcClient(RpcSettings(url=chains[DEV_L1.chain_id])) as b:
        nodes = {C_CHAIN.chain_id: a, DEV_L1.chain_id: b}
        latest = {chain_id: int(rpc.call("eth_blockNumber", []), 16) for chain_id, rpc in nodes.items()}
        reconciled = icm_messages(warehouse, nodes, latest)
    assert reconciled.ok and reconciled.checked == 10, reconciled
    result = warehouse.client.query(f"SELECT * FROM icm_two_chains.{VIEW.name} ORDER BY source_chain_id, "
                                    "message_nonce")
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def received(url: str, message_id: str) -> bool:
    with JsonRpcClient(RpcSettings(url=url)) as rpc:
        return messenger_call(rpc, "messageReceived(bytes32)", ["bytes32"], [bytes.fromhex(message_id[2:])])[-1] == 1


def test_messages_sent_both_ways_are_relayed_decoded_and_matched(two_chains, chdb_path):
    (c_chain, l1), summaries = two_chains
    assert [s.icm["sent"] for s in summaries] == [5, 5] and [s.icm["delivered"] for s in summaries] == [4, 4]
    assert summaries[0].contracts["TeleporterMessenger"] == TELEPORTER_MESSENGER
    urls = {C_CHAIN.chain_id: c_chain.url, DEV_L1.chain_id: l1.url}
    rows = matched(chdb_path, urls)
    ids = {C_CHAIN.chain_id: C_CHAIN.blockchain_id_hex, DEV_L1.chain_id: DEV_L1.blockchain_id_hex}
    for source, destination in ((C_CHAIN.chain_id, DEV_L1.chain_id), (DEV_L1.chain_id, C_CHAIN.chain_id)):
        mine = [r for r in rows if r["source_chain_id"] == source]
        assert [(r["message_nonce"], r["status"]) for r in mine] == [
            (1, "delivered"), (2, "delivered"), (3, "delivered"), (4, "delivered"), (5, "sent, not received")]
        assert all((r["destination_chain_id"], r["source_blockchain_id"], r["destination_blockchain_id"]) ==
                   (destination, ids[source], ids[destination]) for r in mine)
        delivered = mine[:4]
        # what the view matched is what the destination's messenger recorded as received
        assert [received(urls[destination], r["message_id"]) for r in mine] == [True] * 4 + [False]
        assert all(r["latency_seconds"] > 0 for r in delivered)
        assert [r["execution"] for r in delivered] == ["executed", "failed", "no payload", "executed"]
        assert [r["fee_amount"] == 0 for r in delivered] == [False, False, False, True]
        assert {(r["relayer"], r["relayer_reward_address"]) for r in delivered} == {
            (account(c_chain.url, RELAYER), account(c_chain.url, REWARD_REDEEMER))}
    # receipts ride back on the next message the other way: some came back
    assert any(r["receipt_received"] for r in rows) and not all(r["receipt_received"] for r in rows)

    # the relayer on its own: the two messages in flight delivered, and matched once the nodes mine them
    assert relay((c_chain.url, l1.url), seconds=0, report=lambda line: None) == 2
    for url in urls.values():
        with JsonRpcClient(RpcSettings(url=url)) as rpc:
            rpc.call("evm_mine", [], allow_null=True)
    after = matched(chdb_path, urls)
    assert [r["status"] for r in after] == ["delivered"] * 10
    assert relay((c_chain.url, l1.url), seconds=0, report=lambda line: None) == 0  # nothing left to deliver


def account(url: str, index: int) -> str:
    with JsonRpcClient(RpcSettings(url=url)) as rpc:
        return rpc.call("eth_accounts", [])[index].lower()
