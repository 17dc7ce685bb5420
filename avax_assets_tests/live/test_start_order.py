"""The live path starts in any order on a broker with no topics: the consumer first, the follower first or
both at once, each as a service of its own (as `services.sh up --with-live` runs them), each scenario on a
fresh broker (Tansu on a new bucket). Tansu makes a topic a client asks about when the client allows it, as
a broker with auto-creation on does; no client of the project allows it, so the same holds with it off.
A manifest topic someone else made with the broker's default partitions is refused in one line naming the
command that makes it again."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from avax_assets.catalogue import build_resources
from avax_assets.core.errors import SettingError
from avax_assets.live import services as live_services
from avax_assets.live.follower import last_manifest
from avax_assets.live.stream import LIVE_DATASETS, LiveChain
from avax_assets.live.topics import RECREATE_COMMAND
from avax_assets_dev.local.services import Kafka, LiveService
from avax_assets_tests.conftest import REPO, TEST_HOME, service_port
from avax_assets_tests.live.test_live import bench, tails, wait_for, wait_until_loaded  # noqa: F401 - the fixture

HOME = TEST_HOME / "live-order"
C_CHAIN = LiveChain(43114)
MANIFEST_TOPIC, ONE_PARTITION = C_CHAIN.manifest_topic, C_CHAIN.one_partition_topics


@pytest.fixture
def fresh(bench, stack, tmp_path):  # noqa: F811 - the bench fixture, imported
    """The bench's chain through a broker with no topics into a ClickHouse of its own (mine with `bench`)."""
    kafka = Kafka("kafka-fresh", service_port(19193), HOME, stack.s3, bucket=f"tansu-fresh-{uuid.uuid4().hex[:8]}")
    kafka.stop()
    kafka.start()
    other = copy.copy(bench)
    other.kafka = kafka
    other.env = {**bench.env, "AVAX_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka.port}",
                 "AVAX_CLICKHOUSE_CHDB_PATH": str(tmp_path / "chdb"), "AVAX_HOME": str(HOME),
                 "AVAX_LIVE_GROUP_ID": f"order-{uuid.uuid4().hex[:6]}"}
    other.resources = {**build_resources(other.env), "rpc": bench.resources["rpc"]}
    yield other
    kafka.stop()


def topics_of(fresh) -> dict[str, int]:
    listed = AdminClient({"bootstrap.servers": fresh.env["AVAX_KAFKA_BOOTSTRAP_SERVERS"]}).list_topics(timeout=10)
    return {name: len(topic.partitions) for name, topic in listed.topics.items()}


def live_topics() -> set[str]:
    return {d.topic for d in LIVE_DATASETS} | set(ONE_PARTITION)


def services(fresh) -> tuple[LiveService, LiveService]:
    made = [LiveService(name, HOME, service, lambda: fresh.env) for name, service in
            (("consumer-fresh", "consume"), ("follower-fresh", "follow"))]
    for service in made:
        service.log_file.unlink(missing_ok=True)
    return made[0], made[1]


def loads_the_chain(bench, fresh, *running: LiveService) -> None:  # noqa: F811
    bench.mine(5)
    assert wait_until_loaded(fresh, bench.head, lambda: all(s.pid() for s in running)), tails(*running)
    fresh.assert_equal_to_node()
    assert "Traceback" not in "".join(s.log_file.read_text() for s in running)


def test_the_consumer_started_first_on_a_fresh_broker_makes_the_topics_and_loads_the_blocks(bench, fresh):  # noqa: F811
    assert topics_of(fresh) == {}
    consumer, follower = services(fresh)
    try:
        consumer.start()
        assert wait_for(lambda: live_topics() <= set(topics_of(fresh)), consumer.pid), tails(consumer)
        assert {topic: topics_of(fresh)[topic] for topic in ONE_PARTITION} == dict.fromkeys(ONE_PARTITION, 1)
        follower.start()
        loads_the_chain(bench, fresh, consumer, follower)
    finally:
        follower.stop()
        consumer.stop()


def test_the_follower_first_or_both_at_once_on_a_fresh_broker_load_the_blocks(bench, fresh):  # noqa: F811
    consumer, follower = services(fresh)
    try:
        starting = [threading.Thread(target=s.start) for s in (follower, consumer)]
        for thread in starting:  # at once: neither waits for the other
            thread.start()
        for thread in starting:
            thread.join()
        loads_the_chain(bench, fresh, consumer, follower)
        assert all(topics_of(fresh)[topic] == 1 for topic in ONE_PARTITION)
    finally:
        follower.stop()
        consumer.stop()


def test_a_manifest_topic_made_with_the_broker_default_is_refused_naming_the_command_that_fixes_it(fresh):
    config = fresh.resources["kafka"].client_config()
    # the project's own metadata requests never make a topic, whatever the broker does by default
    assert last_manifest(config, 10, MANIFEST_TOPIC) is None
    AdminClient(config).list_topics(MANIFEST_TOPIC, timeout=10)
    assert topics_of(fresh) == {}
    AdminClient({"bootstrap.servers": config["bootstrap.servers"]}).list_topics(MANIFEST_TOPIC, timeout=10)
    made_by_default = topics_of(fresh)[MANIFEST_TOPIC]
    assert made_by_default > 1  # a client that lets the broker make it: Tansu's default
    refusal = f"the topic {MANIFEST_TOPIC} .* has {made_by_default} partitions.*run `{RECREATE_COMMAND}`"
    with pytest.raises(SettingError, match=refusal):
        live_services.started(fresh.resources)
    with pytest.raises(SettingError, match=refusal):
        live_services.follow(fresh.resources, threading.Event())
    fixed = subprocess.run([sys.executable, "-m", "avax_assets.cli", *RECREATE_COMMAND.split()[1:]], cwd=REPO,
                           env={**os.environ, **fresh.env, "PYTHONWARNINGS": "ignore"}, capture_output=True,
                           text=True, timeout=300)
    assert fixed.returncode == 0, fixed.stderr
    assert f"{MANIFEST_TOPIC} (had {made_by_default} partitions)" in fixed.stdout
    assert all(topics_of(fresh)[topic] == 1 for topic in ONE_PARTITION)
    live_services.started(fresh.resources).close()  # starts now
