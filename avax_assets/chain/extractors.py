"""C-Chain extractors: one block chunk → the dataset's Arrow batch, proven (chain/proof.py) against the
chunk's blocks, from the node's blocks, receipts and logs (column at a time, chain/columns.py; the rows
of chain/rows.py when a value breaks a rule, to name it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from avax_assets.chain import fields as f
from avax_assets.chain.columns import block_transactions, log_columns, transaction_columns
from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.chain.proof import (Proven, inconsistent, prove_blocks, prove_logs, prove_logs_of_headers,
                                     prove_logs_of_receipts, prove_receipts, transactions_frame, view_of_headers)
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rows import (BLOCK_KEYS, LOG_KEYS, RECEIPT_KEYS, TRANSACTION_KEYS, Receipt, StrayLog, block_row,
                                    log_row, plain, plain_receipt, transaction_row, unknown_keys)
from avax_assets.core.errors import BadField, SourceDataError
from avax_assets.core.schema import Dataset


@dataclass(frozen=True)
class Scope:
    """What is being extracted, so errors can name dataset, partition and field; and the keys the source sent
    that no declaration knows (`unknown`: "block.someKey" → how many objects carried it), counted over the
    partition's chunks so they are named, never dropped silently."""

    dataset: Dataset
    partition: str
    unknown: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def error(self, bad: BadField, where: str) -> SourceDataError:
        return SourceDataError(self.dataset.name, self.partition, bad.field, bad.detail, where)

    def saw_unknown(self, kind: str, counts: dict[str, int]) -> None:
        """Chunks are extracted in threads: counts of one are added under the scope's lock."""
        if counts:
            with self._lock:
                for key, count in counts.items():
                    self.unknown[f"{kind}.{key}"] = self.unknown.get(f"{kind}.{key}", 0) + count



# (reader, block chunk, scope) → the dataset's batch ({name: batch}) and the blocks it was proven against; the
# reader is a ChainReader or a DataApiChainReader
Extractor = Callable[[Any, range, Scope], Proven]


def to_batch(scope: Scope, rows: list[dict]) -> pa.RecordBatch:
    try:
        return pa.RecordBatch.from_pylist(rows, schema=scope.dataset.source_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise SourceDataError(scope.dataset.name, scope.partition, "?", f"does not fit the schema: {exc}") from exc


def checked_blocks(raw: list[dict], blocks: range, scope: Scope) -> list[dict]:
    for number, block in zip(blocks, raw, strict=True):
        try:
            got = f.quantity(f.required(block, "number"), "number")
        except BadField as bad:
            raise scope.error(bad, f"block {number}") from None
        if got != number:
            raise inconsistent(scope, number, f"the source answered block {got} for it")
    return raw


def extract_blocks(reader: ChainReader, blocks: range, scope: Scope) -> Proven:
    headers = checked_blocks(reader.headers(blocks), blocks, scope)
    scope.saw_unknown("block", unknown_keys(headers, BLOCK_KEYS))
    view = view_of_headers(scope, blocks, headers, reader.neighbours(blocks))
    prove_blocks(view)
    return Proven({scope.dataset.name: blocks_batch(headers, blocks, scope)}, view)


def blocks_batch(raw: list[dict], blocks: range, scope: Scope) -> pa.RecordBatch:
    """The blocks dataset of the chunk's blocks (headers or full blocks: a full block's header is the same)."""
    rows = []
    for number, block in zip(blocks, raw, strict=True):
        try:
            rows.append(block_row(block))
        except BadField as bad:
            raise scope.error(bad, f"block {number}") from None
    return to_batch(scope, rows)


def extract_transactions(reader: ChainReader, blocks: range, scope: Scope) -> Proven:
    return extract_together(reader, blocks, {TRANSACTIONS.name: scope})


def transactions_batch(full: list[dict], in_order: list[Receipt], scope: Scope,
                       txs: pa.Table | None) -> pa.RecordBatch:
    """`txs`: the transactions read by column (None when that refused them: the rows judge)."""
    fast = None if txs is None else transaction_columns(full, in_order, scope.dataset.source_schema, txs)
    if fast is not None:
        return fast
    plain_receipts = [plain_receipt(r) for r in in_order]
    scope.saw_unknown("receipt", unknown_keys(plain_receipts, RECEIPT_KEYS))
    receipts = {r.get("transactionHash", "").lower(): r for r in plain_receipts if isinstance(r, dict)}
    rows = []  # something broke a rule, or a key is new: the row converters name the field and the value
    for block in full:
        block_txs = [plain(tx) for tx in block["transactions"]]
        scope.saw_unknown("transaction", unknown_keys(block_txs, TRANSACTION_KEYS))
        for tx in block_txs:
            where = f"block {int(block['number'], 16)} tx {tx.get('hash') if isinstance(tx, dict) else tx}"
            try:
                receipt = receipts.get(str(f.required(tx, "hash")).lower())
                if receipt is None:
                    raise BadField("receipt", "is missing from the node's receipts")
                rows.append(transaction_row(block, tx, receipt))
            except BadField as bad:
                raise scope.error(bad, where) from None
    return to_batch(scope, rows)


def extract_logs(reader: ChainReader, blocks: range, scope: Scope) -> Proven:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="logs") as side:
        asked = side.submit(reader.logs_json, blocks)  # the node serves the logs while it serves the headers
        around = side.submit(reader.neighbours, blocks)
        headers = checked_blocks(reader.headers(blocks), blocks, scope)
        view = view_of_headers(scope, blocks, headers, around.result())
        results = asked.result()
    prove_blocks(view)
    batch = logs_batch(results, headers, scope)
    prove_logs(scope, view, batch)
    prove_logs_of_headers(scope, view, headers, batch)
    return Proven({scope.dataset.name: batch}, view)


