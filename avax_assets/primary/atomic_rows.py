"""Stored C-Chain blocks → the rows of atomic_transactions and atomic_inputs_outputs (primary/atomic.py decodes).

A block whose extra data does not decode exactly gives no rows at all and is named (block, hash, what is
wrong); the others are decoded as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from avax_assets.core.schema import CHAIN_ID
from avax_assets.primary import ids
from avax_assets.primary.atomic import AtomicTx, NotAtomic, decode_atomic, is_batch
from avax_assets.primary.datasets import ATOMIC_TRANSACTIONS

POSITION = ("block_number", "block_timestamp", "block_hash")


@dataclass(frozen=True)
class Undecodable:
    block_number: int
    block_hash: str
    reason: str

    def __str__(self) -> str:
        return f"block {self.block_number} ({self.block_hash}): {self.reason}"


@dataclass
class Decoded:
    transactions: list[dict] = field(default_factory=list)
    inputs_outputs: list[dict] = field(default_factory=list)
    undecodable: list[Undecodable] = field(default_factory=list)

    def batch(self, dataset) -> pa.RecordBatch:
        rows = self.transactions if dataset is ATOMIC_TRANSACTIONS else self.inputs_outputs
        return pa.RecordBatch.from_pylist(rows, schema=dataset.source_schema)


def decode_blocks(blocks: Iterable[pa.RecordBatch], chain_id: int = CHAIN_ID) -> Decoded:
    decoded = Decoded()
    for batch in blocks:
        columns = batch.select([*POSITION, "block_extra_data"]).to_pylist()
        for block in columns:
            _decode_block(block, chain_id, decoded)
    return decoded


def _decode_block(block: dict, chain_id: int, decoded: Decoded) -> None:
    extra = block["block_extra_data"]
    if not extra or extra == "0x":
        return
    try:
        payload = bytes.fromhex(extra.removeprefix("0x"))
        txs = decode_atomic(payload, is_batch(chain_id, block["block_timestamp"]))
    except (NotAtomic, ValueError) as exc:
        decoded.undecodable.append(Undecodable(block["block_number"], block["block_hash"], str(exc)))
        return
    position = {name: block[name] for name in POSITION}
    for index, tx in enumerate(txs):
        decoded.transactions.append(transaction_row(position, index, tx))
        decoded.inputs_outputs += io_rows(position, tx)


def _avax_moved(tx: AtomicTx, avax: str) -> int:
    moved = tx.utxo_outputs if tx.kind == "export" else tx.evm_outputs
    return sum(o.amount for o in moved if o.asset_id == avax)


def transaction_row(position: dict, index: int, tx: AtomicTx) -> dict:
    avax = ids.AVAX_ASSET.get(tx.network_id)
    here_first = (tx.blockchain_id, tx.other_chain) if tx.kind == "export" else (tx.other_chain, tx.blockchain_id)
    return {**position, "transaction_id": tx.id, "transaction_index": index, "atomic_type": tx.kind,
            "network_id": tx.network_id, "blockchain_id": tx.blockchain_id, "source_blockchain_id": here_first[0],
            "destination_blockchain_id": here_first[1],
            "fee_burned": str(tx.burned(avax)) if avax else None,
            "avax_moved": str(_avax_moved(tx, avax)) if avax else None,
            "io_count": len(tx.evm_inputs) + len(tx.evm_outputs) + len(tx.utxo_inputs) + len(tx.utxo_outputs),
            "credential_count": len(tx.signatures), "transaction_size": tx.size}


EMPTY = {"evm_address": None, "nonce": None, "utxo_id": None, "utxo_transaction_id": None, "output_index": None,
         "addresses": None, "locktime": None, "threshold": None, "signature_indices": None}


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def io_rows(position: dict, tx: AtomicTx) -> list[dict]:
    head = {**position, "transaction_id": tx.id}
    rows = [{**head, **EMPTY, "io_type": "evm_input", "position": n, "asset_id": i.asset_id, "amount": str(i.amount),
             "evm_address": i.address, "nonce": i.nonce} for n, i in enumerate(tx.evm_inputs)]
    rows += [{**head, **EMPTY, "io_type": "evm_output", "position": n, "asset_id": o.asset_id,
              "amount": str(o.amount), "evm_address": o.address} for n, o in enumerate(tx.evm_outputs)]
    rows += [{**head, **EMPTY, "io_type": "utxo_input", "position": n, "asset_id": i.asset_id, "amount": str(i.amount),
              "utxo_id": i.utxo_id, "utxo_transaction_id": i.transaction_id, "output_index": i.output_index,
              "signature_indices": _compact(list(i.signature_indices))} for n, i in enumerate(tx.utxo_inputs)]
    rows += [{**head, **EMPTY, "io_type": "utxo_output", "position": n, "asset_id": o.asset_id,
              "amount": str(o.amount), "utxo_id": tx.output_utxo_id(n), "utxo_transaction_id": tx.id,
              "output_index": n, "addresses": _compact([ids.address(tx.network_id, a) for a in o.addresses]),
              "locktime": o.locktime, "threshold": o.threshold} for n, o in enumerate(tx.utxo_outputs)]
    return rows
