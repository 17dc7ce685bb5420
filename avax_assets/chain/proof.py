"""Proof before storage: each chunk of chain data is shown to be one consistent piece of the chain before
any of it is spooled, so a lying or lagging load-balanced provider never puts a wrong row in the lake,
Kafka or ClickHouse. Under Snowman an accepted block never changes: two answers for one height, or
receipts that are not their block's, are the provider's fault. A failed check raises ProviderInconsistency
(the chunk is fetched again; chain/extract.py `Refetch`) naming the block, the field and both values.

What a chunk is held to:
  blocks        the numbers asked for (extractors.checked_blocks); each parentHash is the hash of the block
                before, the first one the hash of the block before the chunk and the last hash the parentHash
                of the block after it (both read with the chunk); in order, each chunk's first parentHash is
                the previous chunk's last hash (HashChain)
  transactions  in their block (blockHash, blockNumber), transactionIndex 0..n-1 in each block, as many as
                the block counts, hashes unique
  receipts      exactly the block's transactions, once each, in order; their blockHash, blockNumber and
                transactionIndex those of their transaction
  logs          in their block (hash), logIndex 0..k-1 in each block (unique, contiguous); a block has logs
                exactly when its logsBloom is not empty; each names a transaction of its block (index and
                hash), and each transaction has as many logs as its receipt holds
  traces        one per transaction of the block, in order
  two sources   (the Data API beside JSON-RPC) the same hash and transaction count for every block

The checks run over the chunk's columns (polars); Python loops only over blocks, receipts and traces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl
import pyarrow as pa

from avax_assets.chain import fields as f
from avax_assets.chain.datasets import LOGS, TRANSACTIONS
from avax_assets.chain.rows import Receipt, plain
from avax_assets.core.errors import BadField, ProviderInconsistency

# (column stated by the source, column it must equal, the field's name, what the second column is)
Check = tuple[str, str, str, str]


def inconsistent(scope: Any, block: int, detail: str) -> ProviderInconsistency:
    """`scope` is the extraction's (chain/extractors.py Scope): its dataset and partition are named."""
    return ProviderInconsistency(scope.dataset.name, scope.partition, block, detail)


@dataclass(frozen=True)
class Neighbour:
    """A block just outside the chunk, read with it: what the chunk's first parentHash and last hash are linked
    to, and (at a day's edges) what shows the day's range is right."""

    hash: str
    parent_hash: str
    timestamp: int


@dataclass(frozen=True)
class BlockView:
    """The chunk's blocks as one answer of the source gave them: what every row of the chunk is held to.
    `before` and `after`: the blocks just before and after the chunk (None: there is none, or not read)."""

    scope: Any  # the extraction that read them (named in messages)
    first: int
    hashes: tuple[str, ...]
    parents: tuple[str, ...]
    timestamps: tuple[int, ...]
    transaction_counts: tuple[int | None, ...]
    has_logs: tuple[bool | None, ...]  # from the logsBloom; None where the source gives none
    before: Neighbour | None = None
    after: Neighbour | None = None
    # the header's gasUsed: what its transactions' receipts add up to; None where the source gives none, or
    # under SAE (settledHeight: Helicon's header accounts for gas its own way)
    gas_used: tuple[int | None, ...] = ()

    @property
    def last(self) -> int:
        return self.first + len(self.hashes) - 1

    @cached_property
    def frame(self) -> pl.DataFrame:
        return pl.DataFrame({"block_number": range(self.first, self.last + 1), "hash": self.hashes,
                             "transaction_count": self.transaction_counts, "has_logs": self.has_logs},
                            schema={"block_number": pl.Int64, "hash": pl.String, "transaction_count": pl.Int64,
                                    "has_logs": pl.Boolean})


@dataclass(frozen=True)
class Proven:
    """A chunk's batches ({dataset name: batch}) and the blocks they were proven against."""

    batches: dict[str, pa.RecordBatch]
    blocks: BlockView


def has_logs(header: dict) -> bool | None:
    """A block has logs exactly when its logs bloom is not empty (each log sets its address's bits). Not so
    under Helicon's asynchronous execution (ACP-194): a header carrying the settlement fields has a bloom that
    does not summarise its own receipts, so it says nothing here (None), as a header without a bloom does."""
    bloom = header.get("logsBloom")
    if not isinstance(bloom, str) or not bloom.startswith("0x") or header.get("settledHeight") is not None:
        return None
    return bloom[2:].strip("0") != ""


