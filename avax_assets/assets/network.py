"""Network snapshot assets from the AvaCloud Data API: extracted, published and loaded like every
other dataset; the pool `avacloud` limits concurrent use of the API across runs."""

import datetime as dt
import time

import dagster as dg

from avax_assets.assets.factory import (preview_metadata, clickhouse_load_asset, declaration_metadata, publish_or_discard,
                                        spool_batches)
from avax_assets.datasets import NETWORK_DATASETS, Dataset
from avax_assets.partitions import PARTITIONS
from avax_assets.resources import AvaCloudResource, KafkaResource
from avax_assets.sinks.spool import SpooledPartition
from avax_assets.sources.network import endpoints, extract_snapshot


def snapshot_asset(dataset: Dataset) -> dg.AssetsDefinition:
    @dg.asset(
        name=dataset.name,
        description=f"{dataset.description} A daily snapshot of current state (AvaCloud Data API), published to "
                    f"Kafka `{dataset.topic}`, stored as Parquet.",
        partitions_def=PARTITIONS[dataset.partitioning],
        io_manager_key="lake_io_manager",
        group_name="network",
        pool="avacloud",
        kinds={"python", "kafka", "parquet"},
        metadata=declaration_metadata(dataset),
    )
    def _snapshot(context: dg.AssetExecutionContext, avacloud: AvaCloudResource,
                  kafka: KafkaResource) -> SpooledPartition:
        partition = context.partition_key
        fetched_at = int(time.time())
        endpoint = endpoints(avacloud.network)[dataset.name]
        with avacloud.client() as client:
            spent_before = client.budget.spent
            batches = extract_snapshot(client, dataset, endpoint, partition, fetched_at)
            spooled = spool_batches(dataset, partition, batches, context.log)
            spent = client.budget.spent - spent_before
        delivered = publish_or_discard(context, kafka, spooled)
        fetched_day = dt.datetime.fromtimestamp(fetched_at, dt.timezone.utc).date().isoformat()
        note = "state of the partition's day" if fetched_day == partition else \
            f"the API serves current state only: this is the state of {fetched_day}, filed under {partition}"
        if fetched_day != partition:
            context.log.warning(f"{dataset.name} {partition}: {note}")
        context.add_output_metadata({
            "rows": spooled.rows,
            "kafka_messages": delivered,
            "fetched_at": dg.MetadataValue.timestamp(float(fetched_at)),
            "state_as_of": note,
            "compute_units": spent,
            "preview": preview_metadata(spooled),
        })
        return spooled

    return _snapshot


network_snapshot_assets = [snapshot_asset(ds) for ds in NETWORK_DATASETS]
network_load_assets = [clickhouse_load_asset(ds) for ds in NETWORK_DATASETS]
