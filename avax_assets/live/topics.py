"""The live path's topics, made by whichever of its services starts first.

The follower and the consumer each create every topic the live path uses before anything else (the
datasets' topics with the project's partitions and compaction, the manifest and request topics with one
partition each), so they start in any order, or at once, on a broker with no topics, whether the broker
creates topics on its own or not. No client of the project lets a metadata request create a topic
(core/kafka.py: `allow.auto.create.topics` is off), so a broker's default partition count never decides.

A one-partition topic that someone else made with more partitions is refused in one line naming the
command that makes it again: steps must be read in the order they were published.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from avax_assets.core.errors import SettingError, SinkUnavailable
from avax_assets.core.kafka import KafkaPublisher
from avax_assets.live.stream import LiveChain

RECREATE_COMMAND = "avax-assets live topics --recreate"


def ensure_live_topics(publisher: KafkaPublisher, live: LiveChain) -> None:
    """Every topic of a chain's live path exists with its partitions (SettingError when one made by someone
    else has more than one where the live path needs one; SinkUnavailable when the broker does not answer)."""
    try:
        for dataset in live.datasets:
            publisher.ensure_topic(dataset.topic)
        for topic in live.one_partition_topics:
            publisher.ensure_topic(topic, partitions=1)
        counts = partition_counts(publisher, live.one_partition_topics)
    except KafkaException as exc:
        raise SinkUnavailable(f"live: the live topics could not be listed or created ({exc}); brokers "
                              f"{publisher.servers}") from None
    for topic, count in counts.items():
        if count != 1:
            raise SettingError(f"live: the topic {topic} on {publisher.servers} has {count} partitions (made by "
                               "another client, or by the broker's default); the live path reads it in the order "
                               f"it was written, so it needs one: run `{RECREATE_COMMAND}` (its messages are "
                               "dropped), then start again")


def partition_counts(publisher: KafkaPublisher, topics: tuple[str, ...]) -> dict[str, int]:
    """The partitions of each of `topics` the broker has (those it does not have are left out)."""
    listed = AdminClient(publisher.config).list_topics(timeout=publisher.timeout_s).topics
    return {topic: len(listed[topic].partitions) for topic in topics if topic in listed}


def recreate_one_partition_topics(publisher: KafkaPublisher, live: LiveChain) -> list[str]:
    """A chain's one-partition topics that have more, deleted and made again with one; its live topics made
    where missing. Returns what it recreated, each with the partitions it had."""
    admin = AdminClient(publisher.config)
    wrong = {t: n for t, n in partition_counts(publisher, live.one_partition_topics).items() if n != 1}
    if wrong:
        for future in admin.delete_topics(list(wrong), operation_timeout=publisher.timeout_s).values():
            future.result(timeout=publisher.timeout_s)
        _wait_gone(publisher, tuple(wrong))
    ensure_live_topics(publisher, live)
    return [f"{topic} (had {count} partitions)" for topic, count in wrong.items()]


def _wait_gone(publisher: KafkaPublisher, topics: tuple[str, ...]) -> None:
    """A broker deletes a topic after it answers: it is made again only once it is gone."""
    deadline = time.monotonic() + publisher.timeout_s
    while partition_counts(publisher, topics):
        if time.monotonic() > deadline:
            raise SinkUnavailable(f"live: {', '.join(topics)} still listed {publisher.timeout_s:g} s after being "
                                  "deleted (AVAX_KAFKA_TIMEOUT_S); run the command again")
        time.sleep(0.2)
