"""Publish every record of a dataset partition to its Kafka topic.

Messages are JSON objects with the dataset's columns (uint256 as decimal strings, timestamps as Unix
seconds), keyed by the natural key, with headers naming dataset, partition and the Dagster run. A
partition is published in one transaction (transactional id per dataset and partition, acks=all), on
compacted topics; publishing fails, and the transaction is aborted, if any delivery fails or the broker
stays silent for longer than the timeout (connecting, delivering or committing).

librdkafka's own log lines go to the Python logger `avax_assets.kafka` (never straight to stderr), each
distinct line at most once a minute.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Optional

import msgspec
import polars as pl
import pyarrow as pa
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from avax_assets.core.config import PREFLIGHT_S, Brokers, Settings, setting
from avax_assets.core.errors import KafkaDeliveryError, SettingError, SinkUnavailable
from avax_assets.core.schema import Dataset

log = logging.getLogger(__name__)

KEY_SEPARATOR = ":"
SERVERS_SETTING = "AVAX_KAFKA_BOOTSTRAP_SERVERS"
PRODUCER_DEFAULTS = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    # the local queue bounds memory: at most 20,000 messages or 32 MiB wait for the broker
    "queue.buffering.max.messages": 20_000,
    "queue.buffering.max.kbytes": 32_768,
    "delivery.report.only.error": True,  # a callback per failed message only
}
_AUTH_ERRORS = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED,
                KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
                KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED}


class RepeatedLinesOnce(logging.Filter):
    """Lets a log line through once per `window_s`: a broker that is down makes librdkafka repeat the
    same line for every connection attempt. Lines differing only in numbers count as the same."""

    def __init__(self, window_s: float = 60.0, remembered: int = 1000) -> None:
        super().__init__()
        self.window_s, self.remembered = window_s, remembered
        self.last_shown: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        line = re.sub(r"\d+", "#", record.getMessage())
        now = time.monotonic()
        if now - self.last_shown.get(line, -self.window_s) < self.window_s:
            return False
        if len(self.last_shown) >= self.remembered:
            self.last_shown.clear()
        self.last_shown[line] = now
        return True


librdkafka_log = logging.getLogger("avax_assets.kafka")
librdkafka_log.addFilter(RepeatedLinesOnce())


ENCODE_ROWS = 8192  # rows encoded at a time: the encoding's copies stay small whatever the batch size


def sliced(batches: Iterable[pa.RecordBatch], rows: int) -> Iterable[pa.RecordBatch]:
    """The batches cut into slices of at most `rows` (zero-copy views)."""
    for batch in batches:
        for offset in range(0, batch.num_rows, rows):
            yield batch.slice(offset, rows)


def encode_batch(dataset: Dataset, batch: pa.RecordBatch) -> tuple[list[bytes], list[bytes]]:
    """(keys, values) for one batch, encoded column-wise by polars rather than row by row in Python."""
    frame = pl.from_arrow(dataset.stamped(batch))
    timestamps = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    frame = frame.with_columns([pl.col(c).dt.epoch("s") for c in timestamps])
    keys = frame.select(pl.concat_str([pl.col(k).cast(pl.String) for k in dataset.key], separator=KEY_SEPARATOR))
    values = frame.write_ndjson().encode().splitlines()
    return [k.encode() for k in keys.to_series()], values


class KafkaSecurityProtocol(str, Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(str, Enum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    OAUTHBEARER = "OAUTHBEARER"
    GSSAPI = "GSSAPI"


class KafkaSettings(Settings):
    """Any Kafka-protocol broker (Kafka, Redpanda, Tansu)."""

    bootstrap_servers: Brokers = setting("127.0.0.1:9092", "AVAX_KAFKA_BOOTSTRAP_SERVERS", "The brokers, "
                                         "host:port[,host:port…].")
    security_protocol: Optional[KafkaSecurityProtocol] = setting(None, "AVAX_KAFKA_SECURITY_PROTOCOL",
                                                                 "librdkafka's security.protocol; unset: PLAINTEXT.")
    sasl_mechanism: Optional[SaslMechanism] = setting(None, "AVAX_KAFKA_SASL_MECHANISM", "librdkafka's "
                                                      "sasl.mechanism, with SASL_* protocols.")
    sasl_username: Optional[str] = setting(None, "AVAX_KAFKA_SASL_USERNAME", "The SASL user.", secret=True)
    sasl_password: Optional[str] = setting(None, "AVAX_KAFKA_SASL_PASSWORD", "The SASL password.", secret=True)
    topic_partitions: int = setting(1, "AVAX_KAFKA_TOPIC_PARTITIONS", "Partitions of each topic the project "
                                    "creates.", gt=0, le=1000)
    replication_factor: int = setting(1, "AVAX_KAFKA_REPLICATION_FACTOR", "Replicas of each topic the project "
                                      "creates.", gt=0, le=10)
    timeout_s: float = setting(30.0, "AVAX_KAFKA_TIMEOUT_S", "Seconds the broker may stay silent: connecting, "
                               "any delivery, the commit.", gt=0, le=600)

    def client_config(self) -> dict:
        optional = {
            "security.protocol": self.security_protocol and KafkaSecurityProtocol(self.security_protocol).value,
            "sasl.mechanism": self.sasl_mechanism and SaslMechanism(self.sasl_mechanism).value,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
        }
        # no client of the project has a topic made by asking for its metadata: the broker's default partition
        # count would decide; the project makes its topics itself (`ensure_topic`), with their partitions
        return {"bootstrap.servers": self.bootstrap_servers, "allow.auto.create.topics": False,
                **{k: v for k, v in optional.items() if v}}

    def publisher(self) -> KafkaPublisher:
        return KafkaPublisher(self.client_config(), self.topic_partitions, self.replication_factor, self.timeout_s)


KAFKA = KafkaSettings()


class KafkaPublisher:
    def __init__(self, config: dict, topic_partitions: int = KAFKA.topic_partitions,
                 replication_factor: int = KAFKA.replication_factor, timeout_s: float = KAFKA.timeout_s) -> None:
        self.config = {**config, "logger": librdkafka_log}
        self.topic_partitions = topic_partitions
        self.replication_factor = replication_factor
        self.timeout_s = timeout_s

    @property
    def servers(self) -> str:
        return f"{self.config.get('bootstrap.servers')} ({SERVERS_SETTING})"

    def reach(self, timeout_s: float = PREFLIGHT_S) -> None:
        """The brokers answer a metadata request within `timeout_s`, or SinkUnavailable / SettingError."""
        servers = self.config["bootstrap.servers"].split(",")
        if not any(_accepts_connections(server, timeout_s / 2) for server in servers):
            raise SinkUnavailable(f"Kafka at {self.servers} refused every connection")
        try:
            AdminClient(self.config).list_topics(timeout=timeout_s)
        except KafkaException as exc:
            raise self._unreachable(exc, f"did not answer a metadata request within {timeout_s:g} s") from None

    def ensure_topic(self, topic: str, partitions: int | None = None) -> None:
        admin = AdminClient(self.config)
        if topic in admin.list_topics(timeout=self.timeout_s).topics:
            return
        # compacted: messages are keyed by natural key, so a republished partition converges to one per key
        futures = admin.create_topics([NewTopic(topic, partitions or self.topic_partitions, self.replication_factor,
                                                config={"cleanup.policy": "compact"})])
        try:
            futures[topic].result(timeout=self.timeout_s)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise

    def publish(self, dataset: Dataset, partition: str, batches: Iterable[pa.RecordBatch], run_id: str = "") -> int:
        """Publish all batches in one transaction; returns the number of messages committed, or raises
        KafkaDeliveryError (the transaction is aborted: nothing of it is committed)."""
        where = f"Kafka topic {dataset.topic}, partition {partition}"
        try:
            self.ensure_topic(dataset.topic)
        except KafkaException as exc:
            raise self._unreachable(exc, f"{where}: the topic could not be listed or created") from None
        headers = [("dataset", dataset.name.encode()), ("partition", partition.encode()), ("run_id", run_id.encode())]
        producer = TransactionalProducer(self, transactional_id(dataset, partition))
        try:
            return producer.transaction(lambda: producer.produce(dataset, batches, headers), where)
        finally:
            # Closed, not left to the garbage collector: a failed producer kept alive by a traceback would go
            # on retrying its transactional requests against a later producer of the same transactional id.
            producer.close()

    def stream(self, transactional: str) -> StreamPublisher:
        return StreamPublisher(self, transactional)

    def _producer_config(self, transactional: str) -> dict:
        timeout_ms = int(self.timeout_s * 1000)
        return {**PRODUCER_DEFAULTS, **self.config, "transactional.id": transactional,
                "message.timeout.ms": timeout_ms,  # a message the broker never acknowledges fails after this
                "transaction.timeout.ms": max(timeout_ms, 60_000),  # must not be shorter than message.timeout.ms
                "socket.timeout.ms": max(timeout_ms, 10_000)}

    def _unreachable(self, exc: KafkaException, what: str) -> Exception:
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if error is not None and error.code() in _AUTH_ERRORS:
            return SettingError(f"Kafka at {self.servers} refused the client: {error.str()}; check "
                                "AVAX_KAFKA_SECURITY_PROTOCOL, AVAX_KAFKA_SASL_MECHANISM, AVAX_KAFKA_SASL_USERNAME "
                                "and AVAX_KAFKA_SASL_PASSWORD")
        return SinkUnavailable(f"Kafka at {self.servers} {what} ({_reason(exc)})")


class TransactionalProducer:
    """A producer of one transactional id, and the one way the project writes to Kafka: `transaction(work)`,
    whose messages are committed all together or not at all. Its first transaction fences any earlier producer
    of the same id (a restarted run or follower aborts what its predecessor left open); a fatal error (fenced,
    or otherwise unusable) makes a new producer for the next transaction."""

    def __init__(self, publisher: KafkaPublisher, transactional: str) -> None:
        self.publisher, self.transactional = publisher, transactional
        self.failures: list[str] = []  # delivery failures of the current transaction
        self.sent = 0  # messages handed to the producer in the current transaction
        self._producer: Producer | None = None

    def transaction(self, work: Callable[[], object], where: str) -> int:
        """`work` (producing with `produce`/`produce_one`) inside one transaction, committed once every message
        is acknowledged; returns the messages sent, or raises KafkaDeliveryError (the transaction aborted)."""
        timeout_s, servers = self.publisher.timeout_s, self.publisher.servers
        self.failures.clear()
        self.sent = 0
        started = self._producer is not None
        try:
            if not started:
                self._producer = self._new()
                try:
                    self._producer.init_transactions(timeout_s)
                except KafkaException:
                    self.close()  # never initialized: the next transaction starts with a new producer
                    raise
            self._producer.begin_transaction()
            work()
            self.confirm(where)
            self._producer.commit_transaction(timeout_s)
            return self.sent
        except KafkaException as exc:
            self._abort()
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if error is not None and error.fatal():
                self.close()
            raise KafkaDeliveryError(f"{where}: the transaction of {self.sent} messages was not committed "
                                     f"({_reason(exc)}); brokers {servers}, timeout {timeout_s:g} s "
                                     "(AVAX_KAFKA_TIMEOUT_S)") from None
        except BaseException:
            self._abort()
            raise

    def confirm(self, where: str) -> None:
        """Wait until every message so far is acknowledged; KafkaDeliveryError if one was not."""
        timeout_s = self.publisher.timeout_s
        if self._producer.flush(timeout_s) or self.failures:
            first = f", first: {self.failures[0]}" if self.failures else ""
            raise KafkaDeliveryError(f"{where}: {len(self.failures) or 'some'} of {self.sent} messages were not "
                                     f"delivered within {timeout_s:g} s (AVAX_KAFKA_TIMEOUT_S){first}; the "
                                     f"transaction was aborted; brokers {self.publisher.servers}")

    def produce(self, dataset: Dataset, batches: Iterable[pa.RecordBatch], headers) -> int:
        """Every row of `batches` on the dataset's topic, keyed by its natural key; stops early once a delivery
        failed."""
        sent, topic = 0, dataset.topic
        for batch in sliced(batches, ENCODE_ROWS):
            keys, values = encode_batch(dataset, batch)
            for key, value in zip(keys, values, strict=True):
                self.produce_one(topic, key, value, headers)
            sent += len(values)
            self._producer.poll(0)
            if self.failures:
                break
        return sent

    def produce_one(self, topic: str, key: bytes, value: bytes, headers) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers)
                self.sent += 1
                return
            except BufferError:  # the local queue is full: wait for deliveries (or their failures), then again
                if self.failures:
                    return
                self._producer.poll(0.2)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.purge()
            self._producer.close()
            self._producer = None

    def _new(self) -> Producer:
        return Producer({**self.publisher._producer_config(self.transactional),
                         "on_delivery": lambda err, _msg: err is None or self.failures.append(str(err))})

    def _abort(self) -> None:
        if self._producer is not None:
            _abort(self._producer, self.publisher.timeout_s)


class StreamPublisher:
    """One transactional producer kept for a stream of transactions (the live follower: a transaction per
    step of blocks, several topics in each)."""

    def __init__(self, publisher: KafkaPublisher, transactional: str) -> None:
        self.publisher = publisher
        self.producer = TransactionalProducer(publisher, transactional)
        self.topics_ready = False

    def publish(self, parts: list[tuple[Dataset, pa.RecordBatch]], headers: list, closing: tuple[str, bytes, bytes],
                where: str) -> int:
        """Every part's rows, then the `closing` message (topic, key, value) once they are all acknowledged,
        in one transaction; returns the rows sent, or raises KafkaDeliveryError (the transaction aborted)."""
        if not self.topics_ready:
            for dataset, _ in parts:
                self.publisher.ensure_topic(dataset.topic)
            self.publisher.ensure_topic(closing[0], partitions=1)  # closing messages read in their order
            self.topics_ready = True
        rows = []

        def work() -> None:
            rows.append(sum(self.producer.produce(dataset, [batch], headers) for dataset, batch in parts))
            # the closing message only once the rows are acknowledged: on Kafka the commit alone makes the step
            # whole, but a broker that hands out records of unfinished transactions (Tansu) must not show a
            # closing message before its rows
            self.producer.confirm(where)
            self.producer.produce_one(closing[0], closing[1], closing[2], headers)

        self.producer.transaction(work, where)
        return rows[0]

    def close(self) -> None:
        self.producer.close()


def decode_values(dataset: Dataset, values: list[bytes]) -> pa.RecordBatch:
    """Messages' values (encode_batch's JSON) back into a batch of the dataset's schema, exactly: uint256
    stays a decimal string, timestamps come back from Unix seconds."""
    schema = dataset.arrow_schema
    wire = pa.schema([pa.field(f.name, pa.int64(), f.nullable) if pa.types.is_timestamp(f.type) else f
                      for f in schema])
    rows = [msgspec.json.decode(value) for value in values]
    return pa.RecordBatch.from_pylist(rows, schema=wire).cast(schema)


def transactional_id(dataset: Dataset, partition: str) -> str:
    """One transactional id per (dataset, partition): a second producer of the same partition fences the first."""
    return f"avax-assets.{dataset.qualified_name}.{partition}"


def _accepts_connections(server: str, timeout_s: float) -> bool:
    """A TCP connection to host:port opens (a broker that is down refuses at once, where a metadata
    request would wait out its whole timeout)."""
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else exc
    return error.str() if isinstance(error, KafkaError) else str(error)


def _abort(producer: Producer, timeout_s: float) -> None:
    try:  # best effort, briefly: an unfinished transaction is fenced by the next attempt or expires
        producer.abort_transaction(min(timeout_s, 5.0))
    except KafkaException:
        log.warning("could not abort a Kafka transaction (the broker fences it on the next attempt)")
