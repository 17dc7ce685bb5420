"""Metrics API series for one UTC day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa

from avax_assets.datasets import Dataset
from avax_assets.datasets.metrics import interval_of
from avax_assets.errors import SourceDataError
from avax_assets.sources.avacloud import AvaCloudClient

METRIC_PATH = "/v2/chains/{chainId}/metrics/{metric}"
MAX_PAGE_SIZE = 2160


def exact(value) -> str:
    """A JSON number (int or Decimal) as a plain decimal string."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError(f"not a number: {value!r}")
    return str(value) if isinstance(value, int) else format(value, "f")


def extract_metrics(client: AvaCloudClient, dataset: Dataset, metrics: tuple[str, ...], chain_ids: tuple[str, ...],
                    partition: str, fetched_at: int) -> Iterator[pa.RecordBatch]:
    start = int(dt.datetime.combine(dt.date.fromisoformat(partition), dt.time(), dt.timezone.utc).timestamp())
    end = start + 86_400
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
