"""C-Chain rows, one value at a time: the shapes the node's JSON is decoded into (a full block's header,
a receipt) and the row of each dataset. These converters are the reference: they name a bad field and
its value (chain/columns.py builds the same rows a column at a time, and falls back to these)."""

from __future__ import annotations

from typing import Any

import msgspec

from avax_assets.chain import fields as f
from avax_assets.chain.rpc import as_plain
from avax_assets.core.errors import BadField

class Receipt(msgspec.Struct):
    """The receipt fields the chain datasets read. Each log stays undecoded JSON (most of a receipt's bytes):
    transactions only count them, the logs dataset reads them by column (`log_columns`). Values are
    checked by the converters; the receipt's position (block, index) by the proof (chain/proof.py)."""

    transactionHash: Any = msgspec.UNSET
    blockHash: Any = msgspec.UNSET
    blockNumber: Any = msgspec.UNSET
    transactionIndex: Any = msgspec.UNSET
    gasUsed: Any = msgspec.UNSET
    effectiveGasPrice: Any = msgspec.UNSET
    status: Any = msgspec.UNSET
    cumulativeGasUsed: Any = msgspec.UNSET
    contractAddress: Any = msgspec.UNSET
    logs: list[msgspec.Raw] | None | msgspec.UnsetType = msgspec.UNSET


def plain_receipt(receipt: Receipt | Any) -> Any:
    """A receipt as the dict a generic decode gives (one that did not fit the shape already is one)."""
    return as_plain(receipt) if isinstance(receipt, Receipt) else receipt


# The blocks dataset's header columns: (column, the node's key, converter, required). A full block's header
# is decoded into these keys only (`FullBlock`), so a column added here is read on every path.
HEADER = (
    ("block_number", "number", f.quantity, True),
    ("block_timestamp", "timestamp", f.quantity, True),
    ("block_hash", "hash", f.hash32, True),
    ("parent_hash", "parentHash", f.hash32, True),
    ("miner", "miner", f.address, True),
    ("state_root", "stateRoot", f.hash32, True),
    ("transactions_root", "transactionsRoot", f.hash32, True),
    ("receipts_root", "receiptsRoot", f.hash32, True),
    ("extra_data", "extraData", f.data, True),
    ("size", "size", f.quantity, True),
    ("gas_limit", "gasLimit", f.quantity, True),
    ("gas_used", "gasUsed", f.quantity, True),
    ("base_fee_per_gas", "baseFeePerGas", f.uint256, False),
    ("difficulty", "difficulty", f.uint256, True),
    ("block_gas_cost", "blockGasCost", f.uint256, False),
    ("ext_data_gas_used", "extDataGasUsed", f.uint256, False),
    ("blob_gas_used", "blobGasUsed", f.quantity, False),
    ("ext_data_hash", "extDataHash", f.hash32, False),
    ("block_extra_data", "blockExtraData", f.data, False),
    ("excess_blob_gas", "excessBlobGas", f.quantity, False),
    ("parent_beacon_block_root", "parentBeaconBlockRoot", f.hash32, False),
    ("timestamp_milliseconds", "timestampMilliseconds", f.quantity, False),
    ("min_delay_excess", "minDelayExcess", f.quantity, False),
)

# A full block as the datasets read it: its header fields, its logs bloom (the proof: a block has logs exactly
# when its bloom is not empty) and its transactions still undecoded JSON (the transactions batch reads them
# by column). The values are checked by the converters.
FullBlock = msgspec.defstruct(
    "FullBlock", [(key, Any, msgspec.UNSET) for _, key, _, _ in HEADER]
    + [("logsBloom", Any, msgspec.UNSET), ("settledHeight", Any, msgspec.UNSET)]
    + [("transactions", list[msgspec.Raw] | msgspec.UnsetType, msgspec.UNSET)])


def block_row(block: dict) -> dict:
    row = {column: convert(f.required(block, key), key) if required else f.optional(convert, block, key, key)
           for column, key, convert, required in HEADER}
    return {**row, "transaction_count": len(f.required(block, "transactions"))}


def plain(value: Any) -> Any:
    """A value still undecoded JSON, decoded (anything else as it is)."""
    return msgspec.json.decode(value) if isinstance(value, msgspec.Raw) else value


