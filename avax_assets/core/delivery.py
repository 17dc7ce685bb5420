"""Delivery of one extracted partition, in the order that keeps Kafka from ever running ahead of the lake:

    1. the Parquet object is stored (atomically);
    2. its fingerprint is compared with the one recorded beside it when it was last published;
    3. only if they differ is the whole partition published, in one Kafka transaction;
    4. then the new fingerprint is recorded.

A re-run whose content did not change publishes nothing; a changed partition is republished whole (the
topics are compacted on the natural key, so they converge to one message per key). A crash between 3 and 4
republishes the partition on the next run: at least once per partition, never a record the lake lacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from avax_assets.core.kafka import KafkaPublisher
from avax_assets.core.lake import Lake, fingerprint
from avax_assets.core.spool import SpooledPartition


@dataclass(frozen=True)
class Delivered:
    path: str
    rows: int
    messages: int  # published by this run (0 when Kafka already held this content)
    unchanged_since: str | None  # the run that published the same content, when nothing was published


def deliver(lake: Lake, publisher: KafkaPublisher, spooled: SpooledPartition, run_id: str) -> Delivered:
    name, partition = spooled.dataset.name, spooled.partition
    path = lake.put_atomic(spooled.path, name, partition)
    stored = fingerprint(spooled.path)
    previous = lake.published(name, partition)
    if previous and previous.get("fingerprint") == stored:
        return Delivered(path, spooled.rows, 0, previous.get("run_id"))
    messages = publisher.publish(spooled.dataset, partition, spooled.iter_batches(), run_id)
    lake.mark_published(name, partition, {"fingerprint": stored, "messages": messages, "run_id": run_id,
                                          "topic": spooled.dataset.topic,
                                          "published_at": dt.datetime.now(dt.timezone.utc).isoformat()})
    return Delivered(path, spooled.rows, messages, None)