def logs_batch(logs: list, headers: list[dict], scope: Scope) -> pa.RecordBatch:
    """The logs dataset from the node's logs (undecoded JSON); `headers` are the chunk's checked blocks."""
    timestamps = {h["hash"].lower(): int(h["timestamp"], 16) for h in headers}
    fast = log_columns(logs, timestamps, scope.dataset.source_schema)
    if fast is not None:
        return fast
    rows = []  # something broke a rule, or a key is new: the row converters name the field and the value
    plain_logs = [plain(log) for log in logs]
    scope.saw_unknown("log", unknown_keys(plain_logs, LOG_KEYS))
    for log in plain_logs:
        try:
            rows.append(log_row(log, timestamps))
        except StrayLog as stray:
            block = _number_or_none(log.get("blockNumber"))
            raise inconsistent(scope, block, f"a log's blockHash {stray.detail}") from None
        except BadField as bad:
            raise scope.error(bad, f"block {log.get('blockNumber')} log {log.get('logIndex')}") from None
    rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
    return to_batch(scope, rows)


def receipt_logs(receipts: list[Receipt | Any]) -> list:
    """Every log of the receipts, as eth_getLogs gives them (a receipt's logs are the same objects, in log
    order). A receipt without a list of logs adds none: the transactions batch names it."""
    def of(receipt: Receipt | Any) -> Any:
        if isinstance(receipt, Receipt):
            return receipt.logs
        return receipt.get("logs") if isinstance(receipt, dict) else None
    return [log for receipt in receipts if isinstance(logs := of(receipt), list) for log in logs]


def _number_or_none(value: Any) -> int | None:
    try:
        return f.quantity(value, "blockNumber")
    except BadField:
        return None


def extract_together(reader: ChainReader, blocks: range, scopes: dict[str, Scope]) -> Proven:
    """The transactions of the chunk and, for those of `blocks` and `logs` also in `scopes`, those datasets
    too, from one fetch of full blocks and receipts: a full block holds its header and each receipt its logs,
    so neither a header pass nor an eth_getLogs pass is needed. Every part is proven before it is returned:
    the blocks' hash chain, the receipts against the transactions, the logs against both."""
    transactions = scopes[TRANSACTIONS.name]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="neighbours") as side:
        around = side.submit(reader.neighbours, blocks)  # two headers, asked for beside the chunk's blocks
        full, in_order = reader.full_blocks_with_receipts(blocks)
        neighbours = around.result()
    full = checked_blocks(full, blocks, transactions)
    scopes.get(BLOCKS.name, transactions).saw_unknown("block", unknown_keys(full, BLOCK_KEYS))
    view = view_of_headers(scopes.get(BLOCKS.name, transactions), blocks, full, neighbours)
    prove_blocks(view)
    txs = block_transactions(full)
    prove_receipts(transactions, view, transactions_frame(view, full, txs), in_order)
    batches = {TRANSACTIONS.name: transactions_batch(full, in_order, transactions, txs)}
    if BLOCKS.name in scopes:
        batches[BLOCKS.name] = blocks_batch(full, blocks, scopes[BLOCKS.name])
    if LOGS.name in scopes:
        logs = batches[LOGS.name] = logs_batch(receipt_logs(in_order), full, scopes[LOGS.name])
        prove_logs(scopes[LOGS.name], view, logs)
        prove_logs_of_receipts(scopes[LOGS.name], logs, batches[TRANSACTIONS.name])
    return Proven(batches, view)
