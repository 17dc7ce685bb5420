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
import pyarrow.json as pj

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
    transactions only count them, the logs dataset reads them by column (`log_columns`). Values are
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
        """Full blocks, each its header fields and its transactions still undecoded JSON (`FullBlock`; a
        batch that does not fit that shape comes back plain, transactions decoded)."""
        full = self.client.batch([Call("eth_getBlockByNumber", [hex(n), True]) for n in blocks], shape=FullBlock)
        return [as_plain(block) if isinstance(block, FullBlock) else block for block in full]

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
        tx_hashes = [tx if isinstance(tx := plain(entry), str) else tx["hash"]
                     for b in with_txs for entry in b["transactions"]]
        return self.client.batch([Call("eth_getTransactionReceipt", [h]) for h in tx_hashes], shape=Receipt)

    def logs_json(self, blocks: range) -> list[msgspec.Raw | Any]:
        """The logs over the range, each still the node's JSON (undecoded; all decoded if an eth_getLogs
        answer is not an array)."""
        step = self.logs_block_range
        calls = [
            Call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(min(start + step, blocks.stop) - 1)}])
            for start in range(blocks.start, blocks.stop, step)
        ]
        return [log for result in self.client.batch(calls, shape=list[msgspec.Raw]) for log in result]

    def logs(self, blocks: range) -> list[dict]:
        return [plain(log) for log in self.logs_json(blocks)]


# --- rows ---------------------------------------------------------------------------------------

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

# A full block as the datasets read it: its header fields, and its transactions still undecoded JSON (the
# transactions batch reads them by column). The values are checked by the converters.
FullBlock = msgspec.defstruct(
    "FullBlock", [(key, Any, msgspec.UNSET) for _, key, _, _ in HEADER]
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


def _json_strings(*keys: str, lists: tuple[str, ...] = ()) -> pa.Schema:
    return pa.schema([(key, pa.list_(pa.string()) if key in lists else pa.string()) for key in keys])


# The node's keys each column-at-a-time batch reads, all JSON strings (or lists of them); others are ignored
TRANSACTION_JSON = _json_strings("hash", "from", "to", "value", "nonce", "gas", "gasPrice", "maxFeePerGas",
                                 "maxPriorityFeePerGas", "input", "type", "chainId", "transactionIndex")
LOG_JSON = _json_strings("address", "topics", "data", "blockHash", "blockNumber", "transactionHash",
                         "transactionIndex", "logIndex", lists=("topics",))


def json_columns(objects: list, schema: pa.Schema) -> pa.Table | None:
    """JSON objects (undecoded, or decoded ones, encoded again) as a table of `schema`, read by Arrow's JSON
    reader with no Python object per value. It refuses a value of another JSON type than declared (a
    number where a hex string belongs, a string where a list does), so None means: let the rows judge."""
    if not objects:
        return schema.empty_table()
    lines = b"\n".join([o if isinstance(o, msgspec.Raw) else msgspec.json.encode(o) for o in objects])
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore",
                            newlines_in_values=lines.count(b"\n") != len(objects) - 1)  # a pretty-printed object
    read = pj.ReadOptions(use_threads=False, block_size=len(lines) + 1)  # one block: no object straddles two
    try:
        table = pj.read_json(pa.BufferReader(lines), read_options=read, parse_options=parse)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return table if table.num_rows == len(objects) else None


def _arrow(values: list, dtype: pl.DataType) -> pa.Array:
    """A Python list as an Arrow array (through polars: pa.array imports pandas, ~2 s, on first use)."""
    return pl.Series(values, dtype=dtype, strict=True).to_arrow()


def _column(table: pa.Table, key: str) -> pa.Array:
    return table.column(key).combine_chunks()


