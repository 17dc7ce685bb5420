"""ICM (Teleporter) events through the events family: the real event ABI at the real messenger address, a
recorded SendCrossChainMessage log decoded field by field (recorded_teleporter.json says where it comes from),
and its struct arguments flattened into typed columns."""

import json
from pathlib import Path

import eth_abi
import pyarrow as pa
from eth_hash.auto import keccak

from avax_assets.chain.datasets import LOGS
from avax_assets.events.assets import event_log_decoder
from avax_assets.events.datasets import (EVENTS, TELEPORTER_BLOCKCHAIN_ID, TELEPORTER_EVENTS, TELEPORTER_FEE_ADDED,
                                         TELEPORTER_MESSENGER, TELEPORTER_RECEIPT, TELEPORTER_RECEIVE, TELEPORTER_SEND)

RECORDED = json.loads((Path(__file__).parent / "recorded_teleporter.json").read_text())
MESSAGE = "(uint256,address,bytes32,address,uint256,address[],(uint256,address)[],bytes)"
FEE = "(address,uint256)"
RELAYER, REWARDS, TOKEN = "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20


def stored(log: dict) -> dict:
    """A JSON-RPC log as the logs dataset stores it."""
    topics = log["topics"] + [None] * (4 - len(log["topics"]))
    return {"block_number": int(log["blockNumber"], 16), "block_timestamp": 1717920000, "block_hash": log["blockHash"],
            "transaction_hash": log["transactionHash"], "transaction_index": int(log["transactionIndex"], 16),
            "log_index": int(log["logIndex"], 16), "address": log["address"], "topic0": topics[0],
            "topic1": topics[1], "topic2": topics[2], "topic3": topics[3], "data": log["data"]}


def decoded(event, *logs: dict) -> list[dict]:
    result = event_log_decoder(event)(pa.RecordBatch.from_pylist(list(logs), schema=LOGS.arrow_schema))
    assert result.malformed == []
    return result.batch.to_pylist()


def word(value: str) -> str:
    return "0x" + value[2:].rjust(64, "0")


def test_the_events_are_teleporter_messenger_v1s_at_its_universal_address():
    # the topic0s are the PUSH32 constants of v1.0.0's runtime code (ava-labs/icm-contracts contracts/teleporter
    # README, its genesis allocation of 0x253b…5fcf)
    assert {e.abi_event.name: e.topic0 for e in TELEPORTER_EVENTS} == {
        "SendCrossChainMessage": "0x2a211ad4a59ab9d003852404f9c57c690704ee755f3c79d2c2812ad32da99df8",
        "ReceiveCrossChainMessage": "0x292ee90bbaf70b5d4936025e09d56ba08f3e421156b6a568cf3c2840d9343e34",
        "MessageExecuted": "0x34795cc6b122b9a0ae684946319f1e14a577b4e8f9b3dda9ac94c21a54d3188c",
        "MessageExecutionFailed": "0x4619adc1017b82e02eaefac01a43d50d6d8de4460774bc370c3ff0210d40c985",
        "ReceiptReceived": "0xd13a7935f29af029349bed0a2097455b91fd06190a30478c575db3f31e00bf57",
        "AddFeeAmount": "0xc1bfd1f1208927dfbd414041dcb5256e6c9ad90dd61aec3249facbd34ff7b3e1",
        "RelayerRewardsRedeemed": "0x3294c84e5b0f29d9803655319087207bc94f4db29f7927846944822773780b88",
        "BlockchainIDInitialized": "0x1eac640109dc937d2a9f42735a05f794b39a5e3759d681951d671aabbce4b104",
    }
    assert all(e in EVENTS and e.contracts == (TELEPORTER_MESSENGER,) for e in TELEPORTER_EVENTS)
    assert TELEPORTER_SEND.dataset.topic == "avalanche.events.teleporter_send_cross_chain_message.43114"