def _header(scope: Any, number: int, header: dict) -> tuple[str, str, int]:
    """A JSON-RPC header's hash, parentHash and timestamp; a malformed one is named (bad data, not a lie)."""
    try:
        return (f.hash32(f.required(header, "hash"), "hash"), f.hash32(f.required(header, "parentHash"), "parentHash"),
                f.quantity(f.required(header, "timestamp"), "timestamp"))
    except BadField as bad:
        raise scope.error(bad, f"block {number}") from None


def view_of_headers(scope: Any, blocks: range, headers: list[dict],
                    neighbours: tuple[dict | None, dict | None] = (None, None)) -> BlockView:
    """The view of JSON-RPC headers or full blocks (already checked to be the numbers asked for), and of the
    headers of the blocks before and after the chunk."""
    hashes, parents, timestamps = zip(*(_header(scope, n, h) for n, h in zip(blocks, headers, strict=True)),
                                      strict=True)
    counts = tuple(len(h["transactions"]) if isinstance(h.get("transactions"), list) else None for h in headers)
    before, after = ((None if h is None else Neighbour(*_header(scope, n, h)))
                     for n, h in zip((blocks.start - 1, blocks.stop), neighbours, strict=True))
    return BlockView(scope, blocks.start, hashes, parents, timestamps, counts,
                     tuple(has_logs(h) for h in headers), before, after, tuple(_gas_used(h) for h in headers))


def _gas_used(header: dict) -> int | None:
    value = header.get("gasUsed")
    if "settledHeight" in header or not isinstance(value, str) or not value.startswith("0x"):
        return None  # not stated as a quantity: the row converters name a malformed one
    try:
        return int(value, 16)
    except ValueError:
        return None


# --- blocks ---------------------------------------------------------------------------------------

def prove_blocks(view: BlockView) -> None:
    """Each block's parentHash is the hash of the block before it, to the blocks read around the chunk."""
    scope = view.scope
    if view.before is None and view.first > 0:
        raise inconsistent(scope, view.first, f"block {view.first - 1}, before it, was answered null (a backend "
                                              "behind the chain)")
    expected = (view.before and view.before.hash, *view.hashes[:-1])
    for number, parent, previous in zip(range(view.first, view.last + 1), view.parents, expected, strict=True):
        if previous is not None and parent != previous:
            raise inconsistent(scope, number, f"parentHash is {parent}, but block {number - 1}'s hash is {previous}")
    if view.after is not None and view.after.parent_hash != view.hashes[-1]:
        raise inconsistent(scope, view.last, f"hash is {view.hashes[-1]}, but block {view.last + 1}'s parentHash "
                                             f"is {view.after.parent_hash}")
    if len(set(view.hashes)) != len(view.hashes):
        raise inconsistent(scope, view.first, "two blocks of the chunk have the same hash")


class HashChain:
    """The partition's hash chain, carried through its chunks in order: each chunk's first parentHash is the
    previous chunk's last hash, and the chunk ending at `last_block` (the day's last; None: no end, the live
    path) must have been read with the block after it, so the day's last hash is linked too. With `day`
    ([start, end) in Unix seconds), the day's edges show its block range is right: its first block is on the
    day and the one before it is not, and so for its last block and the one after it."""

    def __init__(self, last_block: int | None = None, last_hash: str | None = None,
                 day: tuple[int, int] | None = None) -> None:
        self.last_block, self.hash, self.day = last_block, last_hash, day

    def check(self, proven: Proven) -> None:
        view = proven.blocks
        if self.hash is not None and view.parents[0] != self.hash:
            raise inconsistent(view.scope, view.first, f"parentHash is {view.parents[0]}, but block "
                                                       f"{view.first - 1}'s hash was {self.hash} in the chunk before")
        if view.last == self.last_block and view.after is None:
            raise inconsistent(view.scope, view.last, f"block {view.last + 1}, after it, was answered null (a "
                                                      "backend behind the chain)")
        if self.day is not None:
            self._on_the_day(view, first_chunk=self.hash is None)

    def _on_the_day(self, view: BlockView, first_chunk: bool) -> None:
        start, end = self.day
        edges = []
        if first_chunk:
            edges += [(view.first, view.timestamps[0], True), (view.first - 1, view.before and view.before.timestamp,
                                                               False)]
        if view.last == self.last_block:
            edges += [(view.last, view.timestamps[-1], True), (view.last + 1, view.after.timestamp, False)]
        for number, timestamp, inside in edges:
            if timestamp is not None and (start <= timestamp < end) != inside:
                raise inconsistent(view.scope, number, f"timestamp {timestamp} is {'not ' if inside else ''}on the "
                                                       f"day [{start}, {end}), but the day's range was found "
                                                       f"{'with' if inside else 'without'} it")

    def advance(self, proven: Proven) -> None:
        self.hash = proven.blocks.hashes[-1]


