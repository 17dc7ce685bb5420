"""C-Chain over JSON-RPC: typed reads that know the node's quirks, and blocks / transactions / logs as
Arrow batches of their declared schema, one block chunk at a time."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.chain import fields as f
from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.chain.rpc import METHOD_NOT_FOUND, Call, JsonRpcClient, as_plain
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


class Receipt(msgspec.Struct):
    """The receipt fields the chain datasets read. Each log stays undecoded JSON (most of a receipt's bytes):
    transactions only count them, the logs dataset parses them by column (`receipt_logs_json`). Values are
    checked by the converters."""

    transactionHash: Any = msgspec.UNSET
    gasUsed: Any = msgspec.UNSET
    effectiveGasPrice: Any = msgspec.UNSET
    status: Any = msgspec.UNSET
    cumulativeGasUsed: Any = msgspec.UNSET
    contractAddress: Any = msgspec.UNSET
    logs: list[msgspec.Raw] | None | msgspec.UnsetType = msgspec.UNSET


def plain_receipt(receipt: Receipt | Any) -> Any:
    """A receipt as the dict a generic decode gives (one that did not fit the shape already is one)."""
    return as_plain(receipt) if isinstance(receipt, Receipt) else receipt


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

    def full_blocks_with_receipts(self, blocks: range) -> tuple[list[dict], list[Receipt]]:
        """Full blocks and their receipts, in transaction order. Block receipts are asked for by number at
        the same time as the blocks (the node serves both at once); per-transaction receipts need the
        blocks first."""
        if not self._receipts_by_block:
            full = self.full_blocks(blocks)
            return full, self.receipt_structs(full)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipts") as side:
            by_number = side.submit(self.client.batch, [Call("eth_getBlockReceipts", [hex(n)]) for n in blocks],
                                    shape=list[Receipt])
            full = self.full_blocks(blocks)
            try:
                return full, [r for block_receipts in by_number.result() for r in block_receipts]
            except RpcError as exc:
                if self._receipts_fixed or exc.code != METHOD_NOT_FOUND:
                    raise
                self._receipts_by_block = False
                return full, self.receipt_structs(full)

    def receipts(self, blocks: list[dict]) -> list[dict]:
        return [plain_receipt(r) for r in self.receipt_structs(blocks)]

    def receipt_structs(self, blocks: list[dict]) -> list[Receipt]:
        """The blocks' receipts in transaction order (a receipt that does not fit the shape stays plain JSON)."""
        with_txs = [b for b in blocks if b.get("transactions")]
        if self._receipts_by_block:
            try:
                per_block = self.client.batch([Call("eth_getBlockReceipts", [b["number"]]) for b in with_txs],
                                              shape=list[Receipt])
                return [r for block_receipts in per_block for r in block_receipts]
            except RpcError as exc:
                if self._receipts_fixed or exc.code != METHOD_NOT_FOUND:
                    raise
                self._receipts_by_block = False
        tx_hashes = [tx if isinstance(tx, str) else tx["hash"] for b in with_txs for tx in b["transactions"]]
        return self.client.batch([Call("eth_getTransactionReceipt", [h]) for h in tx_hashes], shape=Receipt)

    def logs_json(self, blocks: range) -> list[msgspec.Raw]:
        """The eth_getLogs results over the range, each still the node's JSON array (undecoded)."""
        step = self.logs_block_range
        calls = [
            Call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(min(start + step, blocks.stop) - 1)}])
            for start in range(blocks.start, blocks.stop, step)
        ]
        return self.client.batch(calls, shape=msgspec.Raw)

    def logs(self, blocks: range) -> list[dict]:
        return plain_logs(self.logs_json(blocks))


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
        "ext_data_hash": f.optional(f.hash32, block, "extDataHash", "extDataHash"),
        "block_extra_data": f.optional(f.data, block, "blockExtraData", "blockExtraData"),
        "excess_blob_gas": f.optional(f.quantity, block, "excessBlobGas", "excessBlobGas"),
        "parent_beacon_block_root": f.optional(f.hash32, block, "parentBeaconBlockRoot", "parentBeaconBlockRoot"),
        "timestamp_milliseconds": f.optional(f.quantity, block, "timestampMilliseconds", "timestampMilliseconds"),
        "min_delay_excess": f.optional(f.quantity, block, "minDelayExcess", "minDelayExcess"),
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


# --- the same rows, built a column at a time ----------------------------------------------------
# The row functions above are the reference; these build the identical batch with Arrow's kernels doing
# the checks, and give None whenever any value breaks a rule (the extractor then runs the row functions,
# which name the field and the value). Nothing here decides what is valid on its own.

def _batch(schema: pa.Schema, columns: dict[str, pa.Array | None]) -> pa.RecordBatch | None:
    if any(column is None for column in columns.values()):
        return None
    return pa.RecordBatch.from_arrays([_as(columns[name], schema.field(name).type) for name in schema.names],
                                      schema=schema)


