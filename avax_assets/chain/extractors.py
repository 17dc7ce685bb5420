"""C-Chain extractors: one block chunk → one Arrow batch of the dataset's schema, from the node's blocks,
receipts and logs (column at a time, chain/columns.py; the rows of chain/rows.py when a value breaks a
rule, to name it)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from avax_assets.chain import fields as f
from avax_assets.chain.columns import log_columns, transaction_columns
from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rows import Receipt, block_row, log_row, plain, plain_receipt, transaction_row
from avax_assets.core.errors import BadField, SourceDataError
from avax_assets.core.schema import Dataset


@dataclass(frozen=True)
class Scope:
    """What is being extracted, so errors can name dataset, partition and field."""

    dataset: Dataset
    partition: str

    def error(self, bad: BadField, where: str) -> SourceDataError:
        return SourceDataError(self.dataset.name, self.partition, bad.field, bad.detail, where)



# (reader, block chunk, scope) → one batch of the dataset; the reader is a ChainReader or a DataApiChainReader
Extractor = Callable[[Any, range, Scope], pa.RecordBatch]


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
