"""Load dataset partitions into ClickHouse, idempotently.

Tables come from the dataset declaration: ReplacingMergeTree ordered by the natural key, partitioned
by the UTC day. A partition is loaded into a staging table and swapped in with REPLACE PARTITION,
so re-loading replaces it whole: no duplicates, no FINAL needed, and a failed load leaves the
previous data untouched. Identifiers are validated; values are bound as parameters.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.core.errors import ClickHouseBusy, PartitionLoadError
from avax_assets.core.schema import Dataset, checked_identifier
from avax_assets.core.settings import CLICKHOUSE


def create_table_sql(dataset: Dataset, database: str, table: str | None = None,
                     engine: str = "ReplacingMergeTree", on_cluster: str | None = None) -> str:
    """The dataset's table. The defaults give the single-server table every load uses; the cluster
    variant (core/clickhouse_cluster.py) passes a replicated engine and ON CLUSTER."""
    columns = ",\n    ".join(f"{c.name} {c.clickhouse_type}" for c in dataset.columns)
    order_by = ", ".join(dataset.key)
    return (
        f"CREATE TABLE IF NOT EXISTS {checked_identifier(database)}.{checked_identifier(table or dataset.table)}"
        f"{on_cluster_clause(on_cluster)} (\n    {columns}\n)\nENGINE = {engine}\n"
        f"PARTITION BY toDate({dataset.partition_column})\nORDER BY ({order_by})"
    )


def on_cluster_clause(cluster: str | None) -> str:
    return f" ON CLUSTER {quoted(cluster)}" if cluster else ""


def quoted(text: str) -> str:
    """A ClickHouse string literal of a configuration value (cluster name, Keeper path, macro)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class ParquetSource:
    """A stored Parquet object as a ClickHouse table function, its location and secrets bound as parameters."""

    table_function: str
    parameters: dict

    @staticmethod
    def s3(url: str, access_key_id: str | None, secret_access_key: str | None) -> ParquetSource:
        if access_key_id and secret_access_key:
            return ParquetSource("s3({url:String}, {key:String}, {secret:String}, 'Parquet')",
                                 {"url": url, "key": access_key_id, "secret": secret_access_key})
        return ParquetSource("s3({url:String}, 'Parquet')", {"url": url})

    @staticmethod
    def file(path: str) -> ParquetSource:
        return ParquetSource("file({path:String}, 'Parquet')", {"path": path})


# An INSERT … SELECT squashes what it reads into blocks of up to ~1M rows, each sorted in memory and
# written as one part: memory would grow with the partition. Reading and inserting 8,192 rows at a time,
# on one thread, keeps it near flat (measured: benchmarks/chain_pipeline.py); the day's parts merge later.
INSERT_SELECT_SETTINGS = {"max_threads": 1, "input_format_parquet_max_block_size": 8192, "max_block_size": 8192,
                          "min_insert_block_size_rows": 8192, "min_insert_block_size_bytes": 8 * 2**20}

STAGING = "__staging_"
# A staging table lives for one load (seconds to minutes): one this old was left by a killed load.
STALE_STAGING_S = 6 * 3600