def _as(column: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    if column.type == arrow_type:
        return column
    if pa.types.is_timestamp(arrow_type):  # Unix seconds
        return column.cast(pa.int64()).cast(arrow_type)
    return column.cast(arrow_type)


def transaction_columns(full: list[dict], receipts: list[Receipt], schema: pa.Schema) -> pa.RecordBatch | None:
    """`receipts` in transaction order (as the node gives them); their hashes must equal the transactions'."""
    try:
        pairs = [(block, tx) for block in full for tx in block["transactions"]]
        if len(receipts) != len(pairs) or not all(isinstance(r, Receipt) for r in receipts):
            return None
        of_block = lambda key: [b.get(key) for b, _ in pairs]  # noqa: E731
        of_tx = lambda key: [t.get(key) for _, t in pairs]  # noqa: E731
        of_receipt = lambda key: [None if (v := getattr(r, key)) is msgspec.UNSET else v  # noqa: E731
                                  for r in receipts]
        hashes, receipt_hashes = f.hex_column(of_tx("hash"), 32), f.hex_column(of_receipt("transactionHash"), 32)
        if hashes is None or receipt_hashes is None or not f.all_true(pc.equal(hashes, receipt_hashes)):
            return None
        prices = [price if price is not None else t.get("gasPrice")
                  for price, (_, t) in zip(of_receipt("effectiveGasPrice"), pairs)]
        gas_used_hex = of_receipt("gasUsed")
        gas_used, effective = f.quantity_column(gas_used_hex), f.uint256_column(prices)
        fees = None if gas_used is None or effective is None else f.product_column(gas_used, prices)
        logs = of_receipt("logs")
        if any(not isinstance(entries, list) for entries in logs):
            return None
        return _batch(schema, {
            "block_number": f.quantity_column(of_block("number")),
            "block_timestamp": f.quantity_column(of_block("timestamp")),
            "block_hash": f.hex_column(of_block("hash"), 32),
            "transaction_index": f.quantity_column(of_tx("transactionIndex"), pa.uint32()),
            "transaction_hash": hashes,
            "from_address": f.hex_column(of_tx("from"), 20),
            "to_address": f.hex_column(of_tx("to"), 20, nullable=True),
            "value": f.uint256_column(of_tx("value")),
            "nonce": f.quantity_column(of_tx("nonce")),
            "gas": f.quantity_column(of_tx("gas")),
            "gas_price": f.uint256_column(of_tx("gasPrice"), nullable=True),
            "max_fee_per_gas": f.uint256_column(of_tx("maxFeePerGas"), nullable=True),
            "max_priority_fee_per_gas": f.uint256_column(of_tx("maxPriorityFeePerGas"), nullable=True),
            "input": f.hex_column(of_tx("input")),
            "transaction_type": f.quantity_column([t.get("type", "0x0") for _, t in pairs], pa.uint8()),
            "chain_id": f.quantity_column(of_tx("chainId"), nullable=True),
            "status": f.quantity_column(of_receipt("status"), pa.uint8()),
            "gas_used": gas_used,
            "cumulative_gas_used": f.quantity_column(of_receipt("cumulativeGasUsed")),
            "effective_gas_price": effective,
            "transaction_fee": fees,
            "contract_address": f.hex_column(of_receipt("contractAddress"), 20, nullable=True),
            "logs_count": pl.Series([len(entries) for entries in logs], dtype=pl.UInt32).to_arrow(),
        })
    except (KeyError, TypeError, AttributeError):
        return None


def plain_logs(results: list[msgspec.Raw]) -> list:
    return [entry for result in results for entry in msgspec.json.decode(result)]


LOG_KEYS = ("address", "topics", "data", "blockHash", "blockNumber", "transactionHash", "transactionIndex", "logIndex")


def log_columns_from_json(results: list[msgspec.Raw], block_timestamps: dict[str, int],
                          schema: pa.Schema) -> pa.RecordBatch | None:
    """The logs batch straight from the node's JSON arrays, parsed into columns by polars (no Python object
    per log)."""
    try:
        frames = [frame for frame in (pl.read_json(bytes(result)) for result in results) if frame.width]
        if not frames:
            return pa.RecordBatch.from_pylist([], schema=schema)
        frame = pl.concat(frames, how="vertical")
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        return None
    if not set(LOG_KEYS) <= set(frame.columns) or frame.schema["topics"] != pl.List(pl.String):
        return None
    topics = frame["topics"]
    lengths = topics.list.len()
    if topics.null_count() or (lengths > 4).any():
        return None
    by_position = [topics.list.get(i, null_on_oob=True) for i in range(4)]
    if sum(column.count() for column in by_position) != lengths.sum():  # a null inside the topics
        return None
    block_hashes = f.hex_column(frame["blockHash"], 32)
    if block_hashes is None:
        return None
    known = pl.DataFrame({"hash": list(block_timestamps), "timestamp": list(block_timestamps.values())})
    of_block = pc.index_in(block_hashes, value_set=known["hash"].to_arrow())
    if of_block.null_count:  # a hash that is not one of the chunk's blocks
        return None
    batch = _batch(schema, {
        "block_number": f.quantity_column(frame["blockNumber"]),
        "block_timestamp": known["timestamp"].to_arrow().take(of_block),
        "block_hash": block_hashes,
        "transaction_hash": f.hex_column(frame["transactionHash"], 32),
        "transaction_index": f.quantity_column(frame["transactionIndex"], pa.uint32()),
        "log_index": f.quantity_column(frame["logIndex"], pa.uint32()),
        "address": f.hex_column(frame["address"], 20),
        **{f"topic{i}": f.hex_column(column, 32, nullable=True) for i, column in enumerate(by_position)},
        "data": f.hex_column(frame["data"]),
    })
    if batch is None:
        return None
    return batch if _in_log_order(batch) else batch.take(
        pc.sort_indices(batch, sort_keys=[("block_number", "ascending"), ("log_index", "ascending")]))


def _in_log_order(batch: pa.RecordBatch) -> bool:
    """Sorted by (block_number, log_index), as nodes return logs: then no sort is needed."""
    keys = pl.from_arrow(batch.select(["block_number", "log_index"])).cast(pl.Int64)
    step, index_step = pl.col("block_number").diff(), pl.col("log_index").diff()
    return bool(keys.select(((step > 0) | ((step == 0) & (index_step > 0))).drop_nulls().all()).item())


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
    return blocks_batch(checked_blocks(reader.headers(blocks), blocks, scope), blocks, scope)


def blocks_batch(raw: list[dict], blocks: range, scope: Scope) -> pa.RecordBatch:
    """The blocks dataset of the chunk's blocks (headers or full blocks: a full block's header is the same)."""
    rows = []
    for number, block in zip(blocks, raw):
        try:
            rows.append(block_row(block))
        except BadField as bad:
            raise scope.error(bad, f"block {number}") from None
    return to_batch(scope, rows)


def extract_transactions(reader: ChainReader, blocks: range, scope: Scope) -> pa.RecordBatch:
    full, in_order = reader.full_blocks_with_receipts(blocks)
    return transactions_batch(checked_blocks(full, blocks, scope), in_order, scope)


def transactions_batch(full: list[dict], in_order: list[Receipt], scope: Scope) -> pa.RecordBatch:
    fast = transaction_columns(full, in_order, scope.dataset.arrow_schema)
    if fast is not None:
        return fast
    plain = (plain_receipt(r) for r in in_order)
    receipts = {r.get("transactionHash", "").lower(): r for r in plain if isinstance(r, dict)}
    rows = []  # something broke a rule: the row converters name the field and the first bad value
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
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="logs") as side:
        asked = side.submit(reader.logs_json, blocks)  # the node serves the logs while it serves the headers
        headers = checked_blocks(reader.headers(blocks), blocks, scope)
        results = asked.result()
    return logs_batch(results, headers, scope)


