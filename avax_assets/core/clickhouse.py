"""Load dataset partitions into ClickHouse, idempotently.

Tables come from the dataset declaration: ReplacingMergeTree ordered by the natural key, partitioned
by the UTC day. A partition is loaded into a staging table and swapped in with REPLACE PARTITION,
so re-loading replaces it whole: no duplicates, no FINAL needed, and a failed load leaves the
previous data untouched. Identifiers are validated; values are bound as parameters.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable

import pyarrow as pa

from avax_assets.core.errors import PartitionLoadError
from avax_assets.core.schema import Dataset
from avax_assets.core.settings import CLICKHOUSE
from avax_assets.core.schema import checked_identifier


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


class ClickHouseWarehouse:
    def __init__(self, client, database: str = CLICKHOUSE.database) -> None:
        self.client = client
        self.database = checked_identifier(database)
        self._ready: set[str] = set()

    def qualified(self, table: str) -> str:
        return f"{self.database}.{checked_identifier(table)}"

    def ensure_table(self, dataset: Dataset) -> None:
        if dataset.table in self._ready:
            return
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self.client.command(create_table_sql(dataset, self.database))
        self._check_structure(dataset)
        self._ready.add(dataset.table)

    def _check_structure(self, dataset: Dataset) -> None:
        """A table made from an older declaration is refused rather than loaded into."""
        found = self.client.query("SELECT name, type FROM system.columns WHERE database = {db:String} AND "
                                  "table = {table:String} ORDER BY position",
                                  parameters={"db": self.database, "table": dataset.table}).result_rows
        declared = [(c.name, c.clickhouse_type) for c in dataset.columns]
        if [tuple(row) for row in found] != declared:
            differences = sorted(set(map(tuple, found)) ^ set(declared))[:6]
            raise PartitionLoadError(
                f"dataset '{dataset.name}': table {self.qualified(dataset.table)} does not match its declaration "
                f"(differing (column, type): {differences}); migrate it with ALTER TABLE, or drop it and reload "
                "the partitions from the lake")

    def replace_partition(self, dataset: Dataset, day: dt.date, batches: Iterable[pa.RecordBatch]) -> int:
        """Make the table's partition for `day` hold exactly `batches`; returns its row count."""
        self.ensure_table(dataset)
        target = self.qualified(dataset.table)
        staging = self.qualified(f"{dataset.table}__staging_{day:%Y%m%d}")
        self.client.command(f"DROP TABLE IF EXISTS {staging}")
        self.client.command(f"CREATE TABLE {staging} AS {target}")
        try:
            for batch in batches:
                if batch.num_rows:
                    self.client.insert_arrow(staging, pa.Table.from_batches([batch]))
            self._check_staging(dataset, staging, day)
            staged = self._count(staging)
            if staged:
                self.client.command(f"ALTER TABLE {target} REPLACE PARTITION {{day:Date}} FROM {staging}",
                                    parameters={"day": day})
            else:
                self.client.command(f"ALTER TABLE {target} DROP PARTITION {{day:Date}}", parameters={"day": day})
        finally:
            self.client.command(f"DROP TABLE IF EXISTS {staging}")
        return self.partition_rows(dataset, day)

    def partition_rows(self, dataset: Dataset, day: dt.date) -> int:
        self.ensure_table(dataset)
        column = checked_identifier(dataset.partition_column)
        return self._count(self.qualified(dataset.table), f"toDate({column}) = {{day:Date}}", {"day": day})

    def _check_staging(self, dataset: Dataset, staging: str, day: dt.date) -> None:
        column = checked_identifier(dataset.partition_column)
        stray = self._count(staging, f"toDate({column}) != {{day:Date}}", {"day": day})
        if stray:
            raise PartitionLoadError(f"dataset '{dataset.name}' partition {day}: {stray} rows have a "
                                     f"'{column}' outside the partition; nothing was loaded")

    def _count(self, table: str, where: str = "1", parameters: dict | None = None) -> int:
        return int(self.client.query(f"SELECT count() FROM {table} WHERE {where}", parameters=parameters).result_rows[0][0])


_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def chdb_client(path: str):
    """The embedded engine allows one data directory per process: share one client per path."""
    import clickhouse_connect

    with _clients_lock:
        if path not in _clients:
            _clients[path] = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        return _clients[path]
