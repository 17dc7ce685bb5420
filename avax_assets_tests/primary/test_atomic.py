"""The C-Chain's atomic transactions decoder (avax_assets/primary/atomic.py), against two independent references:
transactions encoded and signed by Ava Labs' JavaScript library (npm avalanche@3.16.0, run with node), and real
recorded payloads (recorded_atomic.json says where each comes from). And its strictness: a payload that is not
exactly the codec's is refused whole, naming what is wrong."""

import datetime as dt
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
from eth_hash.auto import keccak

from avax_assets.chain.datasets import BLOCKS
from avax_assets.primary import ids
from avax_assets.primary.atomic import MAX_PAYLOAD, NotAtomic, decode_atomic, is_batch
from avax_assets.primary.atomic_rows import decode_blocks

HERE = Path(__file__).parent
RECORDED = json.loads((HERE / "recorded_atomic.json").read_text())
AVAX = ids.AVAX_ASSET[1]


@pytest.fixture(scope="module")
def javascript():
    """What avalanche@3.16.0 encodes (deployments/local/setup.sh installs it; its absence fails the test)."""
    node = shutil.which("node")
    assert node, "node is not installed: run deployments/local/setup.sh"
    done = subprocess.run([node, str(HERE / "avalanchejs_encode.js")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"the JavaScript encoder failed (setup.sh installs avalanche@3.16.0): {done.stderr}"
    return json.loads(done.stdout)


def payload(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def as_javascript(tx) -> dict:
    """The decoded transaction in the shape the JavaScript script prints its fields."""
    fields = {"type": "ImportTx" if tx.kind == "import" else "ExportTx", "networkID": tx.network_id,
              "blockchainID": tx.blockchain_id}
    if tx.kind == "import":
        fields["sourceChain"] = tx.other_chain
        fields["importedInputs"] = [{"txID": i.transaction_id, "outputIndex": i.output_index, "assetID": i.asset_id,
                                     "amount": str(i.amount), "signatureIndices": list(i.signature_indices)}
                                    for i in tx.utxo_inputs]
        fields["outs"] = [{"address": o.address, "amount": str(o.amount), "assetID": o.asset_id}
                          for o in tx.evm_outputs]
    else:
        fields["destinationChain"] = tx.other_chain
        fields["inputs"] = [{"address": i.address, "amount": str(i.amount), "assetID": i.asset_id,
                             "nonce": str(i.nonce)} for i in tx.evm_inputs]
        fields["exportedOutputs"] = [{"assetID": o.asset_id, "amount": str(o.amount), "locktime": str(o.locktime),
                                      "threshold": o.threshold, "addresses": ["0x" + a.hex() for a in o.addresses]}
                                     for o in tx.utxo_outputs]
    fields["signaturesPerCredential"] = [len(signatures) for signatures in tx.signatures]
    return fields


def test_each_javascript_transaction_decodes_to_its_fields_and_id(javascript):
    assert javascript["library"] == "avalanche@3.16.0" and len(javascript["txs"]) == 4
    for encoded in javascript["txs"]:
        (tx,) = decode_atomic(payload(encoded["hex"]), batch=False)
        assert as_javascript(tx) == encoded["fields"], encoded["name"]
        assert (tx.id, tx.size) == (encoded["id"], len(payload(encoded["hex"]))), encoded["name"]


def test_a_batch_decodes_to_the_same_transactions(javascript):
    txs = decode_atomic(payload(javascript["batch"]), batch=True)
    assert [tx.id for tx in txs] == [encoded["id"] for encoded in javascript["txs"]]
    assert [as_javascript(tx) for tx in txs] == [encoded["fields"] for encoded in javascript["txs"]]


def test_addresses_are_the_bech32_the_javascript_library_prints(javascript):
    for key in javascript["addresses"]:
        assert f"C-{ids.address(1, payload(key['short']))}" == key["bech32"]


@pytest.mark.parametrize("recorded", RECORDED["mainnet"], ids=lambda r: r["name"])
def test_real_mainnet_transactions_decode_to_what_avalanchego_recorded(recorded):
    (tx,) = decode_atomic(payload(recorded["block_extra_data"]), batch=False)
    assert (tx.id, tx.kind, tx.network_id) == (recorded["id"], recorded["kind"], 1)
    assert (tx.blockchain_id, tx.other_chain) == (ids.C_CHAIN, recorded["other_chain"])
    assert [{"transaction_id": i.transaction_id, "output_index": i.output_index, "amount": i.amount,
             "signature_indices": list(i.signature_indices), "input_id": ids.uncb58(i.utxo_id).hex()}
            for i in tx.utxo_inputs] == recorded.get("utxo_inputs", [])
    assert [{"address": o.address, "amount": o.amount} for o in tx.evm_outputs] == recorded.get("evm_outputs", [])
    assert [{"address": i.address, "amount": i.amount, "nonce": i.nonce}
            for i in tx.evm_inputs] == recorded.get("evm_inputs", [])
    outputs = [{"amount": o.amount, "locktime": o.locktime, "threshold": o.threshold,
                "addresses": [ids.cb58(a) for a in o.addresses]} for o in tx.utxo_outputs]
    assert outputs == recorded.get("utxo_outputs", [])
    assert [s.hex() for (s,) in tx.signatures] == recorded["signatures"]
    assert {i.asset_id for i in (*tx.utxo_inputs, *tx.evm_inputs, *tx.evm_outputs, *tx.utxo_outputs)} == {AVAX}


def test_the_fee_is_what_goes_in_and_does_not_come_out():
    export, import_ = (decode_atomic(payload(r["block_extra_data"]), False)[0] for r in RECORDED["mainnet"][1::-1])
    assert export.burned(AVAX) == 1_000_001 - 1 and import_.burned(AVAX) == 0


def test_a_recorded_local_block_decodes_and_is_the_payload_its_header_commits_to():
    block = RECORDED["local_block"]
    extra = payload(block["block_extra_data"])
    rlp = bytes([0xB9]) + len(extra).to_bytes(2, "big") + extra  # RLP of a 256..65535-byte string
    assert "0x" + keccak(rlp).hex() == block["ext_data_hash"]
    (tx,) = decode_atomic(extra, batch=False)
    assert (tx.kind, tx.network_id, len(tx.utxo_inputs), len(tx.evm_outputs), len(tx.signatures)) == \
        ("import", 12345, 2, 1, 2)
    assert tx.evm_outputs[0].amount == 100_000_000_000_000 == sum(i.amount for i in tx.utxo_inputs)


# --- strictness: refused whole, named -------------------------------------------------------------

EXPORT = payload(RECORDED["mainnet"][1]["block_extra_data"])


@pytest.mark.parametrize("broken, named", [
    (EXPORT + b"\0", "1 trailing bytes at byte 307"),
    (b"\0\1" + EXPORT[2:], "codec version 1, not 0 at byte 0"),
    (EXPORT[:2] + struct.pack(">I", 2) + EXPORT[6:], "transaction has type id 2"),
    (EXPORT[:-10], "signatures length 1 exceeds the bytes left at byte 238 of 297"),
    (EXPORT[:74] + struct.pack(">I", 1000) + EXPORT[78:], "EVM inputs length 1000 exceeds the bytes left at byte 74"),
    (EXPORT[:182] + struct.pack(">I", 5) + EXPORT[186:], "transferable output has type id 5, not 7 at byte 182"),
    (b"\0", "codec version (2 bytes) runs past the end"),
])
def test_a_payload_that_is_not_exactly_an_atomic_transaction_is_refused_naming_where(broken, named):
    with pytest.raises(NotAtomic, match=named.replace("(", r"\(").replace(")", r"\)")):
        decode_atomic(broken, batch=False)


def test_batches_and_single_transactions_are_not_confused():
    with pytest.raises(NotAtomic, match="exceeds the bytes left|runs past the end|trailing"):
        decode_atomic(EXPORT, batch=True)  # a single transaction read as a batch: its type id is no count
    with pytest.raises(NotAtomic, match="empty batch"):
        decode_atomic(b"\0\0" + struct.pack(">I", 0), batch=True)
    with pytest.raises(NotAtomic, match=f"over the codec's {MAX_PAYLOAD}"):
        decode_atomic(b"\0" * (MAX_PAYLOAD + 1), batch=False)
    assert decode_atomic(b"", batch=True) == []


def test_apricot_phase_5_decides_batch_or_single():
    fork = dt.datetime(2021, 12, 2, 18, tzinfo=dt.timezone.utc)
    assert not is_batch(43114, fork - dt.timedelta(seconds=1)) and is_batch(43114, fork)
    assert is_batch(99999, fork - dt.timedelta(days=999))  # a chain that always had batches


def blocks_batch(rows: list[dict]) -> pa.RecordBatch:
    full = [{c.name: None for c in BLOCKS.columns} | row for row in rows]
    return pa.RecordBatch.from_pylist(full, schema=BLOCKS.arrow_schema)


def test_stored_blocks_give_rows_and_a_block_that_does_not_decode_gives_none_and_is_named(javascript):
    after_fork = int(dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc).timestamp())
    before_fork = int(dt.datetime(2020, 9, 23, tzinfo=dt.timezone.utc).timestamp())
    decoded = decode_blocks([blocks_batch([
        {"block_number": 48, "block_timestamp": before_fork, "block_hash": "0x48",
         "block_extra_data": "0x" + EXPORT.hex()},
        {"block_number": 100, "block_timestamp": after_fork, "block_hash": "0x64", "block_extra_data": "0x"},
        {"block_number": 101, "block_timestamp": after_fork, "block_hash": "0x65",
         "block_extra_data": "0x" + javascript["batch"]},
        {"block_number": 102, "block_timestamp": after_fork, "block_hash": "0x66",
         "block_extra_data": "0x" + javascript["batch"] + "00"},
    ])])
    assert [(r["block_number"], r["transaction_index"], r["atomic_type"]) for r in decoded.transactions] == [
        (48, 0, "export"), (101, 0, "import"), (101, 1, "import"), (101, 2, "export"), (101, 3, "export")]
    assert [(u.block_number, u.block_hash) for u in decoded.undecodable] == [(102, "0x66")]
    assert "trailing bytes" in decoded.undecodable[0].reason
    export = decoded.transactions[0]
    assert (export["fee_burned"], export["avax_moved"], export["io_count"], export["source_blockchain_id"],
            export["destination_blockchain_id"]) == ("1000000", "1", 2, ids.C_CHAIN, ids.X_CHAIN)
    exported = next(r for r in decoded.inputs_outputs if r["io_type"] == "utxo_output" and r["block_number"] == 48)
    assert exported["utxo_id"] == ids.utxo_id_of(export["transaction_id"], 0)
    assert json.loads(exported["addresses"]) == ["avax16m8p0qnd6lqj5ath4ujhaqkej9pmwfgqmd70kc"]
    assert sum(r["io_count"] for r in decoded.transactions) == len(decoded.inputs_outputs)
    big = next(r for r in decoded.inputs_outputs if r["io_type"] == "utxo_input" and r["output_index"] == 7)
    assert big["amount"] == str(2**64 - 1)  # uint64's maximum, exact
