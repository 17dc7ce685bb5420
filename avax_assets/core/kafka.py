"""Publish every record of a dataset partition to its Kafka topic.

Messages are JSON objects with the dataset's columns (uint256 as decimal strings, timestamps as Unix
seconds), keyed by the natural key, with headers naming dataset, partition and the Dagster run. A
partition is published in one transaction (transactional id per dataset and partition, acks=all), on
compacted topics; publishing fails, and the transaction is aborted, if any delivery fails or the commit
is not confirmed in time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import polars as pl
import pyarrow as pa
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from avax_assets.core.errors import KafkaDeliveryError
from avax_assets.core.schema import Dataset
from avax_assets.core.settings import KAFKA

log = logging.getLogger(__name__)

KEY_SEPARATOR = ":"
PRODUCER_DEFAULTS = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 200_000,
}


def encode_batch(dataset: Dataset, batch: pa.RecordBatch) -> tuple[list[bytes], list[bytes]]:
    """(keys, values) for one batch, encoded column-wise by polars rather than row by row in Python."""
    frame = pl.from_arrow(batch)
    timestamps = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    frame = frame.with_columns([pl.col(c).dt.epoch("s") for c in timestamps])
    keys = frame.select(pl.concat_str([pl.col(k).cast(pl.String) for k in dataset.key], separator=KEY_SEPARATOR))
    values = frame.write_ndjson().encode().splitlines()
    return [k.encode() for k in keys.to_series()], values


class KafkaPublisher:
    def __init__(self, config: dict, topic_partitions: int = KAFKA.topic_partitions,
                 replication_factor: int = KAFKA.replication_factor,
                 flush_timeout_s: float = KAFKA.flush_timeout_s) -> None:
        self.config = config
        self.topic_partitions = topic_partitions
        self.replication_factor = replication_factor
        self.flush_timeout_s = flush_timeout_s

    def ensure_topic(self, topic: str) -> None:
        admin = AdminClient(self.config)
        if topic in admin.list_topics(timeout=15).topics:
            return
        # compacted: messages are keyed by natural key, so a republished partition converges to one per key
        futures = admin.create_topics([NewTopic(topic, self.topic_partitions, self.replication_factor,
                                                config={"cleanup.policy": "compact"})])
        try:
            futures[topic].result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise

    def publish(self, dataset: Dataset, partition: str, batches: Iterable[pa.RecordBatch], run_id: str = "") -> int:
        """Publish all batches in one transaction; returns the number of messages committed, or raises
        KafkaDeliveryError (the transaction is aborted: nothing of it is committed)."""
        self.ensure_topic(dataset.topic)
        producer = Producer({**PRODUCER_DEFAULTS, **self.config, "transactional.id": transactional_id(dataset, partition)})
        headers = [("dataset", dataset.name.encode()), ("partition", partition.encode()), ("run_id", run_id.encode())]
        failures: list[str] = []
        sent = 0

        def on_delivery(err, _msg) -> None:
            if err is not None:
                failures.append(str(err))

        where = f"Kafka topic {dataset.topic}, partition {partition}"
        try:
            producer.init_transactions(self.flush_timeout_s)  # fences an older producer of the same partition
            producer.begin_transaction()
            for batch in batches:
                keys, values = encode_batch(dataset, batch)
                for key, value in zip(keys, values):
                    self._produce(producer, dataset.topic, key, value, headers, on_delivery)
                sent += len(values)
                producer.poll(0)
            producer.commit_transaction(self.flush_timeout_s)
        except KafkaException as exc:
            _abort(producer, self.flush_timeout_s)
            raise KafkaDeliveryError(f"{where}: the transaction of {sent} messages was not committed "
                                     f"({exc.args[0] if exc.args else exc}); brokers {self.config.get('bootstrap.servers')} "
                                     "(AVAX_KAFKA_BOOTSTRAP_SERVERS)") from None
        except BaseException:
            _abort(producer, self.flush_timeout_s)
            raise
        if failures:
            raise KafkaDeliveryError(f"{where}: {len(failures)} of {sent} messages failed (first error: {failures[0]})")
        return sent

    @staticmethod
    def _produce(producer: Producer, topic, key, value, headers, on_delivery) -> None:
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:  # local queue full: let deliveries drain, then retry
                producer.poll(0.2)


def transactional_id(dataset: Dataset, partition: str) -> str:
    """One transactional id per (dataset, partition): a second producer of the same partition fences the first."""
    return f"avax-assets.{dataset.name}.{partition}"


def _abort(producer: Producer, timeout_s: float) -> None:
    try:
        producer.abort_transaction(timeout_s)
    except KafkaException:
        log.warning("could not abort a Kafka transaction (the broker fences it on the next attempt)")