class ClickHouseWarehouse:
    """`reads_lake`: the engine sees the lake as this process does (the embedded engine), so a load can
    have it read the stored Parquet object directly; a server gets the rows streamed instead."""

    def __init__(self, client, database: str = CLICKHOUSE.database, stale_staging_s: float = STALE_STAGING_S,
                 reads_lake: bool = False) -> None:
        self.client = client
        self.reads_lake = reads_lake
        self.database = checked_identifier(database)
        self.stale_staging_s = stale_staging_s
        self._ready: set[str] = set()

    def session(self):
        """Hold the engine for a whole load (the embedded one is otherwise held per statement)."""
        return self.client.session() if isinstance(self.client, EmbeddedClient) else nullcontext()

    def qualified(self, table: str) -> str:
        return f"{self.database}.{checked_identifier(table)}"

    def ensure_table(self, dataset: Dataset) -> None:
        if dataset.table in self._ready:
            return
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self.client.command(create_table_sql(dataset, self.database))
        self._check_structure(dataset)
        self.drop_stale_staging(dataset)
        self._ready.add(dataset.table)

    def drop_stale_staging(self, dataset: Dataset) -> list[str]:
        """Drop the dataset's staging tables that killed loads left behind; returns their names."""
        stale = [row[0] for row in self.client.query(
            "SELECT name FROM system.tables WHERE database = {db:String} AND startsWith(name, {prefix:String}) "
            "AND metadata_modification_time <= now() - toIntervalSecond({age:UInt32})",
            parameters={"db": self.database, "prefix": dataset.table + STAGING,
                        "age": int(self.stale_staging_s)}).result_rows]
        for name in stale:
            self.client.command(f"DROP TABLE IF EXISTS {self.qualified(name)}")
        return stale

    def _check_structure(self, dataset: Dataset) -> None:
        """A table made from an older declaration is refused rather than loaded into."""
        found = self.client.query("SELECT name, type FROM system.columns WHERE database = {db:String} AND "
                                  "table = {table:String} ORDER BY position",
                                  parameters={"db": self.database, "table": dataset.table}).result_rows
        declared = [(c.name, c.clickhouse_type) for c in dataset.columns]
        found = [tuple(row) for row in found]
        if found != declared:
            differences = sorted(set(found) ^ set(declared))[:6]
            raise PartitionLoadError(
                f"dataset '{dataset.name}': table {self.qualified(dataset.table)} does not match its declaration "
                f"(differing (column, type): {differences}); {self._how_to_migrate(dataset, found)}")

    def _how_to_migrate(self, dataset: Dataset, found: list[tuple]) -> str:
        changes = _nullable_changes(dataset, found)
        if changes is None:
            return "migrate it with ALTER TABLE, or drop it and reload the partitions from the lake"
        return (f"the declaration added nullable columns or made columns nullable: migrate with `ALTER TABLE "
                f"{self.qualified(dataset.table)} {', '.join(changes)}` (rows loaded before keep their values, new "
                "columns null until their days are materialized again), or drop the table and reload")

    def replace_partition(self, dataset: Dataset, day: dt.date, batches: Iterable[pa.RecordBatch]) -> int:
        """Make the table's partition for `day` hold exactly `batches`; returns its row count."""
        def insert(staging: str) -> None:
            for batch in batches:
                if batch.num_rows:
                    self.client.insert_arrow(staging, pa.Table.from_batches([batch]))

        return self._replace(dataset, day, insert)

    def replace_partition_from(self, dataset: Dataset, day: dt.date, source: ParquetSource) -> int:
        """The same, with the engine reading the stored Parquet object itself (`INSERT … SELECT FROM s3()`
        or `file()`): no rows pass through Python."""
        columns = ", ".join(checked_identifier(c.name) for c in dataset.columns)

        def insert(staging: str) -> None:
            self.client.command(f"INSERT INTO {staging} ({columns}) SELECT {columns} FROM {source.table_function}",
                                parameters=source.parameters, settings=INSERT_SELECT_SETTINGS)

        return self._replace(dataset, day, insert)

    def _replace(self, dataset: Dataset, day: dt.date, insert) -> int:
        self.ensure_table(dataset)
        target = self.qualified(dataset.table)
        staging = self.qualified(f"{dataset.table}{STAGING}{day:%Y%m%d}")
        self.client.command(f"DROP TABLE IF EXISTS {staging}")
        self.client.command(f"CREATE TABLE {staging} AS {target}")
        try:
            if isinstance(self.client, EmbeddedClient):
                # its parts move whole into the target: merging them here is wasted, and in this process
                # (measured: 10× the rows peaked ~70 MB lower, benchmarks/chain_pipeline.py memory probe)
                self.client.command(f"SYSTEM STOP MERGES {staging}")
            insert(staging)
            staged = self._staged_rows(dataset, staging, day)
            if staged:
                self.client.command(f"ALTER TABLE {target} REPLACE PARTITION {{day:Date}} FROM {staging}",
                                    parameters={"day": day})
            else:
                self.client.command(f"ALTER TABLE {target} DROP PARTITION {{day:Date}}", parameters={"day": day})
        finally:
            self.client.command(f"DROP TABLE IF EXISTS {staging}")
        return staged  # what the partition now holds: REPLACE PARTITION swaps the staged part in whole

    def append(self, dataset: Dataset, batch: pa.RecordBatch) -> int:
        """Insert rows as they are, in block order: per day, INSERTs of at most APPEND_ROWS rows cut at block
        boundaries, each one part (all or nothing), so a crash leaves whole blocks. The live path's loads,
        which keep themselves free of duplicates (live/consumer.py)."""
        self.ensure_table(dataset)
        days = pc.cast(batch.column(dataset.partition_column), pa.date32())
        for day in sorted(pc.unique(days).to_pylist()):
            rows = batch.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            for piece in _whole_blocks(rows, APPEND_ROWS):
                self.client.insert_arrow(self.qualified(dataset.table), pa.Table.from_batches([piece]))
        return batch.num_rows

    def partition_rows(self, dataset: Dataset, day: dt.date) -> int:
        self.ensure_table(dataset)
        column = checked_identifier(dataset.partition_column)
        return self._count(self.qualified(dataset.table), f"toDate({column}) = {{day:Date}}", {"day": day})

    def _staged_rows(self, dataset: Dataset, staging: str, day: dt.date) -> int:
        """The staged row count, in the same scan as the check that every row belongs to the day."""
        column = checked_identifier(dataset.partition_column)
        staged, stray = self.client.query(f"SELECT count(), countIf(toDate({column}) != {{day:Date}}) FROM {staging}",
                                          parameters={"day": day}).result_rows[0]
        if stray:
            raise PartitionLoadError(f"dataset '{dataset.name}' partition {day}: {stray} rows have a "
                                     f"'{column}' outside the partition; nothing was loaded")
        return int(staged)

    def _count(self, table: str, where: str = "1", parameters: dict | None = None) -> int:
        return int(self.client.query(f"SELECT count() FROM {table} WHERE {where}", parameters=parameters).result_rows[0][0])

