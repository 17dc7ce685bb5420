"""The subgraphs family's assets: each declared SubgraphEntity for the block range of a C-Chain day.
The pool `thegraph` limits concurrent use of the gateway across runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.chain.resources import ChainRpcResource
from avax_assets.core.audits import AuditResult
from avax_assets.core.days import BlockRange, day_block_range, partition_day
from avax_assets.orchestration import pools
from avax_assets.orchestration.factory import DatasetAsset, ExtractCheck, PartitionReader, Run, SourceSystem
from avax_assets.subgraphs.client import extract_entity
from avax_assets.subgraphs.datasets import SUBGRAPH_ENTITIES, SubgraphEntity
from avax_assets.subgraphs.resources import SubgraphResource

THE_GRAPH = SourceSystem("the_graph", "The Graph's gateway (AVAX_GRAPH_GATEWAY_URL): the declared subgraphs "
                         "(AVAX_SUBGRAPH_IDS), queried by each day's block range.", kinds=("graphql",))
BLOCKS_IN_RANGE = "blocks_in_partition_range"


class BlockSpan:
    """Tallies the block numbers of the batches that pass through it against the partition's range."""

    def __init__(self, column: str, blocks: BlockRange) -> None:
        self.column, self.blocks = column, blocks
        self.lows: list[int] = []
        self.highs: list[int] = []
        self.outside = 0

    def watch(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            numbers = batch.column(self.column)
            if len(numbers):
                self.lows.append(pc.min(numbers).as_py())
                self.highs.append(pc.max(numbers).as_py())
                inside = pc.and_(pc.greater_equal(numbers, self.blocks.first),
                                 pc.less_equal(numbers, self.blocks.last))
                self.outside += len(numbers) - pc.sum(inside).as_py()
            yield batch

    def result(self) -> AuditResult:
        return AuditResult(self.outside == 0, {
            "rows_outside": self.outside, "partition_blocks": f"{self.blocks.first}..{self.blocks.last}",
            "rows_blocks": f"{min(self.lows)}..{max(self.highs)}" if self.lows else "no rows"})


def subgraph_asset(entity: SubgraphEntity) -> DatasetAsset:
    dataset = entity.dataset

    @contextmanager
    def source(run: Run) -> Iterator[PartitionReader]:
        with run.resource(SubgraphResource).client(entity.subgraph) as client:
            def read(partition: str) -> Iterator[pa.RecordBatch]:
                with run.resource(ChainRpcResource).reader() as reader:
                    blocks = day_block_range(reader, partition_day(partition))
                started, queries_before = time.monotonic(), client.queries
                span = BlockSpan(dataset.block_column, blocks)
                yield from span.watch(extract_entity(client, entity, partition, blocks))
                queries = client.queries - queries_before
                run.log.info(f"{dataset.name} {partition}: blocks {blocks.first}..{blocks.last}, {queries} queries, "
                             f"{time.monotonic() - started:.1f}s")
                run.note(partition, first_block=blocks.first, last_block=blocks.last, queries=queries)
                run.check(BLOCKS_IN_RANGE, partition, span.result())
            yield read

    return DatasetAsset(
        dataset=dataset, group="subgraphs", source=source, resources=(ChainRpcResource, SubgraphResource),
        pool=pools.THEGRAPH,
        origin=f"From subgraph `{entity.subgraph}` (`{entity.collection}`)", kinds=("python", "graphql"),
        checks=(ExtractCheck(BLOCKS_IN_RANGE, "Every row's block lies in the partition's block range"),),
        reads=THE_GRAPH)


ASSETS = tuple(subgraph_asset(entity) for entity in SUBGRAPH_ENTITIES)