# --- columns of the chunk -------------------------------------------------------------------------

def _lower(column: str) -> pl.Expr:
    return pl.col(column).str.to_lowercase()


def _quantity(column: str) -> pl.Expr:
    """A hex quantity as an integer; null for anything else (malformed values are the converters' to name)."""
    value = pl.col(column)
    return pl.when(value.str.starts_with("0x")).then(
        value.str.slice(2).str.to_integer(base=16, dtype=pl.Int64, strict=False))


def _strings(values: list) -> pl.Series:
    """Stated values as text; anything else (absent, a number) as null: not stated, not judged here."""
    try:
        return pl.Series(values, dtype=pl.String)  # every value text or None: no Python pass over them
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        return pl.Series([v if isinstance(v, str) else None for v in values], dtype=pl.String)


def _first_disagreement(scope: Any, frame: pl.DataFrame, checks: list[Check], subject: Callable[[dict], str]) -> None:
    """Raise for the first row where a stated column differs from what it must equal (null: not stated)."""
    bad = frame.filter(pl.any_horizontal([pl.col(got) != pl.col(want) for got, want, _, _ in checks]))
    if bad.is_empty():
        return
    row = bad.row(0, named=True)
    for got, want, field, whose in checks:
        if row[got] is not None and row[want] is not None and row[got] != row[want]:
            raise inconsistent(scope, row["block_number"], f"{subject(row)}: {field} is {row[got]}, {whose} is "
                                                           f"{row[want]}")


def _counts_disagree(scope: Any, view: BlockView, rows: pl.DataFrame, column: str, what: str) -> None:
    """Raise for the first block whose rows are not as many as its `column` of the view counts."""
    counts = rows.group_by("block_number").len()
    joined = view.frame.join(counts, on="block_number", how="left").with_columns(pl.col("len").fill_null(0))
    bad = joined.filter(pl.col(column) != pl.col("len"))
    if not bad.is_empty():
        row = bad.row(0, named=True)
        raise inconsistent(scope, row["block_number"], f"the block counts {row[column]} transactions, the source "
                                                       f"gave {row['len']} {what}")


def _outside(scope: Any, view: BlockView, rows: pl.DataFrame, what: str) -> None:
    stray = rows.filter((pl.col("block_number") < view.first) | (pl.col("block_number") > view.last))
    if not stray.is_empty():
        row = stray.row(0, named=True)
        raise inconsistent(scope, row["block_number"], f"{what} of this block came with blocks "
                                                       f"{view.first}..{view.last}, which do not include it")


# --- transactions and receipts --------------------------------------------------------------------

def transactions_frame(view: BlockView, full: list[dict], table: pa.Table | None = None) -> pl.DataFrame:
    """Each transaction of the chunk's blocks (full blocks, or headers: hashes only) as the proof reads it:
    its block, position in it and hash, and the blockHash, blockNumber and transactionIndex it states (null
    where not stated). `table`: the transactions already read by column (chain/columns.py TRANSACTION_JSON)."""
    counts = [len(block["transactions"]) for block in full]
    block_numbers = pl.Series("block_number", range(view.first, view.first + len(full)), dtype=pl.Int64)
    frame = pl.DataFrame(block_numbers.repeat_by(pl.Series(counts)).explode(empty_as_null=False).rename("block_number"))
    keys = ("hash", "blockHash", "blockNumber", "transactionIndex")
    if table is not None:
        stated = pl.from_arrow(table.select(list(keys)))
    else:
        txs = [plain(tx) for block in full for tx in block["transactions"]]
        stated = pl.DataFrame([_strings([tx.get(key) if isinstance(tx, dict) else tx if key == "hash" else None
                                         for tx in txs]).rename(key) for key in keys])
    return frame.hstack(stated).with_columns(
        position=pl.int_range(pl.len()).over("block_number"), hash=_lower("hash"),
        tx_block_hash=_lower("blockHash"), tx_block_number=_quantity("blockNumber"),
        tx_index=_quantity("transactionIndex"),
    ).drop("blockHash", "blockNumber", "transactionIndex").join(view.frame.select("block_number", "hash").rename(
        {"hash": "block_hash"}), on="block_number", how="left", maintain_order="left")


