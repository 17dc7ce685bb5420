"""C-Chain over JSON-RPC: typed reads that know the node's quirks, and blocks / transactions / logs as
Arrow batches of their declared schema, one block chunk at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from avax_assets.chain import fields as f
from avax_assets.chain.rpc import METHOD_NOT_FOUND, Call, JsonRpcClient
from avax_assets.core.errors import BadField, RpcError, SourceDataError
from avax_assets.core.schema import Dataset
from avax_assets.core.settings import RPC, ReceiptsMethod, TraceMethod


@dataclass(frozen=True)
class Scope:
    """What is being extracted, so errors can name dataset, partition and field."""

    dataset: Dataset
    partition: str

    def error(self, bad: BadField, where: str) -> SourceDataError:
        return SourceDataError(self.dataset.name, self.partition, bad.field, bad.detail, where)


class ChainReader:
    """Typed reads over a JsonRpcClient; knows the node's quirks (receipts API, getLogs range limit)."""

    def __init__(self, client: JsonRpcClient, logs_block_range: int = RPC.logs_block_range,
                 receipts: ReceiptsMethod = ReceiptsMethod.auto, trace_client: JsonRpcClient | None = None,
                 trace_method: TraceMethod = TraceMethod.auto) -> None:
        receipts, trace_method = ReceiptsMethod(receipts), TraceMethod(trace_method)
        self.client = client
        self.endpoint = client.settings.url  # identifies the source in caches
        self.trace_client = trace_client or client
        self.trace_method = trace_method
        self.logs_block_range = logs_block_range
        self._receipts_by_block = receipts is not ReceiptsMethod.transaction
        self._receipts_fixed = receipts is not ReceiptsMethod.auto

    def latest_block(self) -> int:
        return f.quantity(self.client.call("eth_blockNumber", []), "eth_blockNumber")

    def headers(self, blocks: range) -> list[dict]:
        return self.client.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in blocks])

    def full_blocks(self, blocks: range) -> list[dict]:
        return self.client.batch([Call("eth_getBlockByNumber", [hex(n), True]) for n in blocks])

    def timestamp(self, number: int) -> int:
        return f.quantity(f.required(self.headers(range(number, number + 1))[0], "timestamp"), "timestamp")

    def receipts(self, blocks: list[dict]) -> list[dict]:
        with_txs = [b for b in blocks if b.get("transactions")]
        if self._receipts_by_block:
            try:
                per_block = self.client.batch([Call("eth_getBlockReceipts", [b["number"]]) for b in with_txs])
                return [r for block_receipts in per_block for r in block_receipts]
            except RpcError as exc:
                if self._receipts_fixed or exc.code != METHOD_NOT_FOUND:
                    raise
                self._receipts_by_block = False
        tx_hashes = [tx if isinstance(tx, str) else tx["hash"] for b in with_txs for tx in b["transactions"]]
        return self.client.batch([Call("eth_getTransactionReceipt", [h]) for h in tx_hashes])

    def logs(self, blocks: range) -> list[dict]:
        step = self.logs_block_range
        calls = [
            Call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(min(start + step, blocks.stop) - 1)}])
            for start in range(blocks.start, blocks.stop, step)
        ]
        return [log for chunk in self.client.batch(calls) for log in chunk]


# --- rows ---------------------------------------------------------------------------------------