def transaction_columns(full: list[dict], receipts: list[Receipt], schema: pa.Schema) -> pa.RecordBatch | None:
    """`receipts` in transaction order (as the node gives them); their hashes must equal the transactions'."""
    try:
        txs = json_columns([tx for block in full for tx in block["transactions"]], TRANSACTION_JSON)
        if txs is None or len(receipts) != txs.num_rows or not all(isinstance(r, Receipt) for r in receipts):
            return None
        tx = lambda key: _column(txs, key)  # noqa: E731
        of_receipt = lambda key: [None if (v := getattr(r, key)) is msgspec.UNSET else v  # noqa: E731
                                  for r in receipts]
        hashes, receipt_hashes = f.hex_column(tx("hash"), 32), f.hex_column(of_receipt("transactionHash"), 32)
        if hashes is None or receipt_hashes is None or not f.all_true(pc.equal(hashes, receipt_hashes)):
            return None
        if tx("type").null_count:  # a missing type is a legacy one, a null one is wrong: the rows tell them apart
            return None
        of_block = lambda key: [b.get(key) for b in full]  # noqa: E731
        block_columns = {"block_number": f.quantity_column(of_block("number")),
                         "block_timestamp": f.quantity_column(of_block("timestamp")),
                         "block_hash": f.hex_column(of_block("hash"), 32)}
        if any(column is None for column in block_columns.values()):
            return None
        block_of_tx = _arrow([position for position, block in enumerate(full) for _ in block["transactions"]],
                             pl.Int32)
        prices = pc.coalesce(_arrow(of_receipt("effectiveGasPrice"), pl.String).cast(pa.string()), tx("gasPrice"))
        gas_used, effective = f.quantity_column(of_receipt("gasUsed")), f.uint256_column(prices)
        fees = None if gas_used is None or effective is None else f.product_column(gas_used, prices)
        logs = of_receipt("logs")
        if any(not isinstance(entries, list) for entries in logs):
            return None
        return _batch(schema, {
            **{column: values.take(block_of_tx) for column, values in block_columns.items()},
            "transaction_index": f.quantity_column(tx("transactionIndex"), pa.uint32()),
            "transaction_hash": hashes,
            "from_address": f.hex_column(tx("from"), 20),
            "to_address": f.hex_column(tx("to"), 20, nullable=True),
            "value": f.uint256_column(tx("value")),
            "nonce": f.quantity_column(tx("nonce")),
            "gas": f.quantity_column(tx("gas")),
            "gas_price": f.uint256_column(tx("gasPrice"), nullable=True),
            "max_fee_per_gas": f.uint256_column(tx("maxFeePerGas"), nullable=True),
            "max_priority_fee_per_gas": f.uint256_column(tx("maxPriorityFeePerGas"), nullable=True),
            "input": f.hex_column(tx("input")),
            "transaction_type": f.quantity_column(tx("type"), pa.uint8()),
            "chain_id": f.quantity_column(tx("chainId"), nullable=True),
            "status": f.quantity_column(of_receipt("status"), pa.uint8()),
            "gas_used": gas_used,
            "cumulative_gas_used": f.quantity_column(of_receipt("cumulativeGasUsed")),
            "effective_gas_price": effective,
            "transaction_fee": fees,
            "contract_address": f.hex_column(of_receipt("contractAddress"), 20, nullable=True),
            "logs_count": _arrow([len(entries) for entries in logs], pl.UInt32),
        })
    except (KeyError, TypeError, AttributeError, pa.ArrowInvalid, pa.ArrowTypeError, pl.exceptions.PolarsError):
        return None


def log_columns(logs: list, block_timestamps: dict[str, int], schema: pa.Schema) -> pa.RecordBatch | None:
    """The logs batch from the node's logs (each undecoded JSON, or decoded), read by column."""
    table = json_columns(logs, LOG_JSON)
    if table is None:
        return None
    column = lambda key: _column(table, key)  # noqa: E731
    topics = pl.from_arrow(column("topics"))
    lengths = topics.list.len()
    if topics.null_count() or (lengths > 4).any():
        return None
    by_position = [topics.list.get(i, null_on_oob=True) for i in range(4)]
    if sum(topic.count() for topic in by_position) != lengths.sum():  # a null inside the topics
        return None
    known_hashes = f.hex_column(list(block_timestamps), 32)
    known_timestamps = _arrow(list(block_timestamps.values()), pl.UInt64)
    block_hashes = column("blockHash")
    of_block = None if known_hashes is None else pc.index_in(block_hashes, value_set=known_hashes)
    if of_block is None or of_block.null_count:  # a hash that is not one of the chunk's (checked) block hashes
        return None
    batch = _batch(schema, {
        "block_number": f.quantity_column(column("blockNumber")),
        "block_timestamp": known_timestamps.take(of_block),
        "block_hash": block_hashes,
        "transaction_hash": f.hex_column(column("transactionHash"), 32),
        "transaction_index": f.quantity_column(column("transactionIndex"), pa.uint32()),
        "log_index": f.quantity_column(column("logIndex"), pa.uint32()),
        "address": f.hex_column(column("address"), 20),
        **{f"topic{i}": f.hex_column(topic, 32, nullable=True) for i, topic in enumerate(by_position)},
        "data": f.hex_column(column("data")),
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
    plain_receipts = (plain_receipt(r) for r in in_order)
    receipts = {r.get("transactionHash", "").lower(): r for r in plain_receipts if isinstance(r, dict)}
    rows = []  # something broke a rule: the row converters name the field and the first bad value
    for block in full:
        for tx in map(plain, block["transactions"]):
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


def logs_batch(logs: list, headers: list[dict], scope: Scope) -> pa.RecordBatch:
    """The logs dataset from the node's logs (undecoded JSON); `headers` are the chunk's checked blocks."""
    timestamps = {h["hash"].lower(): int(h["timestamp"], 16) for h in headers}
    fast = log_columns(logs, timestamps, scope.dataset.arrow_schema)
    if fast is not None:
        return fast
    rows = []  # something broke a rule: the row converters name the field and the first bad value
    for log in map(plain, logs):
        try:
            rows.append(log_row(log, timestamps))
        except BadField as bad:
            raise scope.error(bad, f"block {log.get('blockNumber')} log {log.get('logIndex')}") from None
    rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
    return to_batch(scope, rows)


def receipt_logs(receipts: list[Receipt | Any]) -> list:
    """Every log of the receipts, as eth_getLogs gives them (a receipt's logs are the same objects, in log
    order). A receipt without a list of logs adds none: the transactions batch names it."""
    def of(receipt: Receipt | Any) -> Any:
        return receipt.logs if isinstance(receipt, Receipt) else receipt.get("logs") if isinstance(receipt, dict) else None
    return [log for receipt in receipts if isinstance(logs := of(receipt), list) for log in logs]


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
        batches[LOGS.name] = logs_batch(receipt_logs(in_order), full, scopes[LOGS.name])
    return batches
