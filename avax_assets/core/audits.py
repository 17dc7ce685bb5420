"""Audits of one day's partition, as plain functions over the table holding it: each returns an AuditResult
that the ClickHouse load asset reports as a (blocking) Dagster asset check. A load runs them on its staging
table before the swap (`gate`), so a partition that fails one is never swapped in; the parent and the
adjacent days are read from their loaded tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from avax_assets.core.clickhouse import BeforeSwap, ClickHouseWarehouse
from avax_assets.core.errors import AuditFailed
from avax_assets.core.schema import Dataset, checked_identifier

SAMPLES = 3  # offending keys named in a failed audit
# Most keys an audit holds in memory at once. A larger day is audited in slices (rows by a hash of the key's
# first column, so equal keys share a slice), one query each: the engine's hash tables and sets stay this
# small whatever the day's size. Measured at a fifth of a mainnet day (1.6 M logs): 165 MB for uniqExact over
# the day, 67 MB in slices of 400,000, in the same time.
SLICE_ROWS = 250_000
# The parent audits hold a key as its 128-bit hash (sipHash128, as uniqExact holds a string), a fraction of a
# transaction hash's memory as a string: measured on a mainnet day's 2.5 M transaction hashes and 8 M logs, the
# orphans of 1.25 M hashed keys a slice held 137 MB, of 250,000 strings 169 MB. Their slices hold this many
# times SLICE_ROWS keys.
HASHED_KEYS_PER_KEY = 4


@dataclass(frozen=True)
class AuditResult:
    passed: bool
    metadata: dict = field(default_factory=dict)
    detail: str = ""  # a failure in a few words, with offending keys where there are some


@dataclass(frozen=True)
class Loaded:
    """What an audit looks at: the day's rows in `table` (a load's staging table; unset: the dataset's own
    table), what the lake holds for the day, and the loaded tables of the parent and the adjacent days."""

    warehouse: ClickHouseWarehouse
    dataset: Dataset
    day: dt.date
    parquet_rows: int
    table: str | None = None  # qualified

    @property
    def audited(self) -> str:
        return self.table or self.warehouse.qualified(self.dataset.table)


def _day(dataset: Dataset) -> str:
    return dataset.partition_filter


def _partition(loaded: Loaded) -> str:
    """`table WHERE <its partition is the day>` of the audited rows."""
    return f"{loaded.audited} WHERE {_day(loaded.dataset)}"


def _loaded_partition(loaded: Loaded, dataset: Dataset) -> str:
    """The same in a dataset's own table (the parent's, or the audited dataset's for the adjacent days)."""
    return f"{loaded.warehouse.qualified(dataset.table)} WHERE {_day(dataset)}"


def _rows(loaded: Loaded, sql: str, day: dt.date | None = None, **parameters) -> list[tuple]:
    partition = loaded.dataset.partition_parameters(day or loaded.day)
    return loaded.warehouse.client.query(sql, parameters={**partition, **parameters}).result_rows


def _query_one(loaded: Loaded, sql: str, day: dt.date | None = None) -> tuple:
    return _rows(loaded, sql, day)[0]


def _one_row(loaded: Loaded, select: str) -> tuple:
    return _query_one(loaded, f"SELECT {select} FROM {_partition(loaded)}")


def _columns(names: Sequence[str]) -> str:
    return ", ".join(checked_identifier(n) for n in names)


def _keys(names: Sequence[str], rows: list[tuple]) -> str:
    """`block_number 12, 13` or `(transaction_hash, log_index) (0xab, 0), (0xcd, 1)`: offending keys for a message."""
    name = names[0] if len(names) == 1 else f"({', '.join(names)})"
    values = [str(row[0]) if len(row) == 1 else f"({', '.join(str(v) for v in row)})" for row in rows]
    return f"{name} {', '.join(values)}"


