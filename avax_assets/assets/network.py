"""AvaCloud assets: network snapshots (Data API) and metrics (Metrics API). They are extracted,
published and loaded like every other dataset; the pool `avacloud` limits concurrent use of the API
across runs, the client's compute-unit budget within a process."""

import datetime as dt
import time
from collections.abc import Callable, Iterator

import dagster as dg
import pyarrow as pa

from avax_assets import pools
from avax_assets.assets.factory import (SpooledOutput, StoredInput, clickhouse_load_asset, declaration_metadata,
                                        one_or_many, per_partition, preview_metadata, publish_or_discard,
                                        spool_batches)
from avax_assets.datasets import BRIDGES, METRICS, METRICS_BY_GROUP, NETWORK_DATASETS, Dataset
from avax_assets.datasets.metrics import METRIC_GROUPS
from avax_assets.partitions import PARTITIONS, backfill_policy
from avax_assets.resources import AvaCloudResource, KafkaResource
from avax_assets.sources.avacloud import AvaCloudClient
from avax_assets.sources.bridges import extract_bridges
from avax_assets.sources.metrics import extract_metrics
from avax_assets.sources.network import endpoints, extract_snapshot

# (client, resource, partition, fetched_at) → batches of the dataset
Extraction = Callable[[AvaCloudClient, AvaCloudResource, str, int], Iterator[pa.RecordBatch]]


def avacloud_asset(dataset: Dataset, extract: Extraction, group: str, snapshot: bool) -> dg.AssetsDefinition:
    @dg.asset(
        name=dataset.name,
        description=f"{dataset.description} From AvaCloud, published to Kafka `{dataset.topic}`, stored as Parquet.",
        partitions_def=PARTITIONS[dataset.partitioning],
        backfill_policy=backfill_policy(dataset.days_per_backfill_run),
        io_manager_key="lake_io_manager",
        group_name=group,
        pool=pools.AVACLOUD,
        kinds={"python", "kafka", "parquet"},
        metadata=declaration_metadata(dataset),
    )
    def _fetch(context: dg.AssetExecutionContext, avacloud: AvaCloudResource,
               kafka: KafkaResource) -> SpooledOutput:
        fetched_at = int(time.time())
        spools, delivered = {}, 0
        with avacloud.client() as client:
            spent_before = client.budget.spent
            for partition in context.partition_keys:  # one day, or a backfill run's range of days
                spools[partition] = spool_batches(dataset, partition,
                                                  extract(client, avacloud, partition, fetched_at), context.log)
            spent = client.budget.spent - spent_before
        for spooled in spools.values():
            delivered += publish_or_discard(context, kafka, spooled)
        first = next(iter(spools.values()))
        metadata = {"rows": sum(s.rows for s in spools.values()), "kafka_messages": delivered, "compute_units": spent,
                    "partitions": len(spools), "fetched_at": dg.MetadataValue.timestamp(float(fetched_at)),
                    "preview": preview_metadata(first)}
        if snapshot:
            metadata["state_as_of"] = _snapshot_note(context, dataset, first.partition, fetched_at)
        context.add_output_metadata(metadata)
        return one_or_many(spools)

    return _fetch


def _snapshot_note(context: dg.AssetExecutionContext, dataset: Dataset, partition: str, fetched_at: int) -> str:
    fetched_day = dt.datetime.fromtimestamp(fetched_at, dt.timezone.utc).date().isoformat()
    if fetched_day == partition:
        return "state of the partition's day"
    note = f"the API serves current state only: this is the state of {fetched_day}, filed under {partition}"
    context.log.warning(f"{dataset.name} {partition}: {note}")
    return note


def union_asset(dataset: Dataset, sources: list[Dataset], group: str) -> dg.AssetsDefinition:
    """A dataset that is the union of other datasets' stored partitions (same schema): no API calls."""

    @dg.asset(
        name=dataset.name,
        description=f"{dataset.description} The union of {', '.join(s.name for s in sources)}, published to Kafka "
                    f"`{dataset.topic}`, stored as Parquet.",
        ins={source.name: dg.AssetIn(source.name) for source in sources},
        partitions_def=PARTITIONS[dataset.partitioning],
        backfill_policy=backfill_policy(dataset.days_per_backfill_run),
        io_manager_key="lake_io_manager",
        group_name=group,
        kinds={"python", "kafka", "parquet"},
        metadata=declaration_metadata(dataset),
    )
    def _union(context: dg.AssetExecutionContext, kafka: KafkaResource,
               **stored: StoredInput) -> SpooledOutput:
        by_partition = {name: per_partition(context, part) for name, part in stored.items()}
        spools, delivered = {}, 0
        for partition in context.partition_keys:
            batches = (batch for parts in by_partition.values() for batch in parts[partition].iter_batches())
            spools[partition] = spool_batches(dataset, partition, batches, context.log)
            delivered += publish_or_discard(context, kafka, spools[partition])
        context.add_output_metadata({"rows": sum(s.rows for s in spools.values()), "kafka_messages": delivered,
                                     "partitions": len(spools)})
        return one_or_many(spools)

    return _union


def _snapshot_extraction(dataset: Dataset) -> Extraction:
    return lambda client, avacloud, partition, fetched_at: extract_snapshot(
        client, dataset, endpoints(avacloud.network)[dataset.name], partition, fetched_at)


def _metrics_extraction(dataset: Dataset, metrics: tuple[str, ...]) -> Extraction:
    return lambda client, avacloud, partition, fetched_at: extract_metrics(
        client, dataset, metrics, tuple(avacloud.metric_chain_ids), partition, fetched_at)


network_snapshot_assets = [avacloud_asset(ds, _snapshot_extraction(ds), "network", snapshot=True)
                           for ds in NETWORK_DATASETS]
network_load_assets = [clickhouse_load_asset(ds) for ds in NETWORK_DATASETS]

bridges_assets = [
    avacloud_asset(BRIDGES, lambda client, avacloud, partition, fetched_at: extract_bridges(
        client, avacloud.network, partition, fetched_at), "network", snapshot=False),
    clickhouse_load_asset(BRIDGES),
]

metrics_fetch_assets = [
    *[avacloud_asset(METRICS_BY_GROUP[group], _metrics_extraction(METRICS_BY_GROUP[group], names), "metrics",
                     snapshot=False) for group, names in METRIC_GROUPS.items()],
    union_asset(METRICS, list(METRICS_BY_GROUP.values()), "metrics"),
]
metrics_load_assets = [clickhouse_load_asset(ds) for ds in (*METRICS_BY_GROUP.values(), METRICS)]