def block_row(block: dict) -> dict:
    return {
        "block_number": f.quantity(f.required(block, "number"), "number"),
        "block_timestamp": f.quantity(f.required(block, "timestamp"), "timestamp"),
        "block_hash": f.hash32(f.required(block, "hash"), "hash"),
        "parent_hash": f.hash32(f.required(block, "parentHash"), "parentHash"),
        "miner": f.address(f.required(block, "miner"), "miner"),
        "state_root": f.hash32(f.required(block, "stateRoot"), "stateRoot"),
        "transactions_root": f.hash32(f.required(block, "transactionsRoot"), "transactionsRoot"),
        "receipts_root": f.hash32(f.required(block, "receiptsRoot"), "receiptsRoot"),
        "extra_data": f.data(f.required(block, "extraData"), "extraData"),
        "size": f.quantity(f.required(block, "size"), "size"),
        "gas_limit": f.quantity(f.required(block, "gasLimit"), "gasLimit"),
        "gas_used": f.quantity(f.required(block, "gasUsed"), "gasUsed"),
        "base_fee_per_gas": f.optional(f.uint256, block, "baseFeePerGas", "baseFeePerGas"),
        "difficulty": f.uint256(f.required(block, "difficulty"), "difficulty"),
        "transaction_count": len(f.required(block, "transactions")),
        "block_gas_cost": f.optional(f.uint256, block, "blockGasCost", "blockGasCost"),
        "ext_data_gas_used": f.optional(f.uint256, block, "extDataGasUsed", "extDataGasUsed"),
        "blob_gas_used": f.optional(f.quantity, block, "blobGasUsed", "blobGasUsed"),
    }


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


def log_row(log: dict, block_timestamps: dict[str, int]) -> dict:
    block_hash = f.hash32(f.required(log, "blockHash"), "blockHash")
    if block_hash not in block_timestamps:
        raise BadField("blockHash", f"{block_hash} is not the canonical hash of block {log.get('blockNumber')}")
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


# --- extractors: one block chunk → one Arrow batch of the dataset's schema -----------------------

Extractor = Callable[[ChainReader, range, Scope], pa.RecordBatch]


def to_batch(scope: Scope, rows: list[dict]) -> pa.RecordBatch:
    try:
        return pa.RecordBatch.from_pylist(rows, schema=scope.dataset.arrow_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise SourceDataError(scope.dataset.name, scope.partition, "?", f"does not fit the schema: {exc}") from exc


def checked_blocks(raw: list[dict], blocks: range, scope: Scope) -> list[dict]:
    for number, block in zip(blocks, raw):
        try:
            got = f.quantity(f.required(block, "number"), "number")
        except BadField as bad:
            raise scope.error(bad, f"block {number}") from None
        if got != number:
            raise SourceDataError(scope.dataset.name, scope.partition, "number", f"is {got}, asked for {number}")
    return raw


def extract_blocks(reader: ChainReader, blocks: range, scope: Scope) -> pa.RecordBatch:
    rows = []
    for number, block in zip(blocks, checked_blocks(reader.headers(blocks), blocks, scope)):
        try:
            rows.append(block_row(block))
        except BadField as bad:
            raise scope.error(bad, f"block {number}") from None
    return to_batch(scope, rows)


def extract_transactions(reader: ChainReader, blocks: range, scope: Scope) -> pa.RecordBatch:
    full = checked_blocks(reader.full_blocks(blocks), blocks, scope)
    receipts = {r.get("transactionHash", "").lower(): r for r in reader.receipts(full) if isinstance(r, dict)}
    rows = []
    for block in full:
        for tx in block["transactions"]:
            where = f"block {int(block['number'], 16)} tx {tx.get('hash') if isinstance(tx, dict) else tx}"
            try:
                receipt = receipts.get(str(f.required(tx, "hash")).lower())
                if receipt is None:
                    raise BadField("receipt", "is missing from the node's receipts")
                rows.append(transaction_row(block, tx, receipt))
            except BadField as bad:
                raise scope.error(bad, where) from None
    return to_batch(scope, rows)


def extract_logs(reader: ChainReader, blocks: range, scope: Scope) -> pa.RecordBatch:
    headers = checked_blocks(reader.headers(blocks), blocks, scope)
    timestamps = {h["hash"].lower(): int(h["timestamp"], 16) for h in headers}
    rows = []
    for log in reader.logs(blocks):
        try:
            rows.append(log_row(log, timestamps))
        except BadField as bad:
            raise scope.error(bad, f"block {log.get('blockNumber')} log {log.get('logIndex')}") from None
    rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
    return to_batch(scope, rows)
