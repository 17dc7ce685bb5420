"""Audits of one loaded partition, as plain functions over the warehouse: each returns an
AuditResult that the ClickHouse load asset reports as a (blocking) Dagster asset check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from avax_assets.datasets import Dataset
from avax_assets.datasets.schema import checked_identifier
from avax_assets.sinks.clickhouse import ClickHouseWarehouse


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


def _one_row(loaded: Loaded, select: str) -> tuple:
    table = loaded.warehouse.qualified(loaded.dataset.table)
    column = checked_identifier(loaded.dataset.partition_column)
    sql = f"SELECT {select} FROM {table} WHERE toDate({column}) = {{day:Date}}"
    return loaded.warehouse.client.query(sql, parameters={"day": loaded.day}).result_rows[0]


def unique_keys(loaded: Loaded) -> AuditResult:
    key = ", ".join(checked_identifier(k) for k in loaded.dataset.key)
    rows, distinct = _one_row(loaded, f"count(), uniqExact({key})")
    return AuditResult(rows == distinct, {"rows": rows, "duplicate_keys": rows - distinct})


def rows_match_parquet(loaded: Loaded) -> AuditResult:
    (rows,) = _one_row(loaded, "count()")
    return AuditResult(rows == loaded.parquet_rows, {"clickhouse_rows": rows, "parquet_rows": loaded.parquet_rows})


def contiguous_blocks(loaded: Loaded) -> AuditResult:
    block = checked_identifier(loaded.dataset.block_column)
    blocks, first, last = _one_row(loaded, f"uniqExact({block}), min({block}), max({block})")
    if blocks == 0:
        return AuditResult(True, {"blocks": 0})
    gaps = (last - first + 1) - blocks
    return AuditResult(gaps == 0, {"first_block": first, "last_block": last, "missing_blocks": gaps})


Audit = Callable[[Loaded], AuditResult]


def audits_for(dataset: Dataset) -> dict[str, Audit]:
    audits: dict[str, Audit] = {"unique_keys": unique_keys, "rows_match_parquet": rows_match_parquet}
    if dataset.key == (dataset.block_column,):  # one row per block: the blocks must be contiguous
        audits["contiguous_blocks"] = contiguous_blocks
    return audits
