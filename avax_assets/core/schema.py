"""The column vocabulary every dataset declaration is written in, and the declaration itself.

One column type fixes its Arrow type (Parquet, Kafka JSON) and its ClickHouse type together, so the
extractor, the Parquet writer, the Kafka encoder and the ClickHouse DDL cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

import pyarrow as pa

from avax_assets.core.chart import Chart
from avax_assets.core.vocabulary import VOCABULARY

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

CHAIN_ID = 43114  # Avalanche C-Chain mainnet


def checked_identifier(name: str) -> str:
    """Return name if it is safe to use unquoted as a ClickHouse identifier, else raise."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid identifier: {name!r}")
    return name


@dataclass(frozen=True)
class ColumnType:
    arrow: pa.DataType
    clickhouse: str


U8 = ColumnType(pa.uint8(), "UInt8")
U32 = ColumnType(pa.uint32(), "UInt32")
U64 = ColumnType(pa.uint64(), "UInt64")
# uint256 travels as a base-10 string (Arrow/Parquet/JSON) and lands as a native UInt256:
# lossless at every hop, no float or int64 on the way.
U256 = ColumnType(pa.string(), "UInt256")
I32 = ColumnType(pa.int32(), "Int32")
I64 = ColumnType(pa.int64(), "Int64")
I256 = ColumnType(pa.string(), "Int256")  # signed, as U256: a base-10 string with its sign, native Int256
# Hashes, addresses and calldata: lower-case 0x-prefixed hex.
HEX = ColumnType(pa.string(), "String")
TIMESTAMP = ColumnType(pa.timestamp("s", tz="UTC"), "DateTime('UTC')")
TEXT = ColumnType(pa.string(), "String")  # plain text; nested API objects as canonical JSON
BOOL = ColumnType(pa.bool_(), "Bool")
DATE = ColumnType(pa.date32(), "Date")
FLOAT = ColumnType(pa.float64(), "Float64")  # only beside an exact value, for convenience


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    description: str = ""
    source: str | None = None  # dotted path of the value in an API item (AvaCloud datasets, subgraphs)

    def __post_init__(self) -> None:
        checked_identifier(self.name)

    @property
    def meaning(self) -> str:
        """What the column holds, with its unit: the shared vocabulary's entry, then this declaration's own."""
        return "; ".join(part for part in (VOCABULARY.get(self.name, ""), self.description) if part)

    @property
    def arrow_field(self) -> pa.Field:
        return pa.field(self.name, self.type.arrow, nullable=self.nullable)

    @property
    def clickhouse_type(self) -> str:
        return f"Nullable({self.type.clickhouse})" if self.nullable else self.type.clickhouse


class Partitioning(str, Enum):
    """How a dataset's days are offered (orchestration/partitions.py makes them Dagster partitions)."""

    CHAIN_DAILY = "chain_daily"  # from the chain's start, the current (incomplete) UTC day never offered
    SNAPSHOT_DAILY = "snapshot_daily"  # from when collection started: the API serves current state only


@dataclass(frozen=True)
class ParentLink:
    """Every row of a dataset joins a row of `dataset` on `on`; when `count_column` is set, that parent
    column counts the child rows (e.g. blocks.transaction_count counts transactions)."""

    dataset: Dataset
    on: tuple[str, ...]
    count_column: str | None = None


@dataclass(frozen=True)
class Dataset:
    """Everything the pipeline needs to know about one dataset, declared once.

    name      asset name, Parquet folder and ClickHouse table name
    topic     Kafka topic every record is published to
    key       natural key: Kafka message key, ClickHouse ORDER BY, uniqueness checks
    partition_column  timestamp column whose UTC date is the daily partition
    parent    the dataset every row must join (referential and count checks)
    days_per_backfill_run  how many days one backfill run takes (1 for heavy datasets; see partitions.py)
    """

    name: str
    topic: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_column: str = "block_timestamp"
    block_column: str | None = "block_number"
    parent: ParentLink | None = None
    partitioning: Partitioning = Partitioning.CHAIN_DAILY
    days_per_backfill_run: int = 1
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        checked_identifier(self.name)
        names = tuple(c.name for c in self.columns)
        object.__setattr__(self, "column_names", names)
        missing = {*self.key, self.partition_column, *([self.block_column] if self.block_column else [])} - set(names)
        if missing:
            raise ValueError(f"dataset {self.name}: key/partition columns not declared: {sorted(missing)}")
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name}: duplicate column names")

    @property
    def table(self) -> str:
        return self.name

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([c.arrow_field for c in self.columns])

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class View:
    """A ClickHouse view over loaded tables; `select` names the database as `{db}`."""

    name: str
    description: str
    reads: tuple[Dataset, ...]
    select: str
    chart: Chart | None = None  # drawn into the view asset's metadata (and the demo's charts folder)
