"""Re-requests: a step the broker lost rows of, asked again by the consumer and published again by the follower.

A manifest is committed in the same transaction as its rows, so a consumer that sees a manifest but not all
of its rows for a while (AVAX_LIVE_REREQUEST_S, while it is not draining a backlog) holds a step the broker
lost records of, or compacted away under the daily batch's messages of the same keys. It asks for the step's
blocks on the request topic (one partition, read_committed), again every AVAX_LIVE_REREQUEST_S until the
step loads; the follower reads the topic from where it starts and publishes each asked step again from the
node (accepted blocks are final: the same rows). Loads stay in block order, so later steps wait for it.
"""

from __future__ import annotations

import time
import uuid

import msgspec
from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from avax_assets.core.errors import SinkUnavailable
from avax_assets.core.kafka import KafkaPublisher, TransactionalProducer
from avax_assets.live.stream import ORIGIN


class Rerequest(msgspec.Struct):
    first_block: int
    last_block: int
    reason: str
    asked_at: float  # wall clock, Unix seconds

    @property
    def blocks(self) -> range:
        return range(self.first_block, self.last_block + 1)


class Asker:
    """The consumer's side: one transaction per request."""

    def __init__(self, publisher: KafkaPublisher, group_id: str, topic: str) -> None:
        self.publisher, self.topic = publisher, topic
        self.producer = TransactionalProducer(publisher, f"avax-assets.live-requests.{group_id}")
        self.topic_ready = False

    def ask(self, blocks: range, reason: str) -> None:
        """Raises KafkaDeliveryError or SinkUnavailable when the broker does not take it."""
        if not self.topic_ready:
            _ensure_topic(self.publisher, self.topic)
            self.topic_ready = True
        request = Rerequest(blocks.start, blocks.stop - 1, reason, time.time())
        key = f"{request.first_block}-{request.last_block}".encode()
        self.producer.transaction(
            lambda: self.producer.produce_one(self.topic, key, msgspec.json.encode(request), [ORIGIN]),
            f"live re-request of blocks {request.first_block}..{request.last_block}")

    def close(self) -> None:
        self.producer.close()


class Requests:
    """The follower's side: the requests made since it started reading (an earlier one is asked again)."""

    def __init__(self, publisher: KafkaPublisher, topic: str) -> None:
        self.publisher, self.topic = publisher, topic
        self.consumer: Consumer | None = None

    def taken(self) -> list[Rerequest]:
        """The requests arrived since the last call, without waiting; SinkUnavailable when Kafka does not answer."""
        try:
            if self.consumer is None:
                _ensure_topic(self.publisher, self.topic)
                self.consumer = Consumer({**self.publisher.config, "isolation.level": "read_committed",
                                          "group.id": f"avax-assets-live-requests-{uuid.uuid4().hex[:8]}",
                                          "enable.auto.commit": False})
                self.consumer.assign([TopicPartition(self.topic, 0, OFFSET_END)])
            messages = self.consumer.consume(100, 0)
        except KafkaException as exc:
            raise SinkUnavailable(f"live follower: the topic {self.topic} cannot be read ({exc})") from None
        return [decode_request(m.value()) for m in messages
                if not m.error() and dict(m.headers() or []).get(ORIGIN[0]) == ORIGIN[1]]

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None


def _ensure_topic(publisher: KafkaPublisher, topic: str) -> None:
    try:
        publisher.ensure_topic(topic, partitions=1)
    except KafkaException as exc:
        raise SinkUnavailable(f"live: the topic {topic} could not be listed or created ({exc}); brokers "
                              f"{publisher.servers}") from None


decode_request = msgspec.json.Decoder(Rerequest).decode
