"""The consumer: the live datasets' topics into ClickHouse, in micro-batches, exactly once in the tables.

Guarantee. Every row the follower committed to Kafka reaches its table once: a block delivered twice, a
restart (of the consumer, the broker or the follower) or the daily batch replacing the day never leaves
a duplicate or a gap in what a query returns without FINAL. How:

- only complete steps are loaded (every row the step's manifest counts, duplicates collapsed by key),
  in block order, from the lowest one while they follow each other (the manifest topic has one
  partition: steps are read in the order they were published; rows may come over several partitions);
- each dataset's rows go in INSERTs per day cut at block boundaries, each one part (all or nothing), and
  leave the buffer only once inserted (a failed insert is tried again with the same rows);
- a checkpoint per dataset — the last block loaded — is the larger of what `live_loads` records and the
  newest block in the dataset's own table, read again before every micro-batch (a crash between the
  insert and its record is seen in the table; so is the daily batch's REPLACE PARTITION of a day, which
  swaps in the same rows), and anything at or below it is skipped.

Kafka offsets: per partition, the first offset still needed (a message buffered, not yet loaded) is
committed, else the position; they only say where to read from again. Backpressure: the next
micro-batch is polled only after the last one is loaded, so a slow ClickHouse leaves the backlog in
Kafka (the lag shows in `live_loads` and the sensor). The embedded ClickHouse is held only while a
micro-batch loads (core/clickhouse.py `held_engine`), so Dagster's loads and this consumer take turns.

One loader per group: a step's rows and manifest must reach the same process, and steps load in order. The
group subscribes to the manifest topic alone; its one partition goes to one member, which reads every
partition of the datasets' topics itself (assigned, from the group's committed offsets) and commits all of
them. The other members stand by, saying so, and one takes over when the loader leaves or is evicted. A
rebalance, an unknown or fenced member, a coordinator move or a broker restart is transient: a failed commit
is tried again after the next micro-batch, and a member that loses the manifest partition drops what it
buffered; whoever holds it next reads again from the committed offsets (the checkpoints skip what is loaded).

A step that lacks rows its manifest counts for AVAX_LIVE_REREQUEST_S, while this consumer is not draining
a backlog, was lost by the broker (or compacted away): it is asked again (rerequests.py) until it loads.

Messages without the live origin header (the daily batch publishes to the same topics) are skipped.
A step that starts past a dataset's checkpoint + 1 is a gap (the live path started after the day began,
or Kafka lost a step): it is logged and counted, the step is loaded, and the day's daily run fills it.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_STORED, Consumer, KafkaError, KafkaException, TopicPartition

from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.core.errors import KafkaDeliveryError, SinkUnavailable, TransientError
from avax_assets.core.kafka import KafkaPublisher, RepeatedLinesOnce, decode_values
from avax_assets.core.schema import Dataset
from avax_assets.live.rerequests import Asker
from avax_assets.live.settings import LiveSettings
from avax_assets.live.topics import ensure_live_topics
from avax_assets.live.stream import (
    ORIGIN,
    LiveChain,
    Manifest,
    block_of,
    decode_manifest,
)

log = logging.getLogger(__name__)
repeating = logging.getLogger(f"{__name__}.repeating")  # lines a broker outage repeats each micro-batch: once a minute
repeating.addFilter(RepeatedLinesOnce())


@dataclass
class Progress:
    loaded_rows: int = 0
    steps: int = 0
    skipped_batch_messages: int = 0  # the daily batch's messages on the same topics
    duplicates: int = 0  # messages of blocks already loaded, or seen twice
    gaps: list[tuple[str, int, int]] = field(default_factory=list)  # (dataset, first missing, last missing)
    rerequests: list[str] = field(default_factory=list)  # the steps asked again, by key
    handovers: int = 0  # times this consumer dropped its buffers (a rebalance, an eviction)


TopicPartitionKey = tuple[str, int]
NOTICE_S = 10.0  # a consumer joining or rebalancing this long says so
REMIND_S = 60.0  # and a consumer loading nothing says why again this often
READ_SLICE_S = 0.02  # a micro-batch reads rows this long at a time, and looks for complete steps between
TOPICS_CHECK_S = 30.0  # how often the loader looks for partitions of the datasets' topics it does not read yet


class LiveConsumer:
    def __init__(self, publisher: KafkaPublisher, warehouse: ClickHouseWarehouse, live: LiveChain,
                 settings: LiveSettings) -> None:
        self.warehouse, self.live, self.settings = warehouse, live, settings
        self.datasets = datasets = live.datasets
        self.manifest_topic, self.group_id = live.manifest_topic, live.named(settings.group_id)
        self.by_topic = {d.topic: d for d in datasets}
        self.publisher = publisher
        self.kafka_config = kafka_config = publisher.config
        reading = {**kafka_config, "group.id": self.group_id, "isolation.level": "read_committed",
                   "enable.auto.commit": False, "auto.offset.reset": "earliest",
                   "logger": logging.getLogger("avax_assets.kafka")}
        # the group's member: whoever holds the manifest topic's one partition loads
        self.kafka = Consumer({**reading, "session.timeout.ms": int(settings.session_timeout_s * 1000),
                               "heartbeat.interval.ms": max(500, int(settings.session_timeout_s * 1000 / 4))})
        # the datasets' rows, read by the loader only (assigned, never a member: from the group's offsets)
        self.rows = Consumer(reading)
        self.rows_read: set[TopicPartitionKey] = set()
        self.asker = Asker(publisher, self.group_id, live.request_topic)
        self.loading = False  # this consumer holds the manifest partition
        self._reassign_rows = False  # set by the group's callbacks, done after the poll
        self._rows_checked = 0.0
        self._standing_by: tuple[str, float, float] | None = None  # (why, since, when to say it next)
        self.polled_rows = 0
        # dataset → block → key → (value, where it was read); a message stays needed until its block is loaded
        self.pending: dict[str, dict[int, dict[bytes, tuple[bytes, TopicPartitionKey, int]]]] = {
            d.name: defaultdict(dict) for d in datasets}
        self.manifests: dict[bytes, tuple[Manifest, TopicPartitionKey, int]] = {}
        self.checkpoints: dict[str, int] = {}
        self.progress = Progress()
        self.polled = 0  # messages taken by the last step
        self._uncommitted = False
        self._waiting_since: tuple[bytes, float, float] | None = None  # (step, since, last asked)
        self.broken = False  # a fatal Kafka error: this consumer cannot go on, a new one must

    def start(self) -> None:
        """Tables, checkpoints, the group; TransientError while Kafka or ClickHouse does not answer."""
        # made here whether the follower has started or not: a topic subscribed before it exists is seen only
        # minutes later, and one a broker makes by default may have the wrong partitions
        ensure_live_topics(self.publisher, self.live)
        with self.warehouse.session():
            for dataset in self.datasets:
                self.warehouse.ensure_table(dataset)
            self.warehouse.ensure_loads_table()
            self.checkpoints = checkpoints(self.warehouse, self.datasets)
        self.kafka.subscribe([self.manifest_topic], on_assign=self._assigned, on_revoke=self._revoked,
                             on_lost=self._revoked)
        self._standing_by = ("joining the group", time.monotonic(), time.monotonic() + NOTICE_S)
        log.info("live consumer: %s: checkpoints %s; joining group %s", self.live.label, self.checkpoints,
                 self.group_id)

    def close(self) -> None:
        for closing in (self.kafka.close, self.rows.close, self.asker.close):
            try:
                closing()
            except (KafkaException, RuntimeError):  # closed already, or the broker is gone: nothing to give back
                pass

    def step(self) -> int:
        """One micro-batch: read, load the steps now complete, commit what no longer needs reading again;
        returns the rows loaded."""
        self._read()
        if not self.loading:
            self._report_standing_by()
            return 0
        loaded = self._load_complete_steps()
        if self._uncommitted:
            self._commit()
        return loaded

    def _read(self) -> None:
        """Rows and manifests for up to AVAX_LIVE_BATCH_WAIT_S, or until AVAX_LIVE_BATCH_MESSAGES, or until a step
        is complete: a step loads as soon as its rows and manifest are in hand (they become readable together,
        in one transaction, on two consumers), not at the end of the wait."""
        deadline = time.monotonic() + self.settings.batch_wait_s
        self.polled = self.polled_rows = 0
        while True:
            left = max(0.0, deadline - time.monotonic())
            rows = self._poll(self.rows, min(READ_SLICE_S, left), self.settings.batch_messages - self.polled_rows) \
                if self.loading else []
            for message in rows:
                self._take(message)
            manifests = self._poll(self.kafka, 0 if self.loading else left)
            for message in manifests:  # after the group's callbacks (which drop what was buffered before them)
                self._take(message)
            self._follow_assignment()  # before the commit: after a new assignment, rows come from committed offsets
            self.polled, self.polled_rows = self.polled + len(manifests) + len(rows), self.polled_rows + len(rows)
            if (not self.loading or time.monotonic() >= deadline or self.polled_rows >= self.settings.batch_messages
                    or ((rows or manifests) and self._ready())):
                return

    def _poll(self, consumer: Consumer, wait_s: float, most: int | None = None) -> list:
        try:
            return consumer.consume(most or self.settings.batch_messages, wait_s)
        except KafkaException as exc:
            raise KafkaDeliveryError(f"live consumer: polling failed ({exc})") from None

    # --- the group: one loader ------------------------------------------------------------------

    def _assigned(self, _consumer, partitions: list[TopicPartition]) -> None:
        self._drop_buffers()
        self.loading = any(p.topic == self.manifest_topic for p in partitions)
        if self.loading:
            self._standing_by = None
            log.info("live consumer: loading for group %s (it holds %s); reading from the committed offsets",
                     self.group_id, self.manifest_topic)
        else:
            self._standing_by = ("another consumer of the group loads (the group gives the manifest topic's one "
                                 "partition to one member); this one takes over if it leaves", time.monotonic(), 0.0)
            self._report_standing_by()

    def _revoked(self, _consumer, _partitions: list[TopicPartition]) -> None:
        if self.loading:
            log.info("live consumer: group %s is rebalancing; the steps buffered here are dropped and read again "
                     "from the committed offsets by whoever loads next", self.group_id)
        self._drop_buffers()
        self.loading = False
        self._standing_by = ("the group is rebalancing", time.monotonic(), time.monotonic() + NOTICE_S)

    def _drop_buffers(self) -> None:
        """Nothing buffered outlives an assignment (a callback: Python state only; the rows consumer follows
        after the poll)."""
        if self.manifests or any(self.pending.values()):
            self.progress.handovers += 1
        self.pending = {d.name: defaultdict(dict) for d in self.datasets}
        self.manifests.clear()
        self._uncommitted = False
        self._waiting_since = None
        self._reassign_rows = True

    def _follow_assignment(self) -> None:
        """The rows consumer reads every partition of the datasets' topics while this consumer loads, none else."""
        if self._reassign_rows:
            self._reassign_rows = False
            self.rows.unassign()
            self.rows_read.clear()
            self._rows_checked = 0.0
        if self.loading and time.monotonic() - self._rows_checked >= TOPICS_CHECK_S:
            self._read_new_partitions()

    def _read_new_partitions(self) -> None:
        try:
            topics = self.rows.list_topics(timeout=self.publisher.timeout_s).topics
        except KafkaException as exc:
            raise SinkUnavailable(f"live consumer: the datasets' topics could not be listed ({exc})") from None
        new = [TopicPartition(name, p, OFFSET_STORED) for name in self.by_topic if name in topics
               for p in topics[name].partitions if (name, p) not in self.rows_read]
        if new:
            self.rows.incremental_assign(new)  # from the group's committed offsets, else the earliest
            self.rows_read.update((tp.topic, tp.partition) for tp in new)
        # a topic not made yet (the follower makes them with its first step) is looked for again soon
        missing = any(name not in topics for name in self.by_topic)
        self._rows_checked = time.monotonic() - (TOPICS_CHECK_S - 1.0 if missing else 0.0)

    def _report_standing_by(self) -> None:
        if self._standing_by is None:
            return
        why, since, when = self._standing_by
        now = time.monotonic()
        if now >= when:
            waited = f" for {now - since:.0f} s" if now - since >= 1 else ""
            log.info("live consumer: loading nothing%s: %s (group %s, %s)", waited, why, self.group_id,
                     self.settings.variable("group_id"))
            self._standing_by = (why, since, now + REMIND_S)

    def _take(self, message) -> None:
        error = message.error()
        if error:
            if error.fatal():
                self.broken = True
                raise KafkaDeliveryError(f"live consumer: {message.topic()}: {error.str()}")
            if error.code() not in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                log.warning("live consumer: %s: %s (going on)", message.topic(), error.str())
            return  # the messages after it in this poll are still taken
        self._uncommitted = True
        if dict(message.headers() or []).get(ORIGIN[0]) != ORIGIN[1]:
            self.progress.skipped_batch_messages += 1
            return
        where = ((message.topic(), message.partition()), message.offset())
        if message.topic() == self.manifest_topic:
            manifest = decode_manifest(message.value())
            if manifest.last_block > self._lowest_checkpoint() and manifest.key not in self.manifests:
                self.manifests[manifest.key] = (manifest, *where)
            return
        dataset = self.by_topic[message.topic()]
        block = block_of(message.value()).block_number
        loaded = block <= self.checkpoints.get(dataset.name, -1)
        if loaded or message.key() in self.pending[dataset.name].get(block, ()):
            self.progress.duplicates += 1
            return
        self.pending[dataset.name][block][message.key()] = (message.value(), *where)

    def _lowest_checkpoint(self) -> int:
        return min(self.checkpoints.get(d.name, -1) for d in self.datasets)

    def _complete(self, manifest: Manifest) -> bool:
        for dataset in self.datasets:
            done = self.checkpoints.get(dataset.name, -1)
            for block in range(max(manifest.first_block, done + 1), manifest.last_block + 1):
                if len(self.pending[dataset.name].get(block, ())) < manifest.rows_of(dataset.name, block):
                    return False
        return True

    def _in_order(self) -> list[Manifest]:
        return sorted((m for m, _, _ in self.manifests.values()), key=lambda m: (m.first_block, m.last_block))

    def _ready(self) -> list[Manifest]:
        """The complete steps from the lowest one on, while they follow each other (overlaps allowed)."""
        ready, end = [], None
        for manifest in self._in_order():
            if (end is not None and manifest.first_block > end + 1) or not self._complete(manifest):
                break
            ready.append(manifest)
            end = manifest.last_block if end is None else max(end, manifest.last_block)
        return ready

    def _load_complete_steps(self) -> int:
        if not self._ready():
            self._report_waiting()
            return 0
        loaded, records = 0, []
        with self.warehouse.session():
            # the tables' own newest blocks, again: the daily batch may have replaced a day meanwhile
            tables = checkpoints(self.warehouse, self.datasets)
            self.checkpoints = {name: max(block, self.checkpoints.get(name, -1)) for name, block in tables.items()}
            self._forget_loaded()
            ready = self._ready()
            if not ready:
                return 0
            for dataset in self.datasets:  # each dataset's checkpoint moves once its rows are in
                loaded += self._load(dataset, ready, records)
            if records:
                self.warehouse.record_loads(records)
        for manifest in ready:
            del self.manifests[manifest.key]
        self.progress.loaded_rows += loaded
        self.progress.steps += len(ready)
        return loaded

    def _load(self, dataset: Dataset, ready: list[Manifest], records: list) -> int:
        done = self.checkpoints.get(dataset.name, -1)
        first, newest = ready[0].first_block, max(ready, key=lambda m: m.last_block)
        last = newest.last_block
        if last <= done:
            return 0
        if first > done + 1 and done >= 0:
            self.progress.gaps.append((dataset.name, done + 1, first - 1))
            log.warning("live consumer: %s: blocks %d..%d never reached Kafka (the live path started later, or "
                        "a step was lost); the day's daily run fills them", dataset.name, done + 1, first - 1)
        pending = self.pending[dataset.name]
        blocks = range(max(first, done + 1), last + 1)
        values = [value for block in blocks for value, _, _ in pending.get(block, {}).values()]
        rows = self.warehouse.append(dataset, decode_values(dataset, values)) if values else 0
        for block in blocks:  # only once the insert went through: a failed one is tried again with the same rows
            pending.pop(block, None)
        self.checkpoints[dataset.name] = last
        records.append((dataset.qualified_name, blocks.start, last, rows, newest.head, newest.newest_timestamp,
                        newest.published_at, time.time()))
        return rows

    def _forget_loaded(self) -> None:
        """Rows and steps at or below the checkpoints (loaded already, by this path or the daily batch)."""
        for name, by_block in self.pending.items():
            for block in [b for b in by_block if b <= self.checkpoints.get(name, -1)]:
                self.progress.duplicates += len(by_block.pop(block))
        lowest = self._lowest_checkpoint()
        for key in [k for k, (m, _, _) in self.manifests.items() if m.last_block <= lowest]:
            del self.manifests[key]

    def _commit(self) -> None:
        """Commit, per partition, the first offset still needed (a message held, not yet loaded), or the
        position: a restart reads again exactly what was not loaded."""
        needed: dict[TopicPartitionKey, int] = {}
        held = [where for by_block in self.pending.values() for rows in by_block.values()
                for _, *where in rows.values()]
        held += [(tp, offset) for _, tp, offset in self.manifests.values()]
        for tp, offset in held:
            needed[tp] = min(offset, needed.get(tp, offset))
        offsets = []
        positions = self.kafka.position(self.kafka.assignment()) + self.rows.position(self.rows.assignment())
        for position in positions:
            at = needed.get((position.topic, position.partition), position.offset)
            if at >= 0:
                offsets.append(TopicPartition(position.topic, position.partition, at))
        if offsets:
            try:
                self.kafka.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:  # a rebalance, an unknown member, no coordinator: the group sorts it out
                repeating.warning("live consumer: committing offsets failed (%s); tried again after the next "
                                  "micro-batch (a rebalance reads again from the last committed offsets)", _reason(exc))
                return
        self._uncommitted = bool(needed)

    def _report_waiting(self) -> None:
        """The first step waiting for rows: asked again once it has waited AVAX_LIVE_REREQUEST_S with this
        consumer not draining a backlog (its rows were lost or compacted away), and again as often."""
        waiting = self._in_order()
        if not waiting:
            self._waiting_since = None
            return
        step, now = waiting[0], time.monotonic()
        if self._waiting_since is None or self._waiting_since[0] != step.key:
            self._waiting_since = (step.key, now, now)
            return
        _, since, asked = self._waiting_since
        if now - asked < self.settings.rerequest_s or self.polled_rows >= self.settings.batch_messages:
            return
        self._waiting_since = (step.key, since, now)
        missing = self._missing(step)
        log.warning("live consumer: step %s has waited %.0f s for rows its manifest counts (%s): lost by the broker "
                    "or compacted away; asking the follower to publish it again (AVAX_LIVE_REREQUEST_S)",
                    step.key.decode(), now - since, missing)
        try:
            self.asker.ask(range(step.first_block, step.last_block + 1), f"missing rows: {missing}")
        except TransientError as exc:
            log.warning("live consumer: the re-request of step %s was not delivered (%s); asked again in %g s",
                        step.key.decode(), exc, self.settings.rerequest_s)
            return
        self.progress.rerequests.append(step.key.decode())

    def _missing(self, manifest: Manifest) -> str:
        """What a step lacks, per dataset: rows held of rows counted."""
        parts = []
        for dataset in self.datasets:
            done = self.checkpoints.get(dataset.name, -1)
            blocks = range(max(manifest.first_block, done + 1), manifest.last_block + 1)
            held = sum(len(self.pending[dataset.name].get(b, ())) for b in blocks)
            counted = sum(manifest.rows_of(dataset.name, b) for b in blocks)
            if held < counted:
                parts.append(f"{dataset.name} {held} of {counted}")
        return ", ".join(parts)


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else exc
    return error.str() if isinstance(error, KafkaError) else str(error)


def checkpoints(warehouse: ClickHouseWarehouse, datasets: tuple[Dataset, ...]) -> dict[str, int]:
    """Per dataset, the last block known loaded: the larger of the ledger's record (under the dataset's name
    unique across chains) and the table's newest block of its chain."""
    recorded = warehouse.recorded_loads()
    newest = warehouse.newest_blocks(datasets)
    return {d.name: max(newest[d.name], recorded.get(d.qualified_name, -1)) for d in datasets}
