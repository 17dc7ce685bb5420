"""C-Chain rows built a column at a time: the same batches as chain/rows.py, with Arrow's kernels doing
the checks. Each builder gives None whenever any value breaks a rule (the extractor then runs the row
functions, which name the field and the value). Nothing here decides what is valid on its own."""

from __future__ import annotations

import msgspec
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from avax_assets.chain import fields as f
from avax_assets.chain.rows import (AUTHORIZATION_KEYS, LOG_KEYS, TRANSACTION_KEYS, Receipt, access_list_text,
                                    authorization_list_text, hashes_text)
from avax_assets.core.errors import BadField

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


# Every key the node may send, as the column-at-a-time batches read it: JSON strings, or lists and objects of
# them. A key outside these refuses the fast path (json_columns), so the rows name and count it.
NESTED = {
    "topics": pa.list_(pa.string()),
    "blobVersionedHashes": pa.list_(pa.string()),
    "accessList": pa.list_(pa.struct([("address", pa.string()), ("storageKeys", pa.list_(pa.string()))])),
    "authorizationList": pa.list_(pa.struct([(key, pa.string()) for key in AUTHORIZATION_KEYS])),
    "removed": pa.bool_(),
}


def _json_schema(keys: frozenset[str]) -> pa.Schema:
    return pa.schema([(key, NESTED.get(key, pa.string())) for key in sorted(keys)])


TRANSACTION_JSON = _json_schema(TRANSACTION_KEYS)
LOG_JSON = _json_schema(LOG_KEYS)


def json_columns(objects: list, schema: pa.Schema) -> pa.Table | None:
    """JSON objects (undecoded, or decoded ones, encoded again) as a table of `schema`, read by Arrow's JSON
    reader with no Python object per value. It refuses a value of another JSON type than declared (a
    number where a hex string belongs, a string where a list does), so None means: let the rows judge."""
    if not objects:
        return schema.empty_table()
    lines = b"\n".join([o if isinstance(o, msgspec.Raw) else msgspec.json.encode(o) for o in objects])
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error",
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


def block_transactions(full: list[dict]) -> pa.Table | None:
    """The full blocks' transactions read by column (TRANSACTION_JSON); None: let the rows judge."""
    return json_columns([tx for block in full for tx in block["transactions"]], TRANSACTION_JSON)


def transaction_columns(full: list[dict], receipts: list[Receipt], schema: pa.Schema,
                        txs: pa.Table | None = None) -> pa.RecordBatch | None:
    """`receipts` in transaction order (as the node gives them); their hashes must equal the transactions'.
    `txs`: the transactions already read by column (`block_transactions`)."""
    try:
        txs = block_transactions(full) if txs is None else txs
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
            "signed_chain_id": f.quantity_column(tx("chainId"), nullable=True),
            "status": f.quantity_column(of_receipt("status"), pa.uint8()),
            "gas_used": gas_used,
            "cumulative_gas_used": f.quantity_column(of_receipt("cumulativeGasUsed")),
            "effective_gas_price": effective,
            "transaction_fee": fees,
            "contract_address": f.hex_column(of_receipt("contractAddress"), 20, nullable=True),
            "logs_count": _arrow([len(entries) for entries in logs], pl.UInt32),
            "access_list": canonical_lists(tx("accessList"), access_list_text),
            "authorization_list": canonical_lists(tx("authorizationList"), authorization_list_text),
            "max_fee_per_blob_gas": f.uint256_column(tx("maxFeePerBlobGas"), nullable=True),
            "blob_versioned_hashes": canonical_lists(tx("blobVersionedHashes"),
                                                     lambda value: hashes_text(value, "blobVersionedHashes")),
            "y_parity": f.quantity_column(tx("yParity"), pa.uint8(), nullable=True),
            "v": f.quantity_column(tx("v"), nullable=True),
            "r": f.uint256_column(tx("r"), nullable=True),
            "s": f.uint256_column(tx("s"), nullable=True),
            "blob_gas_used": f.quantity_column(of_receipt("blobGasUsed"), nullable=True),
            "blob_gas_price": f.uint256_column(of_receipt("blobGasPrice"), nullable=True),
        })
    except (KeyError, TypeError, AttributeError, BadField, pa.ArrowInvalid, pa.ArrowTypeError,
            pl.exceptions.PolarsError):
        return None


def canonical_lists(column: pa.Array, canonical) -> pa.Array:
    """A list column as canonical JSON text: null stays null, an empty list is '[]' (most rows, no Python
    object), and only the rows with entries go through `canonical` (which checks each value)."""
    series = pl.from_arrow(column)
    lengths = series.list.len()
    text = pl.select(pl.when(lengths == 0).then(pl.lit("[]")).otherwise(pl.lit(None, pl.String))).to_series() \
        if len(series) else pl.Series([], dtype=pl.String)
    with_entries = (lengths > 0).fill_null(False).arg_true()
    if len(with_entries):
        text = text.scatter(with_entries, [canonical(value) for value in series.gather(with_entries).to_list()])
    return text.to_arrow()


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