def _receipts_frame(receipts: list) -> pl.DataFrame:
    keys = ("transactionHash", "blockHash", "blockNumber", "transactionIndex")
    if all(isinstance(r, Receipt) for r in receipts):
        columns = zip(*[(r.transactionHash, r.blockHash, r.blockNumber, r.transactionIndex) for r in receipts],
                      strict=True)
    else:  # some did not fit the shape: plain JSON
        columns = ([r.get(key) if isinstance(r, dict) else getattr(r, key, None) for r in receipts] for key in keys)
    frame = (pl.DataFrame([_strings(list(column)).rename(key) for key, column in zip(keys, columns, strict=True)])
             if receipts else pl.DataFrame(schema={key: pl.String for key in keys}))
    return frame.select(receipt_hash=_lower("transactionHash"), receipt_block_hash=_lower("blockHash"),
                        receipt_block_number=_quantity("blockNumber"), receipt_index=_quantity("transactionIndex"))


RECEIPT_CHECKS: list[Check] = [
    ("receipt_hash", "hash", "transactionHash", "the block's transaction there"),
    ("receipt_block_hash", "block_hash", "blockHash", "the block's hash"),
    ("receipt_block_number", "block_number", "blockNumber", "the block's number"),
    ("receipt_index", "position", "transactionIndex", "its position in the block"),
]
TRANSACTION_CHECKS: list[Check] = [
    ("tx_block_hash", "block_hash", "blockHash", "the block's hash"),
    ("tx_block_number", "block_number", "blockNumber", "the block's number"),
    ("tx_index", "position", "transactionIndex", "its position in the block"),
]


def prove_receipts(scope: Any, view: BlockView, txs: pl.DataFrame, receipts: list | None) -> None:
    """The transactions stand where they say (TRANSACTION_CHECKS) and are each in the chunk once; the
    receipts (None: not read) are exactly the transactions, once each, in order, and stand where their
    transactions do."""
    _first_disagreement(scope, txs, TRANSACTION_CHECKS,
                        lambda row: f"transaction {row['position']} ({row['hash']})")
    _unique(scope, txs.rename({"hash": "transaction_hash"}), ["transaction_hash"], "transaction")
    if receipts is None:
        return
    stated = _receipts_frame(receipts)
    if stated.height != txs.height:
        _receipts_miscounted(scope, view, txs, stated)
    _first_disagreement(scope, txs.hstack(stated), RECEIPT_CHECKS,
                        lambda row: f"the receipt of transaction {row['position']} ({row['hash']})")
    _gas_adds_up(scope, view, txs, receipts)


def _gas_adds_up(scope: Any, view: BlockView, txs: pl.DataFrame, receipts: list) -> None:
    """A block's last receipt's cumulativeGasUsed is its header's gasUsed (as the node itself validates): a
    provider that drops a transaction together with its receipt, or mixes in another block's, is caught."""
    if not view.gas_used or not receipts:
        return
    stated = _strings([getattr(r, "cumulativeGasUsed", None) if isinstance(r, Receipt) else
                       r.get("cumulativeGasUsed") if isinstance(r, dict) else None for r in receipts])
    cumulative = pl.DataFrame({"block_number": txs["block_number"], "cumulativeGasUsed": stated}).select(
        "block_number", cumulative=_quantity("cumulativeGasUsed"))
    cumulative = cumulative.group_by("block_number", maintain_order=True).agg(pl.col("cumulative").last())
    headers = pl.DataFrame({"block_number": range(view.first, view.last + 1), "gas_used": view.gas_used},
                           schema={"block_number": pl.Int64, "gas_used": pl.Int64})
    bad = headers.join(cumulative, on="block_number").filter(pl.col("gas_used") != pl.col("cumulative")).sort(
        "block_number")
    if not bad.is_empty():
        row = bad.row(0, named=True)
        raise inconsistent(scope, row["block_number"], f"its receipts' gas adds up to {row['cumulative']}, its "
                                                       f"header's gasUsed is {row['gas_used']}")


