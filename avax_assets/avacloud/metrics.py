"""AvaCloud Metrics API time series by UTC day, declared and extracted: one row per (chain, metric,
interval, timestamp). The API defines no grouping; these groups (and their Kafka topics) are this
project's, and `metrics` is their union."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from avax_assets.avacloud.client import ApiPath, AvaCloudClient
from avax_assets.core.days import day_bounds
from avax_assets.core.errors import SourceDataError
from avax_assets.core.items import exact
from avax_assets.core.schema import FLOAT, TEXT, TIMESTAMP, Column, Dataset

METRIC_PATH = ApiPath("/v2/chains/{chainId}/metrics/{metric}", cost=10)
MAX_PAGE_SIZE = 2160

METRIC_GROUPS = {
    "activity": ("activeAddresses", "activeSenders", "txCount", "contracts", "deployers"),
    "performance": ("avgTps", "maxTps", "avgGps", "maxGps"),
    "gas": ("gasUsed", "avgGasPrice", "maxGasPrice", "feesPaid"),
    "cumulative": ("cumulativeTxCount", "cumulativeAddresses", "cumulativeContracts", "cumulativeDeployers"),
}
DAY_ONLY_PREFIXES = ("cumulative", "avg", "max")
DAY_ONLY_METRICS = ("contracts", "deployers", "feesPaid")
# A metrics day is a handful of small requests, far less than a run's start-up: backfill a month per run
# (measured: README, Backfills).
METRICS_DAYS_PER_BACKFILL_RUN = 31


def interval_of(metric: str) -> str:
    """The finest interval the API serves for a metric: some support `day` only."""
    return "day" if metric.startswith(DAY_ONLY_PREFIXES) or metric in DAY_ONLY_METRICS else "hour"


def metrics_dataset(name: str, topic: str, description: str) -> Dataset:
    return Dataset(
        name=name, topic=topic, description=description, key=("chain_id", "metric", "time_interval", "timestamp"),
        partition_column="timestamp", block_column=None, days_per_backfill_run=METRICS_DAYS_PER_BACKFILL_RUN,
        columns=(
            Column("chain_id", TEXT, description="EVM chain id, or 'total' across chains"),
            Column("metric", TEXT),
            Column("time_interval", TEXT, description="hour or day"),
            Column("timestamp", TIMESTAMP, description="start of the interval"),
            Column("value", TEXT, description="the API's number, exact, as a decimal string"),
            Column("value_float", FLOAT, description="value as Float64, for convenience only"),
            Column("fetched_at", TIMESTAMP),
        ),
    )


METRICS_BY_GROUP = {
    group: metrics_dataset(f"metrics_{group}", f"avax.metrics.{group}", f"Metrics API, {group} metrics: {', '.join(names)}.")
    for group, names in METRIC_GROUPS.items()
}
METRICS = metrics_dataset("metrics", "avax.metrics", "Every Metrics API series of the groups, in one dataset.")


def extract_metrics(client: AvaCloudClient, dataset: Dataset, metrics: tuple[str, ...], chain_ids: tuple[str, ...],
                    partition: str, fetched_at: int) -> Iterator[pa.RecordBatch]:
    start, end = day_bounds(partition)
    for chain_id in chain_ids:
        for metric in metrics:
            interval = interval_of(metric)
            query = {"startTimestamp": start, "endTimestamp": end - 1, "timeInterval": interval}
            for results in client.pages(METRIC_PATH, "results", {"chainId": chain_id, "metric": metric}, query,
                                        page_size=MAX_PAGE_SIZE):
                rows = []
                for position, point in enumerate(results):
                    try:
                        timestamp, value = int(point["timestamp"]), exact(point["value"])
                    except (KeyError, TypeError, ValueError) as exc:
                        raise SourceDataError(dataset.name, partition, f"{metric}.results[{position}]",
                                              f"is not a {{value, timestamp}} point: {exc}") from None
                    if start <= timestamp < end:  # the API's end bound is inclusive; keep the day only
                        rows.append({"chain_id": chain_id, "metric": metric, "time_interval": interval,
                                     "timestamp": timestamp, "value": value, "value_float": float(value),
                                     "fetched_at": fetched_at})
                yield pa.RecordBatch.from_pylist(rows, schema=dataset.arrow_schema)
