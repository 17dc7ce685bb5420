"""The consumer: the live datasets' topics into ClickHouse, in micro-batches, exactly once in the tables.

Guarantee. Every row the follower committed to Kafka reaches its table once: a block delivered twice, a
restart (of the consumer, the broker or the follower) or the daily batch replacing the day never leaves
a duplicate or a gap in what a query returns without FINAL. How:

- only complete steps are loaded (every row the step's manifest counts, duplicates collapsed by key);
- steps are loaded in block order, each dataset's rows in one INSERT per day (one part: all or nothing);
- a checkpoint per dataset — the last block loaded — is the larger of what `live_loads` records and the
  newest block in the dataset's own table (a crash between the insert and its record is covered: the
  inserted block is seen in the table), and anything at or below it is skipped;
- the daily batch's REPLACE PARTITION swaps in the whole day (the same rows), and raises the table's
  newest block: a consumer that was down while it ran skips that day.

Kafka offsets are committed once everything consumed has been loaded; they only say where to read from
again. Backpressure: the next micro-batch is polled only after the last one is loaded, so a slow
ClickHouse leaves the backlog in Kafka (and the lag shows in `live_loads` and the sensor). The embedded
ClickHouse is held only while a micro-batch loads (core/clickhouse.py `held_engine`), so Dagster's
loads and this consumer take turns.

Messages without the live origin header (the daily batch publishes to the same topics) are skipped.
A step that starts past a dataset's checkpoint + 1 is a gap (the live path started after the day began,
or Kafka lost a step): it is logged and counted, the step is loaded, and the day's daily run fills it.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException

from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.core.errors import KafkaDeliveryError
from avax_assets.core.kafka import decode_values
from avax_assets.core.schema import Dataset, checked_identifier
from avax_assets.core.settings import LiveSettings
from avax_assets.live.stream import (
    MANIFEST_TOPIC,
    ORIGIN,
    Manifest,
    block_of,
    decode_manifest,
)

log = logging.getLogger(__name__)
LOADS_TABLE = "live_loads"


def loads_table_sql(database: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {checked_identifier(database)}.{LOADS_TABLE} (\n"
            "    dataset LowCardinality(String),\n    first_block UInt64,\n    last_block UInt64,\n    rows UInt64,\n"
            "    head UInt64,\n    newest_block_timestamp DateTime('UTC'),\n    published_at DateTime64(3, 'UTC'),\n"
            "    loaded_at DateTime64(3, 'UTC')\n) ENGINE = MergeTree ORDER BY (dataset, last_block)\n"
            "TTL toDateTime(loaded_at) + INTERVAL 30 DAY")


@dataclass
class Progress:
    loaded_rows: int = 0
    steps: int = 0
    skipped_batch_messages: int = 0  # the daily batch's messages on the same topics
    duplicates: int = 0  # messages of blocks already loaded, or seen twice
    gaps: list[tuple[str, int, int]] = field(default_factory=list)  # (dataset, first missing, last missing)


class LiveConsumer:
    def __init__(self, kafka_config: dict, warehouse: ClickHouseWarehouse, datasets: tuple[Dataset, ...],
                 settings: LiveSettings) -> None:
        self.warehouse, self.datasets, self.settings = warehouse, datasets, settings
        self.by_topic = {d.topic: d for d in datasets}
        self.kafka = Consumer({
            **kafka_config, "group.id": settings.group_id, "isolation.level": "read_committed",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": int(settings.session_timeout_s * 1000),
            "heartbeat.interval.ms": max(500, int(settings.session_timeout_s * 1000 / 4)),
            "logger": logging.getLogger("avax_assets.kafka")})
        self.pending: dict[str, dict[int, dict[bytes, bytes]]] = {d.name: defaultdict(dict) for d in datasets}
        self.manifests: dict[bytes, Manifest] = {}
        self.checkpoints: dict[str, int] = {}
        self.progress = Progress()
        self._uncommitted = False
        self.polled = 0  # messages taken by the last step

    def start(self) -> None:
        with self.warehouse.session():
            for dataset in self.datasets:
                self.warehouse.ensure_table(dataset)
            self.warehouse.client.command(loads_table_sql(self.warehouse.database))
            self.checkpoints = checkpoints(self.warehouse, self.datasets)
        self.kafka.subscribe([*self.by_topic, MANIFEST_TOPIC])
        log.info("live consumer: checkpoints %s", self.checkpoints)

    def close(self) -> None:
        self.kafka.close()

    def step(self) -> int:
        """One micro-batch: poll, load the steps now complete, commit offsets; returns the rows loaded."""
        try:
            messages = self.kafka.consume(self.settings.batch_messages, self.settings.batch_wait_s)
        except KafkaException as exc:
            raise KafkaDeliveryError(f"live consumer: polling failed ({exc})") from None
        self.polled = len(messages)
        for message in messages:
            self._take(message)
        loaded = self._load_complete_steps()
        if self._uncommitted and not any(self.pending.values()) and not self.manifests:
            self.kafka.commit(asynchronous=False)
            self._uncommitted = False
        return loaded

    def _take(self, message) -> None:
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                return
            raise KafkaDeliveryError(f"live consumer: {message.topic()}: {message.error().str()}")
        self._uncommitted = True
        if dict(message.headers() or []).get(ORIGIN[0]) != ORIGIN[1]:
            self.progress.skipped_batch_messages += 1
            return
        if message.topic() == MANIFEST_TOPIC:
            manifest = decode_manifest(message.value())
            if manifest.last_block > min(self.checkpoints.get(d.name, -1) for d in self.datasets):
                self.manifests[manifest.key] = manifest
            return
        dataset = self.by_topic[message.topic()]
        block = block_of(message.value()).block_number
        if block <= self.checkpoints.get(dataset.name, -1) or message.key() in self.pending[dataset.name].get(block, ()):
            self.progress.duplicates += 1
            return
        self.pending[dataset.name][block][message.key()] = message.value()

    def _complete(self, manifest: Manifest) -> bool:
        for dataset in self.datasets:
            done = self.checkpoints.get(dataset.name, -1)
            for block in range(max(manifest.first_block, done + 1), manifest.last_block + 1):
                if len(self.pending[dataset.name].get(block, ())) < manifest.rows_of(dataset.name, block):
                    return False
        return True

    def _load_complete_steps(self) -> int:
        ready = []
        for manifest in sorted(self.manifests.values(), key=lambda m: m.first_block):
            if not self._complete(manifest):
                break
            ready.append(manifest)
        if not ready:
            return 0
        loaded = 0
        with self.warehouse.session():
            records = []
            for dataset in self.datasets:
                loaded += self._load(dataset, ready, records)
            self.warehouse.client.insert_arrow(f"{self.warehouse.database}.{LOADS_TABLE}", load_records(records))
        for manifest in ready:
            del self.manifests[manifest.key]
        self.progress.loaded_rows += loaded
        self.progress.steps += len(ready)
        return loaded

    def _load(self, dataset: Dataset, ready: list[Manifest], records: list) -> int:
        done = self.checkpoints.get(dataset.name, -1)
        first, last = ready[0].first_block, ready[-1].last_block
        if last <= done:
            return 0
        if first > done + 1 and done >= 0:
            self.progress.gaps.append((dataset.name, done + 1, first - 1))
            log.warning("live consumer: %s: blocks %d..%d never reached Kafka (the live path started later, or "
                        "a step was lost); the day's daily run fills them", dataset.name, done + 1, first - 1)
        pending = self.pending[dataset.name]
        values = [value for block in range(max(first, done + 1), last + 1) for value in pending.pop(block, {}).values()]
        rows = self.warehouse.append(dataset, decode_values(dataset, values)) if values else 0
        self.checkpoints[dataset.name] = last
        newest = ready[-1]
        records.append((dataset.name, max(first, done + 1), last, rows, newest.head, newest.newest_timestamp,
                        newest.published_at, time.time()))
        return rows


def load_records(records: list[tuple]):
    import pyarrow as pa

    names = ("dataset", "first_block", "last_block", "rows", "head", "newest_block_timestamp", "published_at",
             "loaded_at")
    columns = list(zip(*records))
    types = (pa.string(), pa.uint64(), pa.uint64(), pa.uint64(), pa.uint64(), pa.timestamp("s", tz="UTC"),
             pa.timestamp("ms", tz="UTC"), pa.timestamp("ms", tz="UTC"))
    arrays = [pa.array(list(c), type=t) if not pa.types.is_timestamp(t) else
              pa.array([int(v * (1000 if t.unit == "ms" else 1)) for v in c], type=pa.int64()).cast(t)
              for c, t in zip(columns, types)]
    return pa.Table.from_arrays(arrays, names=list(names))


def checkpoints(warehouse: ClickHouseWarehouse, datasets: tuple[Dataset, ...]) -> dict[str, int]:
    """Per dataset, the last block known loaded: the larger of live_loads' record and the table's newest
    block (looked for in its two newest days only: the partition key's index finds them at once)."""
    recorded = dict(warehouse.client.query(
        f"SELECT dataset, max(last_block) FROM {warehouse.database}.{LOADS_TABLE} GROUP BY dataset").result_rows)
    found = {}
    for dataset in datasets:
        table, day = warehouse.qualified(dataset.table), checked_identifier(dataset.partition_column)
        newest = warehouse.client.query(
            f"SELECT max(block_number), count() FROM {table} WHERE toDate({day}) >= "
            f"(SELECT max(toDate({day})) FROM {table}) - 1").result_rows[0]
        in_table = int(newest[0]) if newest[1] else -1
        found[dataset.name] = max(in_table, int(recorded.get(dataset.name, -1)))
    return found
