"""AvaCloud Metrics API time series by UTC day, declared and extracted: one row per (chain, metric,
interval, timestamp). The API defines no grouping; these groups (and their Kafka topics) are this
project's, and `metrics` is their union."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from avax_assets.avacloud.client import ApiPath, AvaCloudClient
from avax_assets.core.days import day_bounds
from avax_assets.core.errors import BadField, SourceDataError
from avax_assets.core.items import exact, integer
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
# (measured: docs/operations.md, Backfills).
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
    group: metrics_dataset(f"metrics_{group}", f"avax.metrics.{group}",
                           f"Metrics API, {group} metrics: {', '.join(names)}.")
    for group, names in METRIC_GROUPS.items()
}
METRICS = metrics_dataset("metrics", "avax.metrics", "Every Metrics API series of the groups, in one dataset.")


def extract_metrics(client: AvaCloudClient, dataset: Dataset, metrics: tuple[str, ...], chain_ids: tuple[str, ...],
                    partition: str, fetched_at: int, outside: Callable[[int], None] = lambda count: None
                    ) -> Iterator[pa.RecordBatch]:
    """The day's points of every (chain, metric). Points the API returns outside the day (its end bound is
    inclusive) are left out and counted: `outside` hears how many, once per page."""
    start, end = day_bounds(partition)
    for chain_id in chain_ids:
        for metric in metrics:
            interval = interval_of(metric)
            query = {"startTimestamp": start, "endTimestamp": end - 1, "timeInterval": interval}
            about = f"dataset '{dataset.name}' partition {partition}, chain {chain_id}, metric {metric}"
            for page, results in enumerate(client.pages(METRIC_PATH, "results", {"chainId": chain_id, "metric": metric},
                                                        query, page_size=MAX_PAGE_SIZE, about=about)):
                rows = []
                for position, point in enumerate(results):
                    where = f"GET {METRIC_PATH.template} chain {chain_id} metric {metric} page {page} item {position}"
                    timestamp, value = metric_point(dataset, partition, point, where)
                    if start <= timestamp < end:
                        rows.append({"chain_id": chain_id, "metric": metric, "time_interval": interval,
                                     "timestamp": timestamp, "value": value, "value_float": float(value),
                                     "fetched_at": fetched_at})
                outside(len(results) - len(rows))
                yield pa.RecordBatch.from_pylist(rows, schema=dataset.arrow_schema)


def metric_point(dataset: Dataset, partition: str, point: Any, where: str) -> tuple[int, str]:
    """(timestamp, exact value) of one {value, timestamp} point: a whole-second timestamp, as everywhere else."""
    if not isinstance(point, dict):
        raise SourceDataError(dataset.name, partition, "results[]", f"is not a {{value, timestamp}} object: "
                              f"{str(point)[:80]!r}", where)
    for field in ("timestamp", "value"):
        if field not in point:
            raise SourceDataError(dataset.name, partition, field, "is missing", where)
    try:
        timestamp = integer("timestamp", point["timestamp"])
    except BadField as bad:
        raise SourceDataError(dataset.name, partition, bad.field, bad.detail, where) from None
    try:
        return timestamp, exact(point["value"])
    except ValueError as exc:
        raise SourceDataError(dataset.name, partition, "value", f"is {exc}", where) from None
