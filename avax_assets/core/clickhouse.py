"""Load dataset partitions into ClickHouse, idempotently.

Tables come from the dataset declaration: ReplacingMergeTree ordered by the natural key, partitioned
by the UTC day. A partition is loaded into a staging table, audited there (`before_swap`), and only then
swapped in with REPLACE PARTITION, so re-loading replaces it whole: no duplicates, no FINAL needed, and a
failed or refused load leaves the previous data untouched. The staging table is a plain MergeTree: it keeps
every inserted row as it came (a ReplacingMergeTree would collapse duplicate keys on insert and hide them
from the audits). Identifiers are validated; values are bound as parameters.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.core.chdb import FREE_AFTER_MS, LOCK_WAIT_S, MERGES_AT_ONCE, EmbeddedClient, chdb_client
from avax_assets.core.config import HOME, PREFLIGHT_S, Settings, rule, setting
from avax_assets.core.errors import PartitionLoadError, SettingError, SinkUnavailable
from avax_assets.core.schema import CHAIN_COLUMN, Dataset, checked_identifier



def _identifier(text: str) -> None:
    try:
        checked_identifier(text)
    except ValueError:
        raise ValueError(f"must be a ClickHouse identifier (letters, digits, underscores, not starting with "
                         f"a digit), not {text!r}") from None


class ClickHouseSettings(Settings):
    """A ClickHouse server over HTTP when a host is set, else the embedded engine (chDB) in a local directory."""

    host: Optional[str] = setting(None, "AVAX_CLICKHOUSE_HOST", "A ClickHouse server; unset: the embedded engine.")
    port: int = setting(8123, "AVAX_CLICKHOUSE_PORT", "The server's HTTP port.", gt=0, le=65535)
    username: str = setting("default", "AVAX_CLICKHOUSE_USER", "The server's user.")
    password: Optional[str] = setting(None, "AVAX_CLICKHOUSE_PASSWORD", "The server's password.", secret=True)
    secure: bool = setting(False, "AVAX_CLICKHOUSE_SECURE", "HTTPS to the server.")
    database: Annotated[str, rule(_identifier)] = setting("avax", "AVAX_CLICKHOUSE_DATABASE", "The database of "
                                                          "every table and view.")
    chdb_path: Optional[str] = setting(None, "AVAX_CLICKHOUSE_CHDB_PATH", "The embedded engine's directory; unset: "
                                       "chdb/ under AVAX_HOME.")
    chdb_lock_wait_s: float = setting(LOCK_WAIT_S, "AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S", "Seconds a load waits for "
                                      "another process to release the embedded engine.", ge=0, le=3600)
    chdb_free_after_ms: int = setting(FREE_AFTER_MS, "AVAX_CLICKHOUSE_CHDB_FREE_AFTER_MS", "Milliseconds the "
                                      "embedded engine's allocator keeps memory a statement freed before handing it "
                                      "back (the engine's own default: 5000); lower: less memory, more CPU. Taken "
                                      "when a process first opens the engine.", ge=0, le=60_000)
    chdb_merges_at_once: int = setting(MERGES_AT_ONCE, "AVAX_CLICKHOUSE_CHDB_MERGES_AT_ONCE", "Background merges "
                                       "the embedded engine runs at once (its own default: 4); each holds up to "
                                       "~250 MB merging a mainnet day's parts; more: merged sooner, more memory.",
                                       gt=0, le=64)

    def under(self, home: str) -> ClickHouseSettings:
        """With the embedded engine's directory placed under `home` when it is unset."""
        return self.model_copy(update={"chdb_path": self.chdb_path or f"{home}/chdb"})


    def warehouse(self) -> ClickHouseWarehouse:
        if self.host:
            return ClickHouseWarehouse(self._server_client(), self.database)
        client = chdb_client(str(Path(self.chdb_path or f"{HOME}/chdb").resolve()), self.chdb_lock_wait_s,
                             free_after_ms=self.chdb_free_after_ms, merges_at_once=self.chdb_merges_at_once)
        return ClickHouseWarehouse(client, self.database, reads_lake=True)

    def reach(self, timeout_s: float = PREFLIGHT_S) -> None:
        """A server answers `SELECT 1` within `timeout_s`; the embedded engine's directory can be written.
        (The embedded engine is not opened here: that would hold its directory for this process.)"""
        try:
            checked_identifier(self.database)
        except ValueError:
            raise SettingError(f"the ClickHouse database {self.database!r} (AVAX_CLICKHOUSE_DATABASE) is not an "
                               "identifier (letters, digits, underscores, not starting with a digit)") from None
        if not self.host:
            path = Path(self.chdb_path or f"{HOME}/chdb").resolve()
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SettingError(f"the embedded ClickHouse directory {path} (AVAX_CLICKHOUSE_CHDB_PATH) "
                                   f"cannot be created: {exc.strerror}") from None
            if not os.access(path, os.W_OK):
                raise SettingError(f"the embedded ClickHouse directory {path} (AVAX_CLICKHOUSE_CHDB_PATH) "
                                   "is not writable")
            return
        where = (f"ClickHouse at {'https' if self.secure else 'http'}://{self.host}:{self.port} "
                 "(AVAX_CLICKHOUSE_HOST, AVAX_CLICKHOUSE_PORT)")
        try:
            self._server_client(timeout_s).command("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - the driver raises several kinds; each is reported by name
            text = str(exc)
            if "Authentication" in text or "AUTHENTICATION" in text or "516" in text:
                raise SettingError(f"{where} refused user {self.username!r}: check AVAX_CLICKHOUSE_USER and "
                                   "AVAX_CLICKHOUSE_PASSWORD") from None
            raise SinkUnavailable(f"{where} did not answer within {timeout_s:g} s ({type(exc).__name__})") from None

    def _server_client(self, timeout_s: float | None = None):
        import clickhouse_connect

        timeouts = {"connect_timeout": timeout_s, "send_receive_timeout": timeout_s} if timeout_s else {}
        return clickhouse_connect.get_client(host=self.host, port=self.port, username=self.username,
                                             password=self.password or "", secure=self.secure, **timeouts)

CLICKHOUSE = ClickHouseSettings()

def create_table_sql(dataset: Dataset, database: str, table: str | None = None,
                     engine: str = "ReplacingMergeTree", on_cluster: str | None = None) -> str:
    """The dataset's table. The defaults give the single-server table every load uses; the cluster
    variant (core/clickhouse_cluster.py) passes a replicated engine and ON CLUSTER."""
    columns = ",\n    ".join(f"{c.name} {c.clickhouse_type}" for c in dataset.columns)
    order_by = ", ".join(dataset.key)
    return (
        f"CREATE TABLE IF NOT EXISTS {checked_identifier(database)}.{checked_identifier(table or dataset.table)}"
        f"{on_cluster_clause(on_cluster)} (\n    {columns}\n)\nENGINE = {engine}\n"
        f"PARTITION BY {dataset.partition_by}\nORDER BY ({order_by})"
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


# statements that answer with rows (the others: INSERT, CREATE, ALTER… answer with nothing)
LEADING_COMMENTS = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)*", re.DOTALL)


def without_comments(statement: str) -> str:
    """The statement from its first word on (the comments before it left out)."""
    return LEADING_COMMENTS.sub("", statement, count=1)


RETURNS_ROWS = re.compile(r"\s*(\(\s*)*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXPLAIN|EXISTS|VALUES)\b", re.IGNORECASE)
LOADS_TABLE = "live_loads"
# The loads ledger's columns, declared once: (name, ClickHouse type, Arrow type)
LOADS_COLUMNS = (
    ("dataset", "LowCardinality(String)", pa.string()),
    ("first_block", "UInt64", pa.uint64()),
    ("last_block", "UInt64", pa.uint64()),
    ("rows", "UInt64", pa.uint64()),
    ("head", "UInt64", pa.uint64()),
    ("newest_block_timestamp", "DateTime('UTC')", pa.timestamp("s", tz="UTC")),
    ("published_at", "DateTime64(3, 'UTC')", pa.timestamp("ms", tz="UTC")),
    ("loaded_at", "DateTime64(3, 'UTC')", pa.timestamp("ms", tz="UTC")),
)


def loads_table(records: list[tuple]) -> pa.Table:
    """Ledger rows as Arrow (timestamps given as Unix seconds, floats for the millisecond ones)."""
    columns = list(zip(*records, strict=True))
    arrays = [pa.array(list(values), type=kind) if not pa.types.is_timestamp(kind) else
              pa.array([int(v * (1000 if kind.unit == "ms" else 1)) for v in values], type=pa.int64()).cast(kind)
              for values, (_, _, kind) in zip(columns, LOADS_COLUMNS, strict=True)]
    return pa.Table.from_arrays(arrays, names=[name for name, _, _ in LOADS_COLUMNS])


# An INSERT … SELECT squashes what it reads into blocks of up to ~1M rows, each sorted in memory and
# written as one part: memory would grow with the partition. Reading and inserting 8,192 rows at a time,
# on one thread, keeps it near flat (measured: benchmarks/chain_pipeline.py); the day's parts merge later.
# The Parquet reader would otherwise read ahead up to 4 GiB of row groups on two parsing threads, and
# s3() download on four: measured at a tenth of a mainnet day, the transactions' load peaked 250 MB above
# its start and the logs' 460 MB, with these 150 and 110 (benchmarks/mainnet_day.py). pread: file() would
# map the whole object into the process.
INSERT_SELECT_SETTINGS = {"max_threads": 1, "input_format_parquet_max_block_size": 8192, "max_block_size": 8192,
                          "min_insert_block_size_rows": 8192, "min_insert_block_size_bytes": 8 * 2**20,
                          "max_parsing_threads": 1, "max_download_threads": 1,
                          "input_format_parquet_memory_high_watermark": 64 * 2**20,
                          "storage_file_read_method": "pread"}
# The embedded engine's tables merge a day's parts (8,192 rows each, see above) in the background of this
# process. A horizontal merge reads every column of up to 100 parts at once (460 MB for a tenth of a
# day's logs); a vertical one the key columns, then one column at a time (140 MB).
EMBEDDED_TABLE_SETTINGS = "vertical_merge_algorithm_min_rows_to_activate = 1, " \
                          "vertical_merge_algorithm_min_columns_to_activate = 1"

STAGING = "__staging_"
# The embedded engine merges only while a process has it open, so a load's parts left unmerged are merged in
# whichever later load opens it, beside that load's own work: after a mainnet day's logs, every later step
# carried 100-170 MB more than at a tenth of the day (benchmarks/README.md). A load waits for its table's
# merges, up to this long, then carries on (what is left merges later, as before).
MERGES_SETTLE_S = 300.0
MERGES_POLL_S = 0.25
MERGES_QUIET_POLLS = 4  # no merge of the table this many polls in a row: the engine found nothing more to merge
MERGES_FEW_PARTS = 16  # a load that brings at most this many parts is not waited for
# Called with the staging table of a load before it is swapped in; raises to refuse it.
BeforeSwap = Callable[[str], None]
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

    def console_query(self, statement: str, output_format: str, settings: dict) -> bytes:
        """A person's statement (the SQL prompt), answered in a ClickHouse output format (a statement that
        returns no rows: `Ok.`), with the project's database as the default one once it exists."""
        if isinstance(self.client, EmbeddedClient):
            with self.client.session() as client:
                return self._answer(client, statement, output_format, settings)
        return self._answer(self.client, statement, output_format, settings)

    def _answer(self, client, statement: str, output_format: str, settings: dict) -> bytes:
        if self._database_exists(client):
            if isinstance(self.client, EmbeddedClient):
                client.command(f"USE {self.database}")
            else:
                client.database = self.database
        if not RETURNS_ROWS.match(without_comments(statement)):
            client.command(statement)
            return b"Ok.\n" if output_format.startswith("Pretty") else b""
        return client.raw_query(statement, fmt=output_format, settings=settings)

    def _database_exists(self, client) -> bool:
        return bool(client.query("SELECT count() FROM system.databases WHERE name = {db:String}",
                                 parameters={"db": self.database}).result_rows[0][0])

    def tables(self) -> set[str]:
        """The names of the database's tables and views."""
        return {row[0] for row in self.client.query("SELECT name FROM system.tables WHERE database = {db:String}",
                                                    parameters={"db": self.database}).result_rows}

    def create_view(self, name: str, select: str) -> int:
        """(Re)create the view `name` as `select` (a declaration's SQL); returns its row count."""
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self.client.command(f"CREATE OR REPLACE VIEW {self.qualified(name)} AS {select}")
        return self.client.query(f"SELECT count() FROM {self.qualified(name)}").result_rows[0][0]

    def newest_blocks(self, datasets: Iterable[Dataset]) -> dict[str, int]:
        """Per dataset, the newest block in its table (-1 when empty; a chain's dataset: of its chain), looked for
        in its two newest days only (the partition key's index finds them at once); one query for all (the live
        consumer asks before every micro-batch, and each query costs the embedded engine tens of milliseconds)."""
        datasets = list(datasets)
        parts = []
        for n, dataset in enumerate(datasets):
            table, day = self.qualified(dataset.table), checked_identifier(dataset.partition_column)
            chain = "1" if dataset.chain_id is None else f"chain_id = {int(dataset.chain_id)}"
            parts.append(f"SELECT {n} AS n, max(block_number) AS newest, count() AS rows FROM {table} WHERE {chain} "
                         f"AND toDate({day}) >= (SELECT max(toDate({day})) FROM {table} WHERE {chain}) - 1")
        found = {int(n): int(newest) if rows else -1 for n, newest, rows in
                 self.client.query(" UNION ALL ".join(parts)).result_rows} if parts else {}
        return {dataset.name: found[n] for n, dataset in enumerate(datasets)}

    # --- the loads ledger: what the live path loaded, per dataset and step (declared in LOADS_COLUMNS) ----

    def ensure_loads_table(self) -> None:
        columns = ",\n    ".join(f"{name} {kind}" for name, kind, _ in LOADS_COLUMNS)
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self.client.command(f"CREATE TABLE IF NOT EXISTS {self.qualified(LOADS_TABLE)} (\n    {columns}\n) "
                            "ENGINE = MergeTree ORDER BY (dataset, last_block) "
                            "TTL toDateTime(loaded_at) + INTERVAL 30 DAY")

    def record_loads(self, records: list[tuple]) -> None:
        """Rows of the ledger, each a tuple in LOADS_COLUMNS' order (timestamps as Unix seconds)."""
        self.client.insert_arrow(self.qualified(LOADS_TABLE), loads_table(records))

    def recorded_loads(self) -> dict[str, int]:
        """Per dataset, the last block the ledger records as loaded."""
        return {name: int(last) for name, last in self.client.query(
            f"SELECT dataset, max(last_block) FROM {self.qualified(LOADS_TABLE)} GROUP BY dataset").result_rows}

    def loads_status(self) -> list[tuple]:
        """Per dataset: last block loaded, its block's timestamp, when it was loaded, the head then."""
        return self.client.query(
            "SELECT dataset, max(last_block), argMax(newest_block_timestamp, last_block), max(loaded_at), "
            f"argMax(head, last_block) FROM {self.qualified(LOADS_TABLE)} GROUP BY dataset").result_rows

    def ensure_table(self, dataset: Dataset) -> None:
        if dataset.table in self._ready:
            return
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self.client.command(create_table_sql(dataset, self.database))
        self._check_structure(dataset)
        if isinstance(self.client, EmbeddedClient):  # also for a table made before the setting
            self.client.command(f"ALTER TABLE {self.qualified(dataset.table)} MODIFY SETTING {EMBEDDED_TABLE_SETTINGS}")
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
        if dataset.chain_id is not None and CHAIN_COLUMN.name not in dict(found):
            return self._how_to_add_chains(dataset, found)
        changes = _nullable_changes(dataset, found)
        if changes is None:
            return "migrate it with ALTER TABLE, or drop it and reload the partitions from the lake"
        return (f"the declaration added nullable columns or made columns nullable: migrate with `ALTER TABLE "
                f"{self.qualified(dataset.table)} {', '.join(changes)}` (rows loaded before keep their values, new "
                "columns null until their days are materialized again), or drop the table and reload")

    def _how_to_add_chains(self, dataset: Dataset, found: list[tuple]) -> str:
        """A table made before tables held several chains: its partition key changes, so it is made anew."""
        table, old = self.qualified(dataset.table), self.qualified(f"{dataset.table}_single_chain")
        common = [name for name in dataset.column_names if name in dict(found) and name != CHAIN_COLUMN.name]
        return (f"it was made before tables held several chains (no {CHAIN_COLUMN.name} column, partitioned by day "
                f"alone): `RENAME TABLE {table} TO {old}`, then materialize its days again (the next load makes the "
                f"table), or copy them: `INSERT INTO {table} ({CHAIN_COLUMN.name}, {', '.join(common)}) SELECT "
                f"{dataset.chain_id}, {', '.join(common)} FROM {old}` once the table exists")

    def replace_partition(self, dataset: Dataset, day: dt.date, batches: Iterable[pa.RecordBatch],
                          before_swap: BeforeSwap | None = None) -> int:
        """Make the table's partition for `day` hold exactly `batches`; returns its row count. `before_swap`
        gets the staging table holding them and raises to refuse them (the table keeps its partition)."""
        def insert(staging: str) -> None:
            for batch in batches:
                if batch.num_rows:
                    self.client.insert_arrow(staging, pa.Table.from_batches([dataset.stamped(batch)]))

        return self._replace(dataset, day, insert, before_swap)

    def replace_partition_from(self, dataset: Dataset, day: dt.date, source: ParquetSource,
                               before_swap: BeforeSwap | None = None) -> int:
        """The same, with the engine reading the stored Parquet object itself (`INSERT … SELECT FROM s3()`
        or `file()`): no rows pass through Python."""
        columns = ", ".join(checked_identifier(c.name) for c in dataset.columns)

        def insert(staging: str) -> None:
            self.client.command(f"INSERT INTO {staging} ({columns}) SELECT {columns} FROM {source.table_function}",
                                parameters=source.parameters, settings=INSERT_SELECT_SETTINGS)

        return self._replace(dataset, day, insert, before_swap)

    def _replace(self, dataset: Dataset, day: dt.date, insert, before_swap: BeforeSwap | None) -> int:
        # the embedded engine opened once for the whole load, not once a statement: every open and close of
        # chDB costs, and on a busy machine one in many hundreds has hung (seen twice, in the ICM test)
        with self.session():
            return self._replace_held(dataset, day, insert, before_swap)

    def _replace_held(self, dataset: Dataset, day: dt.date, insert, before_swap: BeforeSwap | None) -> int:
        self.ensure_table(dataset)
        target = self.qualified(dataset.table)
        staging_name = f"{dataset.table}{STAGING}{_chain_part(dataset)}{day:%Y%m%d}"
        staging = self.qualified(staging_name)
        embedded = isinstance(self.client, EmbeddedClient)
        self.client.command(f"DROP TABLE IF EXISTS {staging}")
        # the target's columns, partition and order, but a plain MergeTree: every inserted row stays for the audits
        self.client.command(f"CREATE TABLE {staging} AS {target} ENGINE = MergeTree "
                            f"PARTITION BY {dataset.partition_by} "
                            f"ORDER BY ({', '.join(checked_identifier(k) for k in dataset.key)})")
        try:
            if embedded:
                # its parts move whole into the target: merging them here is wasted, and in this process
                # (measured: 10× the rows peaked ~70 MB lower, benchmarks/chain_pipeline.py memory probe)
                self.client.command(f"SYSTEM STOP MERGES {staging}")
            insert(staging)
            staged = self._staged_rows(dataset, staging, day)
            if before_swap:
                before_swap(staging)
            many_parts = embedded and staged and self._active_parts(staging_name) > MERGES_FEW_PARTS
            if staged:
                self.client.command(f"ALTER TABLE {target} REPLACE PARTITION {dataset.partition_value} FROM "
                                    f"{staging}", parameters=dataset.partition_parameters(day))
            else:
                self.client.command(f"ALTER TABLE {target} DROP PARTITION {dataset.partition_value}",
                                    parameters=dataset.partition_parameters(day))
            if many_parts:
                self._wait_for_merges(dataset.table)
        finally:
            self.client.command(f"DROP TABLE IF EXISTS {staging}")
            if embedded:
                # the engine's allocator keeps what a load freed (measured: 150-250 MB a load, and growing
                # from load to load); handing it back takes ~10 ms of CPU
                self.client.command("SYSTEM JEMALLOC PURGE")
        return staged  # what the partition now holds: REPLACE PARTITION swaps the staged part in whole

    def append(self, dataset: Dataset, batch: pa.RecordBatch) -> int:
        """Insert rows as they are, in block order: per day, INSERTs of at most APPEND_ROWS rows cut at block
        boundaries, each one part (all or nothing), so a crash leaves whole blocks. The live path's loads,
        which keep themselves free of duplicates (live/consumer.py)."""
        self.ensure_table(dataset)
        batch = dataset.stamped(batch)
        days = pc.cast(batch.column(dataset.partition_column), pa.date32())
        for day in sorted(pc.unique(days).to_pylist()):
            rows = batch.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            for piece in _whole_blocks(rows, APPEND_ROWS):
                self.client.insert_arrow(self.qualified(dataset.table), pa.Table.from_batches([piece]))
        return batch.num_rows

    def partition_rows(self, dataset: Dataset, day: dt.date) -> int:
        self.ensure_table(dataset)
        return self._count(self.qualified(dataset.table), dataset.partition_filter, dataset.partition_parameters(day))

    def _wait_for_merges(self, table: str) -> None:
        """Until the engine has stopped merging `table`, at most MERGES_SETTLE_S (see there)."""
        deadline, quiet = time.monotonic() + MERGES_SETTLE_S, 0
        while quiet < MERGES_QUIET_POLLS and time.monotonic() < deadline:
            time.sleep(MERGES_POLL_S)
            quiet = 0 if self._count("system.merges", *self._of_table(table)) else quiet + 1

    def _active_parts(self, table: str) -> int:
        where, parameters = self._of_table(table)
        return self._count("system.parts", f"active AND {where}", parameters)

    def _of_table(self, table: str) -> tuple[str, dict]:
        """The filter of a system table's rows about `table` of this database."""
        return ("database = {database:String} AND table = {table:String}",
                {"database": self.database, "table": table})

    def _staged_rows(self, dataset: Dataset, staging: str, day: dt.date) -> int:
        """The staged row count, in the same scan as the check that every row belongs to the day."""
        staged, stray = self.client.query(f"SELECT count(), countIf(NOT ({dataset.partition_filter})) FROM {staging}",
                                          parameters=dataset.partition_parameters(day)).result_rows[0]
        if stray:
            raise PartitionLoadError(f"dataset '{dataset.name}' partition {day}: {stray} rows have a "
                                     f"'{dataset.partition_column}'{' or chain id' if dataset.chain_id else ''} "
                                     "outside the partition; nothing was loaded")
        return int(staged)

    def _count(self, table: str, where: str = "1", parameters: dict | None = None) -> int:
        found = self.client.query(f"SELECT count() FROM {table} WHERE {where}", parameters=parameters)
        return int(found.result_rows[0][0])

def _chain_part(dataset: Dataset) -> str:
    return "" if dataset.chain_id is None else f"{dataset.chain_id}_"


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
    for (name, kind), column in zip(found, declared, strict=False):
        if kind != column.clickhouse_type:
            if column.clickhouse_type != f"Nullable({kind})":
                return None
            changes.append(f"MODIFY COLUMN {name} {column.clickhouse_type}")
    added = declared[len(found):]
    if not all(c.nullable for c in added):
        return None
    after = [found[-1][0], *(c.name for c in added[:-1])][:len(added)]  # each after the one before it
    return changes + [f"ADD COLUMN {c.name} {c.clickhouse_type} AFTER {previous}"
                      for c, previous in zip(added, after, strict=True)]
