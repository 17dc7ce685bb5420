"""The same tables on a ClickHouse cluster: per dataset a replicated local table on every node and a
Distributed table of the dataset's own name over them, so queries read the whole cluster.

The Distributed table shards by the UTC day (a chain's dataset: by chain and day), so one partition lives
whole on one shard: the loader's REPLACE PARTITION, which makes reloads exact without FINAL, stays a
single-shard operation.
See deployments/clickhouse/README.md for the server configuration (macros, remote_servers, Keeper).

    avax-assets cluster-ddl [--cluster NAME] [--database avax]   # prints the DDL
"""

from collections.abc import Iterable
from dataclasses import dataclass

from avax_assets.core.clickhouse import create_table_sql, on_cluster_clause, quoted
from avax_assets.core.schema import Dataset, checked_identifier
from avax_assets.core.clickhouse import CLICKHOUSE


@dataclass(frozen=True)
class ClusterLayout:
    """Defaults are ClickHouse's conventional macros, resolved per server from its <macros> section."""

    cluster: str = "{cluster}"
    keeper_path: str = "/clickhouse/tables/{shard}/{database}/{table}"
    replica: str = "{replica}"
    local_suffix: str = "_local"

    def local_table(self, dataset: Dataset) -> str:
        return checked_identifier(dataset.table + self.local_suffix)


def replicated_table_sql(dataset: Dataset, database: str, layout: ClusterLayout = ClusterLayout(),
                         on_cluster: bool = True) -> str:
    engine = f"ReplicatedReplacingMergeTree({quoted(layout.keeper_path)}, {quoted(layout.replica)})"
    return create_table_sql(dataset, database, layout.local_table(dataset), engine=engine,
                            on_cluster=layout.cluster if on_cluster else None)


def distributed_table_sql(dataset: Dataset, database: str, layout: ClusterLayout = ClusterLayout(),
                          on_cluster: bool = True) -> str:
    database = checked_identifier(database)
    cluster = on_cluster_clause(layout.cluster if on_cluster else None)
    day = f"toYYYYMMDD({checked_identifier(dataset.partition_column)})"
    sharding_key = day if dataset.chain_id is None else f"cityHash64(chain_id, {day})"
    return (f"CREATE TABLE IF NOT EXISTS {database}.{checked_identifier(dataset.table)}{cluster} "
            f"AS {database}.{layout.local_table(dataset)}\n"
            f"ENGINE = Distributed({quoted(layout.cluster)}, {quoted(database)}, "
            f"{quoted(layout.local_table(dataset))}, {sharding_key})")


def cluster_ddl(datasets: Iterable[Dataset], database: str = CLICKHOUSE.database,
                layout: ClusterLayout = ClusterLayout()) -> list[str]:
    statements = [f"CREATE DATABASE IF NOT EXISTS {checked_identifier(database)}{on_cluster_clause(layout.cluster)}"]
    for dataset in datasets:
        statements += [replicated_table_sql(dataset, database, layout),
                       distributed_table_sql(dataset, database, layout)]
    return statements

