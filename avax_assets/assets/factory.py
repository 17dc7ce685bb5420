"""Asset factories: every dataset declaration becomes an extract asset (source → Kafka → Parquet)
and a ClickHouse load asset, with the same code for every dataset."""


import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from contextlib import contextmanager

import dagster as dg
import pyarrow as pa

from avax_assets import pools
from avax_assets.checks import Loaded, audits_for
from avax_assets.datasets import Dataset
from avax_assets.partitions import PARTITIONS, backfill_policy, partition_day
from avax_assets.resources import ChainRpcResource, ClickHouseResource, KafkaResource
from avax_assets.sinks.lake import LakePartition
from avax_assets.sinks.spool import PartitionSpool, SpooledPartition
from avax_assets.sources.chain import BlockRange, ChainReader, Extractor, Scope, day_block_range
from avax_assets.sources.data_api_chain import DataApiChainReader
from avax_assets.sources.tokens import MalformedLog, TransferDecoder

PREVIEW_ROWS = 5
PROGRESS_EVERY = 10
MALFORMED_SAMPLES = 20


def column_schema(dataset: Dataset) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.clickhouse_type, description=c.description or None) for c in dataset.columns
    ])


def declaration_metadata(dataset: Dataset) -> dict:
    return {
        "kafka_topic": dataset.topic,
        "natural_key": ", ".join(dataset.key),
        "clickhouse_table": dataset.table,
        "dagster/column_schema": column_schema(dataset),
    }


def spool_batches(dataset: Dataset, partition: str, batches: Iterable[pa.RecordBatch], log=None,
                  progress: Callable[[], str] | None = None) -> SpooledPartition:
    """Stream batches into a local Parquet spool; memory holds one batch at a time."""
    started = time.monotonic()
    with PartitionSpool(dataset, partition) as spool:
        for done, batch in enumerate(batches, start=1):
            spool.write(batch)
            if log and done % PROGRESS_EVERY == 0:
                log.info(f"{dataset.name} {partition}: {spool.result.rows} rows after {done} chunks, "
                         f"{time.monotonic() - started:.1f}s{f', {progress()}' if progress else ''}")
    return spool.result


def spool_chain_partition(reader: ChainReader, dataset: Dataset, partition: str, blocks: BlockRange,
                          extract: Extractor, chunk_blocks: int, log=None) -> SpooledPartition:
    """Extract a block range chunk by chunk over JSON-RPC into a local Parquet spool."""
    scope = Scope(dataset, partition)
    position = {"block": blocks.first}

    def chunks() -> Iterator[pa.RecordBatch]:
        for chunk in blocks.chunks(chunk_blocks):
            position["block"] = chunk.stop - 1
            yield extract(reader, chunk, scope)

    return spool_batches(dataset, partition, chunks(), log,
                         progress=lambda: f"block {position['block']} of {blocks.first}..{blocks.last}")


def publish_or_discard(context: dg.AssetExecutionContext, kafka: KafkaResource, spooled: SpooledPartition) -> int:
    """Publish a complete spool to the dataset's topic; on failure the spool is discarded."""
    try:
        return kafka.publisher().publish(spooled.dataset, spooled.partition, spooled.iter_batches(),
                                         context.run.run_id)
    except Exception:
        spooled.discard()
        raise


# What an asset returns and receives: one partition, or in a backfill run over a range a dict keyed by
# partition. Dagster accepts no union in asset signatures, hence Any.
SpooledOutput = Any  # SpooledPartition | dict[str, SpooledPartition]
StoredInput = Any  # LakePartition | dict[str, LakePartition]


def one_or_many(spools: dict[str, SpooledPartition]) -> SpooledPartition | dict[str, SpooledPartition]:
    """The asset's output: a run of one partition returns its spool, a backfill run over a range a spool
    per partition key (the lake IO manager stores each under its own date)."""
    return next(iter(spools.values())) if len(spools) == 1 else spools


def per_partition(context: dg.AssetExecutionContext, stored: LakePartition | dict[str, LakePartition]
                  ) -> dict[str, LakePartition]:
    """An input as {partition key: stored partition}, whether the run covers one day or a range."""
    return stored if isinstance(stored, dict) else {context.partition_keys[0]: stored}