def transaction_row(block: dict, tx: dict, receipt: dict) -> dict:
    tx_hash = f.hash32(f.required(tx, "hash"), "hash")
    if f.hash32(f.required(receipt, "transactionHash"), "receipt.transactionHash") != tx_hash:
        raise BadField("receipt.transactionHash", f"does not match transaction {tx_hash}")
    gas_used = f.quantity(f.required(receipt, "gasUsed"), "receipt.gasUsed")
    price_source = receipt if receipt.get("effectiveGasPrice") is not None else tx
    effective_price = int(f.uint256(f.required(price_source, "gasPrice" if price_source is tx else "effectiveGasPrice"),
                                    "receipt.effectiveGasPrice"))
    return {
        "block_number": f.quantity(f.required(block, "number"), "number"),
        "block_timestamp": f.quantity(f.required(block, "timestamp"), "timestamp"),
        "block_hash": f.hash32(f.required(block, "hash"), "hash"),
        "transaction_index": f.quantity(f.required(tx, "transactionIndex"), "transactionIndex"),
        "transaction_hash": tx_hash,
        "from_address": f.address(f.required(tx, "from"), "from"),
        "to_address": f.optional(f.address, tx, "to", "to"),
        "value": f.uint256(f.required(tx, "value"), "value"),
        "nonce": f.quantity(f.required(tx, "nonce"), "nonce"),
        "gas": f.quantity(f.required(tx, "gas"), "gas"),
        "gas_price": f.optional(f.uint256, tx, "gasPrice", "gasPrice"),
        "max_fee_per_gas": f.optional(f.uint256, tx, "maxFeePerGas", "maxFeePerGas"),
        "max_priority_fee_per_gas": f.optional(f.uint256, tx, "maxPriorityFeePerGas", "maxPriorityFeePerGas"),
        "input": f.data(f.required(tx, "input"), "input"),
        "transaction_type": f.quantity(tx.get("type", "0x0"), "type"),
        "chain_id": f.optional(f.quantity, tx, "chainId", "chainId"),
        "status": f.quantity(f.required(receipt, "status"), "receipt.status"),
        "gas_used": gas_used,
        "cumulative_gas_used": f.quantity(f.required(receipt, "cumulativeGasUsed"), "receipt.cumulativeGasUsed"),
        "effective_gas_price": str(effective_price),
        "transaction_fee": str(gas_used * effective_price),
        "contract_address": f.optional(f.address, receipt, "contractAddress", "receipt.contractAddress"),
        "logs_count": len(f.required(receipt, "logs", "receipt.logs")),
    }


class StrayLog(BadField):
    """A log whose blockHash is none of the chunk's blocks: the source's answers disagree (not malformed)."""


def log_row(log: dict, block_timestamps: dict[str, int]) -> dict:
    block_hash = f.hash32(f.required(log, "blockHash"), "blockHash")
    if block_hash not in block_timestamps:
        raise StrayLog("blockHash", f"{block_hash} is not the hash of any block of the chunk (the log states "
                                    f"block {log.get('blockNumber')})")
    topics = f.required(log, "topics")
    if not isinstance(topics, list) or len(topics) > 4:
        raise BadField("topics", f"expected at most 4 topics, got {str(topics)[:80]}")
    padded = [f.hash32(t, f"topics[{i}]") for i, t in enumerate(topics)] + [None] * (4 - len(topics))
    return {
        "block_number": f.quantity(f.required(log, "blockNumber"), "blockNumber"),
        "block_timestamp": block_timestamps[block_hash],
        "block_hash": block_hash,
        "transaction_hash": f.hash32(f.required(log, "transactionHash"), "transactionHash"),
        "transaction_index": f.quantity(f.required(log, "transactionIndex"), "transactionIndex"),
        "log_index": f.quantity(f.required(log, "logIndex"), "logIndex"),
        "address": f.address(f.required(log, "address"), "address"),
        "topic0": padded[0],
        "topic1": padded[1],
        "topic2": padded[2],
        "topic3": padded[3],
        "data": f.data(f.required(log, "data"), "data"),
    }