def logs_batch(results: list[msgspec.Raw], headers: list[dict], scope: Scope) -> pa.RecordBatch:
    """The logs dataset from the node's JSON arrays of logs; `headers` are the chunk's checked blocks."""
    timestamps = {h["hash"].lower(): int(h["timestamp"], 16) for h in headers}
    fast = log_columns_from_json(results, timestamps, scope.dataset.arrow_schema)
    if fast is not None:
        return fast
    logs = plain_logs(results)
    rows = []  # something broke a rule: the row converters name the field and the first bad value
    for log in logs:
        try:
            rows.append(log_row(log, timestamps))
        except BadField as bad:
            raise scope.error(bad, f"block {log.get('blockNumber')} log {log.get('logIndex')}") from None
    rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
    return to_batch(scope, rows)


def receipt_logs_json(receipts: list[Receipt | Any]) -> msgspec.Raw:
    """Every log of the receipts as one JSON array, as eth_getLogs gives it (a receipt's logs are the same
    objects, in log order). A receipt without a list of logs adds none: the transactions batch names it."""
    parts = []
    for receipt in receipts:
        logs = receipt.logs if isinstance(receipt, Receipt) else receipt.get("logs") if isinstance(receipt, dict) else None
        if isinstance(logs, list):
            parts += [bytes(log) if isinstance(log, msgspec.Raw) else msgspec.json.encode(log) for log in logs]
    return msgspec.Raw(b"[" + b",".join(parts) + b"]")


def extract_together(reader: ChainReader, blocks: range, scopes: dict[str, Scope]) -> dict[str, pa.RecordBatch]:
    """The transactions of the chunk and, for those of `blocks` and `logs` also in `scopes`, those datasets
    too, from one fetch of full blocks and receipts: a full block holds its header and each receipt its logs,
    so neither a header pass nor an eth_getLogs pass is needed. Keyed by dataset name."""
    transactions = scopes[TRANSACTIONS.name]
    full, in_order = reader.full_blocks_with_receipts(blocks)
    full = checked_blocks(full, blocks, transactions)
    batches = {TRANSACTIONS.name: transactions_batch(full, in_order, transactions)}
    if BLOCKS.name in scopes:
        batches[BLOCKS.name] = blocks_batch(full, blocks, scopes[BLOCKS.name])
    if LOGS.name in scopes:
        batches[LOGS.name] = logs_batch([receipt_logs_json(in_order)], full, scopes[LOGS.name])
    return batches
