"""The column vocabulary every dataset declaration is written in, and the declaration itself.

One column type fixes its Arrow type (Parquet, Kafka JSON) and its ClickHouse type together, so the
extractor, the Parquet writer, the Kafka encoder and the ClickHouse DDL cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np
import pyarrow as pa

from avax_assets.core.chart import Chart
from avax_assets.core.vocabulary import VOCABULARY

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# The chain the declarations name in their topics: the C-Chain. Each configured chain binds them to its own id
# (`Dataset.on`), the C-Chain's included.
CHAIN_ID = 43114


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


# Every row of a chain dataset says its chain (Dataset.chain_id)
CHAIN_COLUMN = Column("chain_id", U64)


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
    chain_id  set for a dataset of one EVM chain (its topic ends with the id; a child of a chain's dataset is
              one, its parent's chain taken when unset): the declaration gains the
              `chain_id` column, first in its columns and its key; its ClickHouse partition is (chain id, day),
              its Parquet folder `<name>/chain_id=<id>`. `on(id)` is the same dataset for another chain.
    asset_prefix  the Dagster key prefix of its assets (a configured chain's name; none for the home chain)
    hash_link  (its hash column, the column naming the previous row's hash) of a chain of blocks: each block's
              parent is the one before it, within the day and across to the neighbouring days (audited)
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
    chain_id: int | None = None
    asset_prefix: tuple[str, ...] = ()
    hash_link: tuple[str, str] | None = None
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        checked_identifier(self.name)
        if self.chain_id is None and self.parent and self.parent.dataset.chain_id is not None:
            object.__setattr__(self, "chain_id", self.parent.dataset.chain_id)  # a chain's rows' children are too
        if self.chain_id is not None:
            self._bind_chain()
        names = tuple(c.name for c in self.columns)
        object.__setattr__(self, "column_names", names)
        missing = {*self.key, self.partition_column, *([self.block_column] if self.block_column else []),
                   *(self.hash_link or ())} - set(names)
        if missing:
            raise ValueError(f"dataset {self.name}: key/partition columns not declared: {sorted(missing)}")
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name}: duplicate column names")

    def _bind_chain(self) -> None:
        if not self.topic.endswith(f".{self.chain_id}"):
            raise ValueError(f"dataset {self.name}: a chain dataset's topic ends with its chain id, "
                             f"not {self.topic!r}")
        if CHAIN_COLUMN.name not in (c.name for c in self.columns):
            object.__setattr__(self, "columns", (CHAIN_COLUMN, *self.columns))
        if self.key[0] != CHAIN_COLUMN.name:
            object.__setattr__(self, "key", (CHAIN_COLUMN.name, *self.key))

    def on(self, chain_id: int, asset_prefix: tuple[str, ...] = ()) -> Dataset:
        """The same declaration for another chain (its topic, rows, partitions and assets that chain's)."""
        if self.chain_id is None:
            raise ValueError(f"dataset {self.name} is not a chain's: it cannot be bound to chain {chain_id}")
        topic = self.topic.removesuffix(str(self.chain_id)) + str(chain_id)
        parent = self.parent
        if parent and parent.dataset.chain_id is not None:
            parent = replace(parent, dataset=parent.dataset.on(chain_id, asset_prefix))
        return replace(self, topic=topic, chain_id=chain_id, asset_prefix=asset_prefix, parent=parent)

    @property
    def table(self) -> str:
        return self.name

    @property
    def key_in_chain(self) -> tuple[str, ...]:
        """What makes a row unique within its chain."""
        return self.key if self.chain_id is None else self.key[1:]

    @property
    def lake_folder(self) -> str:
        """Where its days are in the lake, under the lake's root."""
        return self.name if self.chain_id is None else f"{self.name}/chain_id={self.chain_id}"

    @property
    def qualified_name(self) -> str:
        """Its name, unique across chains (transactional ids, staging tables, logs)."""
        return self.name if self.chain_id is None else f"{self.name}_{self.chain_id}"

    @property
    def partition_by(self) -> str:
        """Its ClickHouse PARTITION BY expression: a chain-day is replaced whole."""
        day = f"toDate({checked_identifier(self.partition_column)})"
        return day if self.chain_id is None else f"({CHAIN_COLUMN.name}, {day})"

    @property
    def partition_value(self) -> str:
        """One partition in ALTER … PARTITION, with the parameters of `partition_parameters`."""
        return "{day:Date}" if self.chain_id is None else "({chain_id:UInt64}, {day:Date})"

    @property
    def partition_filter(self) -> str:
        """The rows of one partition, with the parameters of `partition_parameters`."""
        day = f"toDate({checked_identifier(self.partition_column)}) = {{day:Date}}"
        return day if self.chain_id is None else f"{CHAIN_COLUMN.name} = {{chain_id:UInt64}} AND {day}"

    def partition_parameters(self, day: dt.date) -> dict:
        return {"day": day} if self.chain_id is None else {"day": day, "chain_id": self.chain_id}

    @property
    def source_schema(self) -> pa.Schema:
        """The schema a source fills: every column but the chain id, which is the chain's (`stamped`)."""
        return pa.schema([c.arrow_field for c in self.columns if c is not CHAIN_COLUMN])

    def stamped(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with its chain's id in the `chain_id` column, whatever the source left there."""
        if self.chain_id is None:
            return batch
        if CHAIN_COLUMN.name in batch.schema.names:
            batch = batch.drop_columns([CHAIN_COLUMN.name])
        ids = pa.array(np.full(batch.num_rows, self.chain_id, dtype=np.uint64))
        return pa.RecordBatch.from_arrays([ids, *batch.columns],
                                          schema=batch.schema.insert(0, CHAIN_COLUMN.arrow_field))

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