def _receipts_miscounted(scope: Any, view: BlockView, txs: pl.DataFrame, stated: pl.DataFrame) -> None:
    """As many receipts as transactions, or the first place where they part is named."""
    shared = min(txs.height, stated.height)
    differs = (txs["hash"].head(shared) != stated["receipt_hash"].head(shared)).fill_null(False).arg_true()
    at = int(differs[0]) if len(differs) else shared
    tx = txs.row(at, named=True) if at < txs.height else None
    receipt = stated["receipt_hash"][at] if at < stated.height else None
    block = tx["block_number"] if tx else view.last
    where = f"its transaction {tx['position']} is {tx['hash']}" if tx else "it has no more transactions"
    raise inconsistent(scope, block, f"{stated.height} receipts for the {txs.height} transactions of blocks "
                                     f"{view.first}..{view.last}: {where}, the receipt there is of "
                                     f"{receipt or 'none'}")


def prove_transactions(scope: Any, view: BlockView, batch: pa.RecordBatch) -> None:
    """The transactions batch of a source that states each row's block (the Data API's): rows in the chunk's
    blocks with their hash, transaction_index 0..n-1 in each block, as many as the block counts, every
    transaction_hash once. (Full blocks hold their transactions: prove_receipts holds those.)"""
    rows = pl.from_arrow(batch.select(["block_number", "block_hash", "transaction_index", "transaction_hash"]))
    rows = rows.with_columns(pl.col("block_number").cast(pl.Int64), pl.col("transaction_index").cast(pl.Int64))
    _outside(scope, view, rows, "a transaction")
    joined = rows.with_columns(position=pl.int_range(pl.len()).over("block_number")).join(
        view.frame.select("block_number", "hash"), on="block_number", how="left", maintain_order="left")
    _first_disagreement(scope, joined, [("block_hash", "hash", "blockHash", "the block's hash"),
                                        ("transaction_index", "position", "transactionIndex",
                                         "its position in the block")],
                        lambda row: f"transaction {row['transaction_hash']}")
    _counts_disagree(scope, view, rows, "transaction_count", "transactions")
    _unique(scope, rows, ["transaction_hash"], "transaction")


def _unique(scope: Any, rows: pl.DataFrame, key: list[str], what: str) -> None:
    twice = rows.filter(pl.struct(key).is_duplicated() if len(key) > 1 else pl.col(key[0]).is_duplicated())
    if not twice.is_empty():
        row = twice.row(0, named=True)
        named = ", ".join(f"{k} {row[k]}" for k in key)
        raise inconsistent(scope, row["block_number"], f"the {what} with {named} came twice")


# --- logs -----------------------------------------------------------------------------------------

def _log_rows(batch: pa.RecordBatch) -> pl.DataFrame:
    rows = pl.from_arrow(batch.select(["block_number", "block_hash", "transaction_hash", "transaction_index",
                                       "log_index"]))
    return rows.with_columns(pl.col("block_number", "transaction_index", "log_index").cast(pl.Int64))


def prove_logs(scope: Any, view: BlockView, batch: pa.RecordBatch) -> None:
    """The logs batch (sorted by block and log index): rows in the chunk's blocks with their hash, log_index
    0..k-1 in each block (once each, none skipped), logs in exactly the blocks whose bloom says so."""
    rows = _log_rows(batch)
    _outside(scope, view, rows, "a log")
    joined = rows.with_columns(position=pl.int_range(pl.len()).over("block_number")).join(
        view.frame.select("block_number", "hash"), on="block_number", how="left", maintain_order="left")
    _first_disagreement(scope, joined, [("block_hash", "hash", "blockHash", "the block's hash"),
                                        ("log_index", "position", "logIndex", "its place among the block's logs")],
                        lambda row: f"log {row['log_index']} (transaction {row['transaction_hash']})")
    per_block = view.frame.join(rows.group_by("block_number").len(), on="block_number", how="left")
    bad = per_block.filter(pl.col("has_logs") != (pl.col("len").fill_null(0) > 0))
    if not bad.is_empty():
        row = bad.row(0, named=True)
        said = "has logs" if row["has_logs"] else "has no logs"
        raise inconsistent(scope, row["block_number"], f"its logsBloom says it {said}, the source gave "
                                                       f"{row['len'] or 0} logs")