def _slices(rows: int, hashed: bool = False) -> int:
    return max(1, -(-rows // (SLICE_ROWS * (HASHED_KEYS_PER_KEY if hashed else 1))))


def _in_slice(column: str, slice_: int, slices: int) -> str:
    """The rows of one slice: `column`'s hash modulo `slices` (every row when there is one)."""
    return "1" if slices == 1 else f"cityHash64({checked_identifier(column)}) % {slices} = {slice_}"


def _over_slices(loaded: Loaded, sql_of: Callable[[str], str], column: str, slices: int) -> tuple:
    """The query `sql_of(condition)` (one row of counts) run once per slice of `column`, its columns added up."""
    rows = [_query_one(loaded, sql_of(_in_slice(column, i, slices))) for i in range(slices)]
    return tuple(sum(column_) for column_ in zip(*rows, strict=True))


def _day_rows(loaded: Loaded, dataset: Dataset) -> int:
    (rows,) = _query_one(loaded, f"SELECT count() FROM {_loaded_partition(loaded, dataset)}")
    return rows


def _held_by_counts(loaded: Loaded, on: str, parent_rows: int) -> int:
    """About how many keys the count audit holds: the parents, and the rows grouped by the parent they name.
    Rows that outnumber their parents (a day's logs) are counted by key (approximately: a bound, not a
    verdict), not taken as keys each."""
    if loaded.parquet_rows <= parent_rows:
        return parent_rows
    return max(parent_rows, _one_row(loaded, f"uniq({on})")[0])


def unique_keys(loaded: Loaded) -> AuditResult:
    """No two rows of the partition share the natural key (counted on the rows as inserted, before any merge)."""
    key = _columns(loaded.dataset.key_in_chain)  # the partition holds one chain
    rows, distinct = _over_slices(loaded, lambda rows: f"SELECT count(), uniqExact({key}) FROM {_partition(loaded)} "
                                                       f"AND {rows}",
                                  loaded.dataset.key_in_chain[0], _slices(loaded.parquet_rows))
    metadata = {"rows": rows, "duplicate_keys": rows - distinct}
    if rows == distinct:
        return AuditResult(True, metadata)
    repeated = _rows(loaded, f"SELECT {key} FROM {_partition(loaded)} GROUP BY {key} HAVING count() > 1 "
                             f"ORDER BY {key} LIMIT {SAMPLES}")
    detail = f"keys repeated ({rows - distinct} extra rows), e.g. {_keys(loaded.dataset.key_in_chain, repeated)}"
    return AuditResult(False, {**metadata, "offending_keys": detail}, detail)


def rows_match_parquet(loaded: Loaded) -> AuditResult:
    """The table's partition holds exactly as many rows as its Parquet object."""
    (rows,) = _one_row(loaded, "count()")
    return AuditResult(rows == loaded.parquet_rows, {"clickhouse_rows": rows, "parquet_rows": loaded.parquet_rows},
                       f"{rows} rows loaded, {loaded.parquet_rows} in the Parquet object")


def contiguous_blocks(loaded: Loaded) -> AuditResult:
    """The day's blocks run from its first to its last with none missing."""
    block = checked_identifier(loaded.dataset.block_column)
    blocks, first, last = _one_row(loaded, f"uniqExact({block}), min({block}), max({block})")
    if blocks == 0:
        return AuditResult(True, {"blocks": 0})
    gaps = (last - first + 1) - blocks
    metadata = {"first_block": first, "last_block": last, "missing_blocks": gaps}
    if gaps == 0:
        return AuditResult(True, metadata)
    starts = _rows(loaded, f"SELECT b + 1 FROM (SELECT DISTINCT {block} AS b FROM {_partition(loaded)}) "
                           f"WHERE b < {{last:UInt64}} AND b + 1 NOT IN (SELECT {block} FROM {_partition(loaded)}) "
                           f"ORDER BY b LIMIT {SAMPLES}", last=last)
    detail = f"{gaps} blocks missing between {first} and {last}, gaps from {_keys((block,), starts)}"
    return AuditResult(False, {**metadata, "offending_keys": detail}, detail)


def adjacent_days_contiguous(loaded: Loaded) -> AuditResult:
    """The day's first block follows the previous day's last, and the next day's first follows its last
    (each side only when that day is loaded)."""
    block = checked_identifier(loaded.dataset.block_column)
    count, first, last = _one_row(loaded, f"count(), min({block}), max({block})")
    beside = f"SELECT count(), min({block}), max({block}) FROM {_loaded_partition(loaded, loaded.dataset)}"
    before = _query_one(loaded, beside, loaded.day - dt.timedelta(days=1))
    after = _query_one(loaded, beside, loaded.day + dt.timedelta(days=1))
    metadata = {"previous_day_last_block": before[2] if before[0] else None,
                "next_day_first_block": after[1] if after[0] else None}
    if not count:
        return AuditResult(True, metadata)
    passed = (not before[0] or before[2] + 1 == first) and (not after[0] or last + 1 == after[1])
    return AuditResult(passed, {**metadata, "first_block": first, "last_block": last},
                       f"the day runs from block {first} to {last}; the day before ends at "
                       f"{metadata['previous_day_last_block']}, the day after starts at "
                       f"{metadata['next_day_first_block']}")


def hash_chain(loaded: Loaded) -> AuditResult:
    """Each block names the one before it as its parent: within the day, and across to the previous day's last
    block and the next day's first (each side only when that day is loaded)."""
    block = checked_identifier(loaded.dataset.block_column)
    own, parent = (checked_identifier(c) for c in loaded.dataset.hash_link)
    # nullable: the first row's "before" is null, not the type's default (block 0 would seem to precede block 1)
    broken = _rows(loaded, f"SELECT {block} FROM (SELECT {block}, {parent}, lagInFrame({own}) OVER w AS before, "
                           f"lagInFrame(toNullable({block})) OVER w AS before_block FROM {_partition(loaded)} "
                           f"WINDOW w AS (ORDER BY {block} ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)) "
                           f"WHERE before_block + 1 = "
                           f"{block} AND {parent} != before ORDER BY {block} LIMIT {SAMPLES}")
    count, first_parent, last_own = _one_row(loaded, f"count(), argMin({parent}, {block}), argMax({own}, {block})")
    edges = f"SELECT count(), argMin({parent}, {block}), argMax({own}, {block}) FROM " \
            f"{_loaded_partition(loaded, loaded.dataset)}"
    before = _query_one(loaded, edges, loaded.day - dt.timedelta(days=1))
    after = _query_one(loaded, edges, loaded.day + dt.timedelta(days=1))
    unlinked = [*(["the day's first block's parent is not the previous day's last block"]
                  if count and before[0] and first_parent != before[2] else []),
                *(["the next day's first block's parent is not the day's last block"]
                  if count and after[0] and after[1] != last_own else [])]
    if broken:
        unlinked.insert(0, f"parent is not the block before at {_keys((loaded.dataset.block_column,), broken)}")
    metadata = {"links_checked": max(count - 1, 0) + bool(before[0]) + bool(after[0]), "broken_links": len(unlinked)}
    return AuditResult(not unlinked, metadata, "; ".join(unlinked))


def _parent(loaded: Loaded) -> tuple[Dataset, str]:
    link = loaded.dataset.parent
    return link.dataset, _columns(link.on)


def joins_parent(loaded: Loaded) -> AuditResult:
    """Every row joins a row of its parent dataset on the same day (in the parent's loaded table)."""
    parent, on = _parent(loaded)
    parent_rows = _day_rows(loaded, parent)
    # The keys held are the parent's, or, for rows fewer than their parents (a rare event's), only the parents
    # the rows name: a day's 8 transfers are not checked against 10 slices of 2.5 M transactions.
    narrowed = loaded.parquet_rows < parent_rows

    key = f"sipHash128({on})"

    def orphans_of(rows: str) -> str:  # `rows`: a slice's condition, on the rows and their parents alike
        named = f" AND {key} IN (SELECT {key} FROM {_partition(loaded)} AND {rows})" if narrowed else ""
        return (f"{_partition(loaded)} AND {rows} AND {key} NOT IN "
                f"(SELECT {key} FROM {_loaded_partition(loaded, parent)} AND {rows}{named})")

    orphans, = _over_slices(loaded, lambda rows: f"SELECT count() FROM {orphans_of(rows)}",
                            loaded.dataset.parent.on[0], _slices(min(parent_rows, loaded.parquet_rows), hashed=True))
    metadata = {"parent": parent.name, "rows_without_parent": orphans}
    if not orphans:
        return AuditResult(True, metadata)
    missing = _rows(loaded, f"SELECT DISTINCT {on} FROM {orphans_of('1')} ORDER BY {on} LIMIT {SAMPLES}")
    detail = f"{orphans} rows without a {parent.name} row, e.g. {_keys(loaded.dataset.parent.on, missing)}"
    return AuditResult(False, {**metadata, "offending_keys": detail}, detail)


def parent_counts_match(loaded: Loaded) -> AuditResult:
    """Each parent's count column equals its children; a parent whose source left the count null
    (the Data API serves no logs count) is reported as unchecked."""
    parent, on = _parent(loaded)
    count_column = checked_identifier(loaded.dataset.parent.count_column)
    key = f"sipHash128({on}) AS parent_key"

    def joined(rows: str) -> str:  # `rows`: a slice's condition, on the parents and their rows alike
        return (f"(SELECT {key}, {on}, {count_column} AS expected FROM {_loaded_partition(loaded, parent)} AND {rows})"
                f" AS p LEFT JOIN (SELECT {key}, count() AS actual FROM {_partition(loaded)} AND {rows} "
                "GROUP BY parent_key) AS c USING (parent_key)")

    mismatched, unchecked = _over_slices(
        loaded, lambda rows: f"SELECT countIf(p.expected IS NOT NULL AND p.expected != c.actual), "
                             f"countIf(p.expected IS NULL) FROM {joined(rows)}",
        loaded.dataset.parent.on[0], _slices(_held_by_counts(loaded, on, _day_rows(loaded, parent)), hashed=True))
    metadata = {"parent": parent.name, "count_column": count_column, "parents_with_wrong_count": mismatched,
                "parents_without_count": unchecked}
    if not mismatched:
        return AuditResult(True, metadata)
    wrong = _rows(loaded, f"SELECT {on}, p.expected, c.actual FROM {joined('1')} WHERE p.expected IS NOT NULL AND "
                          f"p.expected != c.actual ORDER BY {on} LIMIT {SAMPLES}")
    width = len(loaded.dataset.parent.on)
    detail = (f"{mismatched} {parent.name} rows whose {count_column} differs from their {loaded.dataset.name} rows, "
              "e.g. " + ", ".join(f"{_keys(loaded.dataset.parent.on, [row[:width]])}: {row[width]} counted, "
                                  f"{row[width + 1]} found" for row in wrong))
    return AuditResult(False, {**metadata, "offending_keys": detail}, detail)


Audit = Callable[[Loaded], AuditResult]


def audits_for(dataset: Dataset) -> dict[str, Audit]:
    """The audits a dataset's declaration calls for."""
    audits: dict[str, Audit] = {"unique_keys": unique_keys, "rows_match_parquet": rows_match_parquet}
    if dataset.key_in_chain == (dataset.block_column,):  # one row per block: the blocks must be contiguous
        audits["contiguous_blocks"] = contiguous_blocks
        audits["adjacent_days_contiguous"] = adjacent_days_contiguous
    if dataset.hash_link:
        audits["hash_chain"] = hash_chain
    if dataset.parent:
        audits["joins_parent"] = joins_parent
        if dataset.parent.count_column:
            audits["parent_counts_match"] = parent_counts_match
    return audits


def failures(results: dict[str, AuditResult]) -> str:
    """The failed audits in one line, each with its detail ('' when every one passed)."""
    return "; ".join(f"{name} ({result.detail})" for name, result in results.items() if not result.passed)


def gate(audits: dict[str, Audit], loaded: Loaded, results: dict[str, AuditResult]) -> BeforeSwap:
    """What a load checks of its staging table before the swap: every audit runs on it (its results kept
    in `results` for the asset checks), and any failure refuses the partition (AuditFailed), so the table
    keeps the one it has."""
    def before_swap(staging: str) -> None:
        staged = dataclasses.replace(loaded, table=staging)
        results.update({name: audit(staged) for name, audit in audits.items()})
        if failed := failures(results):
            raise AuditFailed(f"{loaded.day}: {failed}")

    return before_swap
