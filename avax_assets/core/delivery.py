"""Delivery of one extracted partition, in the order that keeps Kafka from ever running ahead of the lake:

    1. the Parquet object is stored (atomically; as a candidate beside the object when the run also loads
       the day into ClickHouse: the load promotes it once the day passes its audits, core/lake.py);
    2. its fingerprint is compared with the one recorded beside it when it was last published;
    3. only if they differ is the whole partition published, in one Kafka transaction;
    4. then the new fingerprint is recorded.

A re-run whose content did not change publishes nothing; a changed partition is republished whole (the
topics are compacted on the natural key, so they converge to one message per key). A crash between 3 and 4
republishes the partition on the next run: at least once per partition, never a record the lake lacks.
Kafka is not behind the load's audits: a candidate is published as it is stored, and a day its load refuses
stays published until a corrected day is stored and (its fingerprint differing) published whole again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from avax_assets.core.kafka import KafkaPublisher
from avax_assets.core.lake import Lake, fingerprint
from avax_assets.core.spool import SpooledPartition


@dataclass(frozen=True)
class Delivered:
    path: str  # the partition's object (where a candidate goes once promoted)
    rows: int
    messages: int  # published by this run (0 when Kafka already held this content)
    unchanged_since: str | None  # the run that published the same content, when nothing was published
    candidate: str | None = None  # where it was stored, when as a candidate


def deliver(lake: Lake, publisher: KafkaPublisher, spooled: SpooledPartition, run_id: str,
            as_candidate: bool = False) -> Delivered:
    """Store and publish one partition; `as_candidate`: stored as the run's candidate (the run loads it)."""
    name, partition = spooled.dataset.lake_folder, spooled.partition
    stored_at = lake.put_atomic(spooled.path, name, partition, candidate_of=run_id if as_candidate else None)
    path = lake.partition_path(name, partition)
    candidate = stored_at if as_candidate else None
    stored = fingerprint(spooled.path)
    previous = lake.published(name, partition)
    if previous and previous.get("fingerprint") == stored:
        return Delivered(path, spooled.rows, 0, previous.get("run_id"), candidate)
    messages = publisher.publish(spooled.dataset, partition, spooled.iter_batches(), run_id)
    lake.mark_published(name, partition, {"fingerprint": stored, "messages": messages, "run_id": run_id,
                                          "topic": spooled.dataset.topic,
                                          "published_at": dt.datetime.now(dt.timezone.utc).isoformat()})
    return Delivered(path, spooled.rows, messages, None, candidate)