def preview_metadata(spooled: SpooledPartition) -> dg.MetadataValue:
    batch = next(spooled.iter_batches(PREVIEW_ROWS), None)
    if batch is None:
        return dg.MetadataValue.md("_empty partition_")
    rows = batch.slice(0, PREVIEW_ROWS).to_pylist()
    header = "| " + " | ".join(batch.schema.names) + " |\n|" + "---|" * len(batch.schema.names)
    lines = ["| " + " | ".join("" if v is None else str(v) for v in row.values()) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join([header, *lines]))


def chain_extract_asset(dataset: Dataset, extract: Extractor,
                        from_data_api: Extractor | None = None) -> dg.AssetsDefinition:
    """JSON-RPC extraction; with `from_data_api`, the resource setting `blocks_source` may pick the
    AvaCloud Data API instead (same schema)."""
    resource_keys = {"rpc", "kafka"} | ({"avacloud"} if from_data_api else set())

    @dg.asset(
        name=dataset.name,
        description=f"{dataset.description} Extracted over JSON-RPC"
                    f"{' (or the AvaCloud Data API: blocks_source)' if from_data_api else ''}, published to Kafka "
                    f"`{dataset.topic}`, stored as Parquet.",
        partitions_def=PARTITIONS[dataset.partitioning],
        backfill_policy=backfill_policy(dataset.days_per_backfill_run),
        io_manager_key="lake_io_manager",
        group_name="chain",
        pool=pools.RPC,
        kinds={"python", "kafka", "parquet"},
        metadata=declaration_metadata(dataset),
        required_resource_keys=resource_keys,
    )
    def _extract(context: dg.AssetExecutionContext) -> SpooledPartition:
        partition = context.partition_key
        rpc: ChainRpcResource = context.resources.rpc
        use_data_api = from_data_api is not None and rpc.uses_data_api()
        started = time.monotonic()
        with _chain_source(context, rpc, use_data_api) as (reader, source_metadata):
            blocks = day_block_range(reader, partition_day(partition))
            context.log.info(f"{dataset.name} {partition}: blocks {blocks.first}..{blocks.last} ({blocks.count}) "
                             f"from {'the Data API' if use_data_api else 'JSON-RPC'}")
            spooled = spool_chain_partition(reader, dataset, partition, blocks,
                                            from_data_api if use_data_api else extract, rpc.chunk_blocks,
                                            context.log)
        extracted_s = time.monotonic() - started
        delivered = publish_or_discard(context, context.resources.kafka, spooled)
        context.add_output_metadata({
            "rows": spooled.rows,
            "first_block": blocks.first,
            "last_block": blocks.last,
            "block_count": blocks.count,
            "kafka_messages": delivered,
            "extract_seconds": round(extracted_s, 2),
            **source_metadata(),
            "preview": preview_metadata(spooled),
        })
        return spooled

    return _extract


@contextmanager
def _chain_source(context: dg.AssetExecutionContext, rpc: ChainRpcResource, use_data_api: bool):
    """The reader a chain asset extracts with, and a function giving its source's metadata."""
    if not use_data_api:
        with rpc.reader() as reader:
            yield reader, lambda: {"source": "json-rpc"}
        return
    with context.resources.avacloud.client() as client:
        spent_before = client.budget.spent
        reader = DataApiChainReader(client, concurrency=rpc.concurrency)
        yield reader, lambda: {"source": "avacloud data api", "compute_units": client.budget.spent - spent_before}