APPEND_ROWS = 500_000  # below ClickHouse's max_insert_block_size (1,048,576): one part per INSERT


def _whole_blocks(rows: pa.RecordBatch, most: int):
    """Slices of at most `most` rows (more only for a single larger block), never splitting a block."""
    blocks = rows.column("block_number").to_numpy()
    start = 0
    while start < len(blocks):
        end = min(start + most, len(blocks))
        while end < len(blocks) and blocks[end] == blocks[end - 1]:
            end += 1
        if end - start > most:  # one block alone is larger: back to its start, unless it starts here
            cut = int((blocks[start:end] == blocks[end - 1]).argmax()) + start
            end = cut if cut > start else end
        yield rows.slice(start, end - start)
        start = end


def _nullable_changes(dataset: Dataset, found: list[tuple]) -> list[str] | None:
    """The ALTER TABLE clauses that make a table of (column, type) `found` the declaration, when the declaration
    only added nullable columns at the end or made columns nullable; None for any other difference."""
    declared = dataset.columns
    if [name for name, _ in found] != [c.name for c in declared[:len(found)]]:
        return None
    changes = []
    for (name, kind), column in zip(found, declared):
        if kind != column.clickhouse_type:
            if column.clickhouse_type != f"Nullable({kind})":
                return None
            changes.append(f"MODIFY COLUMN {name} {column.clickhouse_type}")
    added = declared[len(found):]
    if not all(c.nullable for c in added):
        return None
    after = [found[-1][0], *(c.name for c in added[:-1])]
    return changes + [f"ADD COLUMN {c.name} {c.clickhouse_type} AFTER {previous}" for c, previous in zip(added, after)]


log = logging.getLogger(__name__)

