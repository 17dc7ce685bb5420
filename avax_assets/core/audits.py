"""Audits of one loaded partition, as plain functions over the warehouse: each returns an
AuditResult that the ClickHouse load asset reports as a (blocking) Dagster asset check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from avax_assets.core.schema import Dataset, checked_identifier
from avax_assets.core.clickhouse import ClickHouseWarehouse


@dataclass(frozen=True)
class AuditResult:
    passed: bool
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Loaded:
    """What an audit may look at: the warehouse partition and what the lake holds for it."""

    warehouse: ClickHouseWarehouse
    dataset: Dataset
    day: dt.date
    parquet_rows: int


def _partition(loaded: Loaded, dataset: Dataset | None = None) -> str:
    """`table WHERE <its partition is the day>` for the loaded dataset or another one."""
    dataset = dataset or loaded.dataset
    column = checked_identifier(dataset.partition_column)
    return f"{loaded.warehouse.qualified(dataset.table)} WHERE toDate({column}) = {{day:Date}}"


def _query_one(loaded: Loaded, sql: str, day: dt.date | None = None) -> tuple:
    return loaded.warehouse.client.query(sql, parameters={"day": day or loaded.day}).result_rows[0]


def _one_row(loaded: Loaded, select: str) -> tuple:
    return _query_one(loaded, f"SELECT {select} FROM {_partition(loaded)}")


def unique_keys(loaded: Loaded) -> AuditResult:
    """No two rows of the partition share the natural key."""
    key = ", ".join(checked_identifier(k) for k in loaded.dataset.key)
    rows, distinct = _one_row(loaded, f"count(), uniqExact({key})")
    return AuditResult(rows == distinct, {"rows": rows, "duplicate_keys": rows - distinct})


def rows_match_parquet(loaded: Loaded) -> AuditResult:
    """The table's partition holds exactly as many rows as its Parquet object."""
    (rows,) = _one_row(loaded, "count()")
    return AuditResult(rows == loaded.parquet_rows, {"clickhouse_rows": rows, "parquet_rows": loaded.parquet_rows})


def contiguous_blocks(loaded: Loaded) -> AuditResult:
    """The day's blocks run from its first to its last with none missing."""
    block = checked_identifier(loaded.dataset.block_column)
    blocks, first, last = _one_row(loaded, f"uniqExact({block}), min({block}), max({block})")
    if blocks == 0:
        return AuditResult(True, {"blocks": 0})
    gaps = (last - first + 1) - blocks
    return AuditResult(gaps == 0, {"first_block": first, "last_block": last, "missing_blocks": gaps})


def adjacent_days_contiguous(loaded: Loaded) -> AuditResult:
    """The day's first block follows the previous day's last, and the next day's first follows its last
    (each side only when that day is loaded)."""
    block = checked_identifier(loaded.dataset.block_column)
    sql = f"SELECT count(), min({block}), max({block}) FROM {_partition(loaded)}"
    count, first, last = _query_one(loaded, sql)
    before = _query_one(loaded, sql, loaded.day - dt.timedelta(days=1))
    after = _query_one(loaded, sql, loaded.day + dt.timedelta(days=1))
    metadata = {"previous_day_last_block": before[2] if before[0] else None,
                "next_day_first_block": after[1] if after[0] else None}
    if not count:
        return AuditResult(True, metadata)
    passed = (not before[0] or before[2] + 1 == first) and (not after[0] or last + 1 == after[1])
    return AuditResult(passed, {**metadata, "first_block": first, "last_block": last})


def _parent(loaded: Loaded) -> tuple[Dataset, str]:
    link = loaded.dataset.parent
    return link.dataset, ", ".join(checked_identifier(c) for c in link.on)


def joins_parent(loaded: Loaded) -> AuditResult:
    """Every row joins a row of its parent dataset on the same day."""
    parent, on = _parent(loaded)
    orphans, = _query_one(loaded, f"SELECT count() FROM {_partition(loaded)} AND ({on}) NOT IN "
                                  f"(SELECT {on} FROM {_partition(loaded, parent)})")
    return AuditResult(orphans == 0, {"parent": parent.name, "rows_without_parent": orphans})


def parent_counts_match(loaded: Loaded) -> AuditResult:
    """Each parent's count column equals its children; a parent whose source left the count null
    (the Data API serves no logs count) is reported as unchecked."""
    parent, on = _parent(loaded)
    count_column = checked_identifier(loaded.dataset.parent.count_column)
    mismatched, unchecked = _query_one(loaded, (
        f"SELECT countIf(p.expected IS NOT NULL AND p.expected != c.actual), countIf(p.expected IS NULL) "
        f"FROM (SELECT {on}, {count_column} AS expected FROM {_partition(loaded, parent)}) AS p "
        f"LEFT JOIN (SELECT {on}, count() AS actual FROM {_partition(loaded)} GROUP BY {on}) AS c USING ({on})"))
    return AuditResult(mismatched == 0, {"parent": parent.name, "count_column": count_column,
                                         "parents_with_wrong_count": mismatched,
                                         "parents_without_count": unchecked})


Audit = Callable[[Loaded], AuditResult]


def audits_for(dataset: Dataset) -> dict[str, Audit]:
    """The audits a dataset's declaration calls for."""
    audits: dict[str, Audit] = {"unique_keys": unique_keys, "rows_match_parquet": rows_match_parquet}
    if dataset.key == (dataset.block_column,):  # one row per block: the blocks must be contiguous
        audits["contiguous_blocks"] = contiguous_blocks
        audits["adjacent_days_contiguous"] = adjacent_days_contiguous
    if dataset.parent:
        audits["joins_parent"] = joins_parent
        if dataset.parent.count_column:
            audits["parent_counts_match"] = parent_counts_match
    return audits