def prove_logs_of_receipts(scope: Any, logs: pa.RecordBatch, transactions: pa.RecordBatch) -> None:
    """Logs read from the receipts, in their order (`transactions` holds the receipts' logs counts): each log's
    blockNumber, transactionHash and transactionIndex are its receipt's."""
    rows = _log_rows(logs)
    txs = pl.from_arrow(transactions.select(["block_number", "transaction_index", "transaction_hash", "logs_count"]))
    owner = pl.int_range(txs.height, eager=True).repeat_by(txs["logs_count"]).explode(empty_as_null=False)
    if len(owner) != rows.height:
        raise inconsistent(scope, int(rows["block_number"].min() or 0), f"the receipts hold {len(owner)} logs, "
                                                                        f"the source gave {rows.height}")
    receipts = txs.select(receipt_block=pl.col("block_number").cast(pl.Int64),
                          receipt_index=pl.col("transaction_index").cast(pl.Int64),
                          receipt_hash="transaction_hash")[owner]
    _first_disagreement(scope, rows.hstack(receipts), [
        ("block_number", "receipt_block", "blockNumber", "its receipt's"),
        ("transaction_hash", "receipt_hash", "transactionHash", "its receipt's"),
        ("transaction_index", "receipt_index", "transactionIndex", "its receipt's")],
        lambda row: f"log {row['log_index']}")


def prove_logs_of_transactions(scope: Any, logs: pa.RecordBatch, transactions: pa.RecordBatch) -> None:
    """Logs and transactions read apart (eth_getLogs; the Data API's transactions): each log names a
    transaction of its block (its index and hash), and each transaction has as many logs as its receipt
    counts (where it counts them)."""
    rows = _log_rows(logs)
    txs = pl.from_arrow(transactions.select(["block_number", "transaction_index", "transaction_hash", "logs_count"]))
    txs = txs.with_columns(pl.col("block_number", "transaction_index", "logs_count").cast(pl.Int64))
    _logs_name_their_transactions(scope, rows, txs.select("block_number", "transaction_index",
                                                          tx_hash="transaction_hash"))
    counted = txs.join(rows.group_by("block_number", "transaction_index").len(),
                       on=["block_number", "transaction_index"], how="left", maintain_order="left")
    bad = counted.filter(pl.col("logs_count") != pl.col("len").fill_null(0))
    if not bad.is_empty():
        row = bad.row(0, named=True)
        raise inconsistent(scope, row["block_number"], f"the receipt of transaction {row['transaction_hash']} "
                                                       f"holds {row['logs_count']} logs, the source gave "
                                                       f"{row['len'] or 0} for it")


def prove_logs_of_headers(scope: Any, view: BlockView, headers: list[dict], logs: pa.RecordBatch) -> None:
    """Logs read apart from their blocks (eth_getLogs): each names a transaction of its block, the one at its
    transactionIndex in the block's own list of transaction hashes (a log of another block's transaction,
    or of none, is a provider's fault)."""
    txs = transactions_frame(view, headers).select("block_number", transaction_index="position", tx_hash="hash")
    _logs_name_their_transactions(scope, _log_rows(logs), txs)


def _logs_name_their_transactions(scope: Any, rows: pl.DataFrame, txs: pl.DataFrame) -> None:
    """`txs`: block_number, transaction_index, tx_hash of the blocks' transactions."""
    joined = rows.join(txs, on=["block_number", "transaction_index"], how="left", maintain_order="left")
    orphan = joined.filter(pl.col("tx_hash").is_null())
    if not orphan.is_empty():
        row = orphan.row(0, named=True)
        raise inconsistent(scope, row["block_number"], f"log {row['log_index']} names transaction "
                                                       f"{row['transaction_index']} ({row['transaction_hash']}), "
                                                       "which the block does not have")
    _first_disagreement(scope, joined, [("transaction_hash", "tx_hash", "transactionHash",
                                         "the block's transaction at its transactionIndex")],
                        lambda row: f"log {row['log_index']}")


