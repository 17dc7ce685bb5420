"""Subgraph assets (The Graph): one per declared subgraph entity, for the block range of a C-Chain day.
The pool `thegraph` limits concurrent use of the gateway across runs."""

import time

import dagster as dg
import pyarrow.compute as pc

from avax_assets import pools
from avax_assets.assets.factory import (clickhouse_load_asset, declaration_metadata, preview_metadata,
                                        publish_or_discard, spool_batches)
from avax_assets.datasets import SUBGRAPH_ENTITIES, SubgraphEntity
from avax_assets.partitions import PARTITIONS, backfill_policy, partition_day
from avax_assets.resources import ChainRpcResource, KafkaResource, SubgraphResource
from avax_assets.sinks.spool import SpooledPartition
from avax_assets.sources.chain import BlockRange, day_block_range
from avax_assets.sources.subgraph import extract_entity

BLOCKS_IN_RANGE = "blocks_in_partition_range"


def subgraph_asset(entity: SubgraphEntity) -> dg.AssetsDefinition:
    dataset = entity.dataset

    @dg.asset(
        name=dataset.name,
        description=f"{dataset.description} From subgraph `{entity.subgraph}` (`{entity.collection}`), published to "
                    f"Kafka `{dataset.topic}`, stored as Parquet.",
        partitions_def=PARTITIONS[dataset.partitioning],
        backfill_policy=backfill_policy(dataset.days_per_backfill_run),
        io_manager_key="lake_io_manager",
        group_name="subgraphs",
        pool=pools.THEGRAPH,
        kinds={"python", "graphql", "kafka", "parquet"},
        metadata=declaration_metadata(dataset),
        check_specs=[dg.AssetCheckSpec(BLOCKS_IN_RANGE, asset=dataset.name,
                                       description="Every row's block lies in the partition's block range")],
    )
    def _extract(context: dg.AssetExecutionContext, rpc: ChainRpcResource, subgraph: SubgraphResource,
                 kafka: KafkaResource):
        partition = context.partition_key
        with rpc.reader() as reader:
            blocks = day_block_range(reader, partition_day(partition))
        started = time.monotonic()
        with subgraph.client(entity.subgraph) as client:
            spooled = spool_batches(dataset, partition, extract_entity(client, entity, partition, blocks), context.log)
            queries = client.queries
        context.log.info(f"{dataset.name} {partition}: {spooled.rows} rows in blocks {blocks.first}..{blocks.last}, "
                         f"{queries} queries, {time.monotonic() - started:.1f}s")
        delivered = publish_or_discard(context, kafka, spooled)
        in_range = block_range_check(spooled, blocks)  # before the IO manager takes the spool away
        yield dg.Output(spooled, metadata={
            "rows": spooled.rows, "first_block": blocks.first, "last_block": blocks.last, "queries": queries,
            "kafka_messages": delivered, "preview": preview_metadata(spooled)})
        yield in_range

    return _extract


def block_range_check(spooled: SpooledPartition, blocks: BlockRange) -> dg.AssetCheckResult:
    lows, highs, outside = [], [], 0
    for batch in spooled.iter_batches():
        numbers = batch.column(spooled.dataset.block_column)
        if len(numbers):
            lows.append(pc.min(numbers).as_py())
            highs.append(pc.max(numbers).as_py())
            inside = pc.and_(pc.greater_equal(numbers, blocks.first), pc.less_equal(numbers, blocks.last))
            outside += len(numbers) - pc.sum(inside).as_py()
    return dg.AssetCheckResult(check_name=BLOCKS_IN_RANGE, passed=outside == 0, metadata={
        "rows_outside": outside, "partition_blocks": f"{blocks.first}..{blocks.last}",
        "rows_blocks": f"{min(lows)}..{max(highs)}" if lows else "no rows"})


subgraph_extract_assets = [subgraph_asset(entity) for entity in SUBGRAPH_ENTITIES]
subgraph_load_assets = [clickhouse_load_asset(entity.dataset) for entity in SUBGRAPH_ENTITIES]
