"""Kafka topics are compacted (a republished day converges to one message per key): a dataset whose rows are
a daily snapshot must carry the day in its key, or compaction keeps only the newest day of each thing."""

import datetime as dt

import pyarrow as pa
import pytest

from avax_assets.catalogue import DATASETS
from avax_assets.core.kafka import encode_batch


def compacted(keys: list[bytes]) -> int:
    """Messages a compacted topic keeps: the last one per key."""
    return len(set(keys))


def two_days_of_the_same_things(dataset) -> pa.RecordBatch:
    """Two rows per dataset that differ only in their day (and the columns that follow from it)."""
    rows = []
    for day, block in ((dt.datetime(2024, 6, 1, 23, tzinfo=dt.timezone.utc), 100),
                       (dt.datetime(2024, 6, 2, 23, tzinfo=dt.timezone.utc), 200)):
        row = {}
        for column in dataset.columns:
            kind = column.type.arrow
            if pa.types.is_timestamp(kind):
                row[column.name] = day
            elif pa.types.is_date(kind):
                row[column.name] = day.date()
            elif column.name == "block_number":
                row[column.name] = block
            elif pa.types.is_integer(kind):
                row[column.name] = 1
            elif pa.types.is_floating(kind):
                row[column.name] = 1.0
            elif pa.types.is_boolean(kind):
                row[column.name] = True
            else:
                row[column.name] = "0x" + "ab" * 20
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=dataset.arrow_schema)


@pytest.mark.parametrize("name", [name for name, d in DATASETS.items()
                                  if d.name in ("tokens", "dex_pools") or d.partitioning.value == "snapshot_daily"])
def test_a_daily_snapshot_keeps_every_day_on_a_compacted_topic(name):
    dataset = DATASETS[name]
    keys, _ = encode_batch(dataset, two_days_of_the_same_things(dataset))
    assert compacted(keys) == 2, f"{name}: key {dataset.key} is the same on both days"