# What chDB says when another process holds the directory: the lock, or (on later tries) only its
# embedded server failing to start.
HELD_SIGNS = ("Cannot lock file", "Error initializing EmbeddedServer")
LOCK_FILE = ".avax-assets.lock"  # in the engine's directory: who holds it (pid and command) while it is open


@dataclass
class _OpenEngine:
    client: object
    lock: int  # the locked file's descriptor; closing it releases the lock
    users: int = 0


_engines: dict[str, _OpenEngine] = {}
_engines_lock = threading.RLock()


@contextmanager
def held_engine(path: str, lock_wait_s: float = CLICKHOUSE.chdb_lock_wait_s, poll_s: float = 0.25):
    """The embedded engine at `path`, open for this block and closed after it, so that another process (a
    Dagster load, the live consumer, the sql console) can open it next: chDB allows one process per
    directory. Opens nest within a process (the innermost reuses the outer one's client). While another
    process holds it, wait up to `lock_wait_s` (AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S), then ClickHouseBusy."""
    path = os.path.realpath(path)  # one engine per directory, however it is spelled
    with _engines_lock:
        engine = _engines.get(path) or _open(path, lock_wait_s, poll_s)
        _engines[path] = engine
        engine.users += 1
    try:
        yield engine.client
    finally:
        with _engines_lock:
            engine.users -= 1
            if engine.users == 0:
                del _engines[path]
                try:
                    engine.client.close()
                finally:
                    os.close(engine.lock)


def _open(path: str, lock_wait_s: float, poll_s: float) -> _OpenEngine:
    import clickhouse_connect

    Path(path).mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_wait_s
    lock = os.open(Path(path) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(lock, 200, 0).decode(errors="replace").strip()
                _wait_or_give_up(path, lock_wait_s, deadline, poll_s, f"process {holder}" if holder else "")
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{os.getpid()} {' '.join(sys.argv)[:150]}".encode(), 0)
        while True:  # a process that opened the engine without this lock (chDB itself, an older version)
            try:
                return _OpenEngine(clickhouse_connect.get_client(dsn=f"chdb://{path}"), lock)
            except Exception as exc:
                if not any(sign in str(exc) for sign in HELD_SIGNS):
                    raise
                _wait_or_give_up(path, lock_wait_s, deadline, poll_s, f"chDB said: {str(exc)[-200:]}")
    except BaseException:
        os.close(lock)
        raise


def _wait_or_give_up(path: str, lock_wait_s: float, deadline: float, poll_s: float, holder: str) -> None:
    if time.monotonic() >= deadline:
        raise ClickHouseBusy(
            f"the embedded ClickHouse at {path} is held by another process; waited {lock_wait_s:g} s "
            f"(AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S). Held by: {holder or 'unknown'}. Run one load at a time (the "
            "'clickhouse' pool), or point AVAX_CLICKHOUSE_HOST at a ClickHouse server") from None
    log.info("embedded ClickHouse at %s is held by another process: waiting", path)
    time.sleep(poll_s)


def _held(method: str):
    """The engine's `method`, with the engine held for the call (or the surrounding session)."""
    def call(self, *args, **kwargs):
        with self.session() as client:
            return getattr(client, method)(*args, **kwargs)

    call.__name__ = method
    return call


class EmbeddedClient:
    """A client of the embedded engine that holds it only while a statement runs (or for a whole
    `session()`): a process that keeps one does not keep the directory from others."""

    def __init__(self, path: str, lock_wait_s: float = CLICKHOUSE.chdb_lock_wait_s, poll_s: float = 0.25) -> None:
        self.path, self.lock_wait_s, self.poll_s = path, lock_wait_s, poll_s

    def session(self):
        return held_engine(self.path, self.lock_wait_s, self.poll_s)

    query = _held("query")
    command = _held("command")
    insert_arrow = _held("insert_arrow")
    query_arrow = _held("query_arrow")


def chdb_client(path: str, lock_wait_s: float = CLICKHOUSE.chdb_lock_wait_s, poll_s: float = 0.25) -> EmbeddedClient:
    return EmbeddedClient(path, lock_wait_s, poll_s)