def test_a_recorded_send_decodes_to_its_message_and_its_id_recomputes():
    initialized, send = (stored(log) for log in RECORDED["send_transaction"]["logs"])
    (chain,) = decoded(TELEPORTER_BLOCKCHAIN_ID, initialized)
    (row,) = decoded(TELEPORTER_SEND, send)
    assert row["message_id"] == "0xe064b99223866c40c850d1337a9aebbd79cdda62acb5746384c9e6acc5aeded8"
    assert row["destination_blockchain_id"] == row["message_destination_blockchain_id"] == \
        "0x3c97bb14a422abc1646a38c9879171266f727a9447cd7ed412f836430527d05d"
    assert (row["message_message_nonce"], row["message_origin_sender_address"], row["message_destination_address"],
            row["message_required_gas_limit"], row["message_allowed_relayer_addresses"], row["message_receipts"]) == \
        ("1", "0x5db9a7629912ebf95876228c24a848de0bfb43a9", "0x52c84043cd9c865236f11d9fc9f56aa003c1f922", "100000",
         "[]", "[]")
    assert eth_abi.decode(["string"], bytes.fromhex(row["message_message"][2:])) == ("Hello Avalanche Lab Practioner",)
    assert (row["fee_info_fee_token_address"], row["fee_info_amount"]) == ("0x" + "0" * 40, "0")
    assert row["contract_address"] == TELEPORTER_MESSENGER and row["log_index"] == 1
    # calculateMessageID: keccak256(abi.encode(messenger, source blockchain id, destination blockchain id, nonce))
    recomputed = keccak(eth_abi.encode(["address", "bytes32", "bytes32", "uint256"], [
        TELEPORTER_MESSENGER, bytes.fromhex(chain["blockchain_id"][2:]),
        bytes.fromhex(row["destination_blockchain_id"][2:]), int(row["message_message_nonce"])]))
    assert "0x" + recomputed.hex() == row["message_id"]


def test_its_delivery_decodes_to_the_same_message():
    """The ReceiveCrossChainMessage the destination's messenger emits for the recorded message, built with eth_abi
    from the event ABI (no recorded delivery log was found), carrying a receipt back."""
    _, send = RECORDED["send_transaction"]["logs"]
    message, _ = eth_abi.decode([MESSAGE, FEE], bytes.fromhex(send["data"][2:]))
    carried = (*message[:6], [(7, REWARDS), (2**130, RELAYER)], message[7])
    data = eth_abi.encode(["address", MESSAGE], [REWARDS, carried])
    receive = stored({**send, "topics": [TELEPORTER_RECEIVE.topic0, send["topics"][1],
                                         "0x55e1fcfdde01f9f6d4c16fa2ed89ce65a8669120a86f321eef121891cab61241",
                                         word(RELAYER)], "data": "0x" + data.hex()})
    (row,) = decoded(TELEPORTER_RECEIVE, receive)
    (sent,) = decoded(TELEPORTER_SEND, stored(send))
    assert (row["message_id"], row["deliverer"], row["reward_redeemer"]) == (sent["message_id"], RELAYER, REWARDS)
    assert all(row[c] == sent[c] for c in row if c.startswith("message_") and c != "message_receipts")
    assert json.loads(row["message_receipts"]) == [
        {"receivedMessageNonce": "7", "relayerRewardAddress": REWARDS},
        {"receivedMessageNonce": str(2**130), "relayerRewardAddress": RELAYER}]


def test_a_fee_struct_alone_in_the_data_is_flattened_and_exact():
    message_id = "0x" + "5e" * 32
    amount = 2**200 + 3
    fee = eth_abi.encode([FEE], [(TOKEN, amount)])
    receipt = stored({**RECORDED["send_transaction"]["logs"][1], "logIndex": "0x4", "data": "0x" + fee.hex(),
                      "topics": [TELEPORTER_RECEIPT.topic0, message_id, "0x" + "3c" * 32, word(REWARDS)]})
    (row,) = decoded(TELEPORTER_RECEIPT, receipt)
    assert (row["message_id"], row["relayer_reward_address"], row["fee_info_fee_token_address"],
            row["fee_info_amount"]) == (message_id, REWARDS, TOKEN, str(amount))
    added = stored({**RECORDED["send_transaction"]["logs"][1], "data": "0x" + fee.hex(),
                    "topics": [TELEPORTER_FEE_ADDED.topic0, message_id]})
    (row,) = decoded(TELEPORTER_FEE_ADDED, added)
    assert (row["updated_fee_info_fee_token_address"], row["updated_fee_info_amount"]) == (TOKEN, str(amount))


def test_another_contracts_log_of_the_same_shape_is_not_a_teleporter_message():
    _, send = RECORDED["send_transaction"]["logs"]
    impostor = stored({**send, "address": "0x" + "de" * 20, "logIndex": "0x2"})
    assert [r["log_index"] for r in decoded(TELEPORTER_SEND, stored(send), impostor)] == [1]


def test_a_truncated_send_is_counted_not_decoded():
    _, send = RECORDED["send_transaction"]["logs"]
    batch = pa.RecordBatch.from_pylist([stored({**send, "data": send["data"][:-64]})], schema=LOGS.arrow_schema)
    result = event_log_decoder(TELEPORTER_SEND)(batch)
    assert result.batch.num_rows == 0 and "does not decode" in result.malformed[0].reason
