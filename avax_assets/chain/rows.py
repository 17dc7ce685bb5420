"""C-Chain rows, one value at a time: the shapes the node's JSON is decoded into (a full block's header,
a receipt) and the row of each dataset. These converters are the reference: they name a bad field and
its value (chain/columns.py builds the same rows a column at a time, and falls back to these)."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from avax_assets.chain import fields as f
from avax_assets.chain.rpc import as_plain
from avax_assets.core.errors import BadField

class Receipt(msgspec.Struct, forbid_unknown_fields=True):
    """The receipt fields the chain datasets read. Each log stays undecoded JSON (most of a receipt's bytes):
    transactions only count them, the logs dataset reads them by column (`log_columns`). Values are
    checked by the converters; the receipt's position (block, index) by the proof (chain/proof.py). A receipt
    with a key no declaration knows does not fit: it comes back plain and the key is counted."""

    transactionHash: Any = msgspec.UNSET
    blockHash: Any = msgspec.UNSET
    blockNumber: Any = msgspec.UNSET
    transactionIndex: Any = msgspec.UNSET
    gasUsed: Any = msgspec.UNSET
    effectiveGasPrice: Any = msgspec.UNSET
    status: Any = msgspec.UNSET
    cumulativeGasUsed: Any = msgspec.UNSET
    contractAddress: Any = msgspec.UNSET
    blobGasUsed: Any = msgspec.UNSET
    blobGasPrice: Any = msgspec.UNSET
    logs: list[msgspec.Raw] | None | msgspec.UnsetType = msgspec.UNSET
    # known, and no column: the transaction's own (from, to, type), the block's (blockTimestamp), the bloom
    # (logs are whole), the pre-Byzantium state root (never on Avalanche)
    from_: Any = msgspec.field(default=msgspec.UNSET, name="from")
    to: Any = msgspec.UNSET
    type: Any = msgspec.UNSET
    blockTimestamp: Any = msgspec.UNSET
    logsBloom: Any = msgspec.UNSET
    root: Any = msgspec.UNSET


RECEIPT_KEYS = frozenset(Receipt.__struct_encode_fields__)
# a transaction's keys: the columns' and, known and no column, the block's own (blockTimestamp)
TRANSACTION_KEYS = frozenset({
    "hash", "from", "to", "value", "nonce", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "input",
    "type", "chainId", "transactionIndex", "blockHash", "blockNumber", "accessList", "authorizationList",
    "maxFeePerBlobGas", "blobVersionedHashes", "yParity", "v", "r", "s", "blockTimestamp"})
# a log's keys: the columns' and, known and no column, `removed` (never true for accepted blocks) and the
# block's own blockTimestamp
LOG_KEYS = frozenset({"address", "topics", "data", "blockHash", "blockNumber", "transactionHash", "transactionIndex",
                      "logIndex", "removed", "blockTimestamp"})

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
    ("logs_bloom", "logsBloom", f.data, False),
    ("sha3_uncles", "sha3Uncles", f.hash32, False),
    ("mix_hash", "mixHash", f.hash32, False),
    ("header_nonce", "nonce", f.data, False),
    ("withdrawals_root", "withdrawalsRoot", f.hash32, False),
    ("requests_hash", "requestsHash", f.hash32, False),
    ("target_exponent", "targetExponent", f.quantity, False),
    ("min_price_exponent", "minPriceExponent", f.quantity, False),
    ("target_excess", "targetExcess", f.quantity, False),
    ("settled_height", "settledHeight", f.quantity, False),
    ("settled_gas_unix", "settledGasUnix", f.quantity, False),
    ("settled_gas_numerator", "settledGasNumerator", f.quantity, False),
    ("settled_excess", "settledExcess", f.quantity, False),
    ("gas_config_validator_target_gas", "gasConfigValidatorTargetGas", f.quantity, False),
    ("gas_config_target_gas", "gasConfigTargetGas", f.quantity, False),
    ("gas_config_target_to_excess_scaling", "gasConfigTargetToExcessScaling", f.quantity, False),
    ("gas_config_min_gas_price", "gasConfigMinGasPrice", f.quantity, False),
    ("gas_config_static_pricing", "gasConfigStaticPricing", f.quantity, False),
)
# Keys of a block the node serves that are no column, each for its reason; any other key is unknown: counted
# and named (never dropped silently)
IGNORED_BLOCK_KEYS = {
    "transactions": "the transactions dataset",
    "blockTimestamp": "the timestamp again",
    "uncles": "always empty on Avalanche",
    "totalDifficulty": "the sum of difficulties (1 per block on Avalanche): the block number plus one",
    "withdrawals": "always empty on Avalanche",
}
BLOCK_KEYS = frozenset(key for _, key, _, _ in HEADER) | IGNORED_BLOCK_KEYS.keys()

# A full block as the datasets read it: its header fields and its transactions still undecoded JSON (the
# transactions batch reads them by column). The values are checked by the converters. A block with a key
# the declarations do not know does not fit (forbid_unknown_fields): it comes back plain, and the key is
# counted (`unknown_keys`), so a field a node adds is never dropped silently.
FullBlock = msgspec.defstruct(
    "FullBlock", [(key, Any, msgspec.UNSET) for _, key, _, _ in HEADER]
    + [(key, Any, msgspec.UNSET) for key in IGNORED_BLOCK_KEYS if key != "transactions"]
    + [("transactions", list[msgspec.Raw] | msgspec.UnsetType, msgspec.UNSET)], forbid_unknown_fields=True)


def unknown_keys(objects: list, known: frozenset[str]) -> dict[str, int]:
    """How many of `objects` (plain dicts; decoded shapes hold known keys only) carry each key not `known`."""
    found: dict[str, int] = {}
    for item in objects:
        if isinstance(item, dict):
            for key in item.keys() - known:
                found[key] = found.get(key, 0) + 1
    return found


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
        "signed_chain_id": f.optional(f.quantity, tx, "chainId", "chainId"),
        "status": f.quantity(f.required(receipt, "status"), "receipt.status"),
        "gas_used": gas_used,
        "cumulative_gas_used": f.quantity(f.required(receipt, "cumulativeGasUsed"), "receipt.cumulativeGasUsed"),
        "effective_gas_price": str(effective_price),
        "transaction_fee": str(gas_used * effective_price),
        "contract_address": f.optional(f.address, receipt, "contractAddress", "receipt.contractAddress"),
        "logs_count": len(f.required(receipt, "logs", "receipt.logs")),
        **signed_fields(tx),
        "blob_gas_used": f.optional(f.quantity, receipt, "blobGasUsed", "receipt.blobGasUsed"),
        "blob_gas_price": f.optional(f.uint256, receipt, "blobGasPrice", "receipt.blobGasPrice"),
    }


def signed_fields(tx: dict) -> dict:
    """The columns of a transaction's type-specific fields and signature (null where its type has none)."""
    return {
        "access_list": access_list_text(tx.get("accessList")),
        "authorization_list": authorization_list_text(tx.get("authorizationList")),
        "max_fee_per_blob_gas": f.optional(f.uint256, tx, "maxFeePerBlobGas", "maxFeePerBlobGas"),
        "blob_versioned_hashes": hashes_text(tx.get("blobVersionedHashes"), "blobVersionedHashes"),
        "y_parity": f.optional(f.quantity, tx, "yParity", "yParity"),
        "v": f.optional(f.quantity, tx, "v", "v"),
        "r": f.optional(f.uint256, tx, "r", "r"),
        "s": f.optional(f.uint256, tx, "s", "s"),
    }


def canonical_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _list(value: Any, field: str) -> list:
    if not isinstance(value, list):
        raise BadField(field, f"expected a list, got {str(value)[:80]}")
    return value


def access_list_text(value: Any) -> str | None:
    """An EIP-2930 access list as canonical JSON: [{"address": …, "storageKeys": […]}], lower-case hex."""
    if value is None:
        return None
    entries = []
    for i, entry in enumerate(_list(value, "accessList")):
        where = f"accessList[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"address", "storageKeys"}:
            raise BadField(where, f"expected address and storageKeys, got {str(entry)[:80]}")
        keys = [f.hash32(key, f"{where}.storageKeys") for key in _list(entry["storageKeys"], f"{where}.storageKeys")]
        entries.append({"address": f.address(entry["address"], f"{where}.address"), "storageKeys": keys})
    return canonical_json(entries)


AUTHORIZATION_KEYS = ("chainId", "address", "nonce", "yParity", "r", "s")


def authorization_list_text(value: Any) -> str | None:
    """An EIP-7702 authorization list as canonical JSON: chainId, nonce and yParity exact decimal strings,
    address, r and s lower-case hex."""
    if value is None:
        return None
    entries = []
    for i, entry in enumerate(_list(value, "authorizationList")):
        where = f"authorizationList[{i}]"
        if not isinstance(entry, dict) or set(entry) != set(AUTHORIZATION_KEYS):
            raise BadField(where, f"expected {', '.join(AUTHORIZATION_KEYS)}, got {str(entry)[:80]}")
        entries.append({"chainId": f.uint256(entry["chainId"], f"{where}.chainId"),
                        "address": f.address(entry["address"], f"{where}.address"),
                        "nonce": str(f.quantity(entry["nonce"], f"{where}.nonce")),
                        "yParity": str(f.quantity(entry["yParity"], f"{where}.yParity")),
                        "r": hex(int(f.uint256(entry["r"], f"{where}.r"))),
                        "s": hex(int(f.uint256(entry["s"], f"{where}.s")))})
    return canonical_json(entries)


def hashes_text(value: Any, field: str) -> str | None:
    """A list of 32-byte hashes as canonical JSON, lower-case hex."""
    if value is None:
        return None
    return canonical_json([f.hash32(item, f"{field}[{i}]") for i, item in enumerate(_list(value, field))])


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