# --- traces ---------------------------------------------------------------------------------------

def prove_traces(scope: Any, view: BlockView, style: str, traced: list, hashes: list[list[str]]) -> None:
    """debug_traceBlockByNumber: one result per transaction of the block, in order (its txHash, when given,
    is the transaction's); trace_block: a trace of every transaction, and of none other."""
    for number, block_traces, tx_hashes in zip(range(view.first, view.last + 1), traced, hashes, strict=True):
        if not isinstance(block_traces, list):
            continue  # not a list at all: malformed, named by the flattening
        if style == "debug":
            _debug_traces_match(scope, number, block_traces, tx_hashes)
            continue
        stated = {str(t.get("transactionHash") or "").lower() for t in block_traces
                  if isinstance(t, dict) and t.get("type") != "reward"}
        for tx_hash in tx_hashes:
            if tx_hash not in stated:
                raise inconsistent(scope, number, f"no trace of its transaction {tx_hash}")
        stray = stated - set(tx_hashes)
        if stray:
            raise inconsistent(scope, number, f"a trace of transaction {sorted(stray)[0]}, which is not the block's")


def _debug_traces_match(scope: Any, number: int, block_traces: list, tx_hashes: list[str]) -> None:
    if len(block_traces) != len(tx_hashes):
        raise inconsistent(scope, number, f"{len(block_traces)} traces for its {len(tx_hashes)} transactions")
    for position, (item, tx_hash) in enumerate(zip(block_traces, tx_hashes, strict=True)):
        stated = item.get("txHash") if isinstance(item, dict) else getattr(item, "txHash", None)  # or decoded
        if isinstance(stated, str) and stated.lower() != tx_hash:
            raise inconsistent(scope, number, f"trace {position}: txHash is {stated.lower()}, the block's "
                                              f"transaction {position} is {tx_hash}")


# --- several extractions of one chunk -------------------------------------------------------------

def together(parts: list[Proven]) -> Proven:
    """Datasets of one chunk extracted apart (each from its own read, or another source) as one: every part
    saw the same blocks (hash and transaction count), and logs and transactions agree with each other."""
    view = parts[0].blocks
    for part in parts[1:]:
        _views_agree(view, part.blocks)
    edges = [p.blocks for p in parts]
    merged = BlockView(view.scope, view.first, view.hashes, view.parents, view.timestamps, view.transaction_counts,
                       tuple(next((v.has_logs[i] for v in edges if v.has_logs[i] is not None), None)
                             for i in range(len(view.hashes))),
                       next((v.before for v in edges if v.before is not None), None),
                       next((v.after for v in edges if v.after is not None), None),
                       next((v.gas_used for v in edges if v.gas_used), ()))
    batches = {name: batch for part in parts for name, batch in part.batches.items()}
    if LOGS.name in batches and TRANSACTIONS.name in batches:
        logs_scope = next(p.blocks.scope for p in parts if LOGS.name in p.batches)
        prove_logs_of_transactions(logs_scope, batches[LOGS.name], batches[TRANSACTIONS.name])
    return Proven(batches, merged)


def _views_agree(one: BlockView, other: BlockView) -> None:
    for i, number in enumerate(range(one.first, one.last + 1)):
        if one.hashes[i] != other.hashes[i]:
            raise inconsistent(other.scope, number, f"{other.scope.dataset.name} read hash {other.hashes[i]}, "
                                                    f"{one.scope.dataset.name} read {one.hashes[i]}")
        counts = (one.transaction_counts[i], other.transaction_counts[i])
        if None not in counts and counts[0] != counts[1]:
            raise inconsistent(other.scope, number, f"{other.scope.dataset.name} read {counts[1]} transactions, "
                                                    f"{one.scope.dataset.name} read {counts[0]}")
    for edge, name in (("before", "the block before"), ("after", "the block after")):
        values = (getattr(one, edge), getattr(other, edge))
        if None not in values and values[0].hash != values[1].hash:
            raise inconsistent(other.scope, one.first if edge == "before" else one.last,
                               f"{name} has hash {values[1].hash} for {other.scope.dataset.name}, "
                               f"{values[0].hash} for {one.scope.dataset.name}")