def decoded_asset(dataset: Dataset, source: Dataset, decode: TransferDecoder) -> dg.AssetsDefinition:
    """A dataset decoded from another dataset's stored partition (e.g. transfers from logs)."""

    @dg.asset(
        name=dataset.name,
        description=f"{dataset.description} Decoded from `{source.name}`, published to Kafka `{dataset.topic}`, "
                    "stored as Parquet.",
        ins={"source": dg.AssetIn(source.name)},
        partitions_def=PARTITIONS[dataset.partitioning],
        backfill_policy=backfill_policy(dataset.days_per_backfill_run),
        io_manager_key="lake_io_manager",
        group_name="tokens",
        kinds={"python", "kafka", "parquet"},
        metadata=declaration_metadata(dataset),
        check_specs=[dg.AssetCheckSpec("no_malformed_logs", asset=dataset.name,
                                       description="Logs with this dataset's signature that fit no standard shape")],
    )
    def _decode(context: dg.AssetExecutionContext, kafka: KafkaResource, source: LakePartition):
        malformed: list[MalformedLog] = []
        malformed_count = 0

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal malformed_count
            for logs in source.iter_batches():
                decoded = decode(logs)
                malformed_count += len(decoded.malformed)
                malformed.extend(decoded.malformed[: MALFORMED_SAMPLES - len(malformed)])
                yield decoded.batch

        spooled = spool_batches(dataset, context.partition_key, batches(), context.log)
        delivered = publish_or_discard(context, kafka, spooled)
        if malformed_count:
            context.log.warning(f"{dataset.name} {context.partition_key}: {malformed_count} malformed logs, "
                                f"e.g. {malformed[0]}")
        yield dg.Output(spooled, metadata={
            "rows": spooled.rows,
            "kafka_messages": delivered,
            "malformed_logs": malformed_count,
            "preview": preview_metadata(spooled),
        })
        yield dg.AssetCheckResult(
            check_name="no_malformed_logs", passed=malformed_count == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"malformed_logs": malformed_count, "samples": dg.MetadataValue.md(_malformed_table(malformed))},
        )

    return _decode


def _malformed_table(samples: list[MalformedLog]) -> str:
    lines = ["| block | log index | transaction | reason |", "|---|---|---|---|"]
    lines += [f"| {m.block_number} | {m.log_index} | {m.transaction_hash} | {m.reason} |" for m in samples]
    return "\n".join(lines)


def check_result(name: str, outcomes: dict) -> dg.AssetCheckResult:
    """One check over the run's partitions: it passes when every partition passes, and shows the
    first failing partition's details (or the only partition's)."""
    failed = [partition for partition, outcome in outcomes.items() if not outcome.passed]
    shown = outcomes[failed[0]] if failed else next(iter(outcomes.values()))
    metadata = dict(shown.metadata)
    if len(outcomes) > 1:
        metadata.update({"partitions": len(outcomes), "failed_partitions": dg.MetadataValue.json(failed)})
    return dg.AssetCheckResult(check_name=name, passed=not failed, metadata=metadata,
                               severity=dg.AssetCheckSeverity.ERROR)


def clickhouse_load_asset(dataset: Dataset) -> dg.AssetsDefinition:
    audits = audits_for(dataset)
    asset_key = dg.AssetKey(f"clickhouse_{dataset.name}")

    @dg.asset(
        name=f"clickhouse_{dataset.name}",
        description=f"`{dataset.table}` in ClickHouse: the `{dataset.name}` Parquet partition swapped in whole.",
        ins={"stored": dg.AssetIn(dataset.name)},
        deps=[f"clickhouse_{dataset.parent.dataset}"] if dataset.parent else [],
        partitions_def=PARTITIONS[dataset.partitioning],
        backfill_policy=backfill_policy(dataset.days_per_backfill_run),
        group_name="clickhouse",
        pool=pools.CLICKHOUSE,
        kinds={"clickhouse"},
        metadata={"clickhouse_table": dataset.table, "dagster/column_schema": column_schema(dataset)},
        check_specs=[dg.AssetCheckSpec(name, asset=asset_key, blocking=True) for name in audits],
    )
    def _load(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource,
              stored: StoredInput) -> dg.MaterializeResult:
        warehouse = clickhouse.warehouse()
        parts = per_partition(context, stored)
        outcomes = {name: {} for name in audits}
        rows = 0
        for partition, part in parts.items():
            day = partition_day(partition)
            rows += warehouse.replace_partition(dataset, day, part.iter_batches())
            loaded = Loaded(warehouse, dataset, day, parquet_rows=part.num_rows)
            for name, audit in audits.items():
                outcomes[name][partition] = audit(loaded)
        checks = [check_result(name, by_partition) for name, by_partition in outcomes.items()]
        paths = [part.path for part in parts.values()]
        return dg.MaterializeResult(metadata={
            "rows": rows,
            "table": f"{warehouse.database}.{dataset.table}",
            "source": dg.MetadataValue.path(paths[0]) if len(paths) == 1 else dg.MetadataValue.json(paths),
        }, check_results=checks)

    return _load
