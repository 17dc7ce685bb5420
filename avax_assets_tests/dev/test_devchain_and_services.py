"""The devchain is deterministic, and the local services start idempotently and stop cleanly."""

import socket
import uuid

import pytest

from avax_assets_dev.devchain.generator import ChainNotFresh, DevchainSpec, generate
from avax_assets_dev.local.services import Anvil, ServiceError, _port_open

SMALL = DevchainSpec(seed=5, days=1, blocks_per_day=6, max_txs_per_block=4, reverts_per_day=1)


@pytest.fixture
def anvil(tmp_path):
    node = Anvil("anvil", 18546, tmp_path)
    yield node
    node.stop()


def test_start_is_idempotent_and_stop_is_clean(anvil):
    anvil.start()
    pid = anvil.pid()
    assert pid and anvil.is_ready() and anvil.pid_file.read_text() == str(pid)
    anvil.start()
    assert anvil.pid() == pid
    anvil.stop()
    assert anvil.pid() is None and not anvil.pid_file.exists() and not _port_open(anvil.port)


def test_a_port_taken_by_another_process_is_refused(anvil):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", anvil.port))
        squatter.listen()
        with pytest.raises(ServiceError, match="taken by a process this project did not start"):
            anvil.start()


def test_same_seed_same_chain(anvil):
    anvil.start()
    first = generate(anvil.url, SMALL)
    with pytest.raises(ChainNotFresh):
        generate(anvil.url, SMALL)
    anvil.stop()
    anvil.start()
    second = generate(anvil.url, SMALL)
    assert first.latest_block_hash == second.latest_block_hash
    assert first.blocks_by_day == second.blocks_by_day
    assert first.transactions == second.transactions and first.reverted == second.reverted == 1
    assert set(first.blocks_by_day) == {"2024-06-01", "2024-06-02"}  # the day, and the block closing it


def test_the_local_broker_keeps_its_topics_across_a_restart(stack):
    """Tansu stores its log in the stack's S3 server: a restarted broker serves what it held before."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    bootstrap = {"bootstrap.servers": f"127.0.0.1:{stack.kafka.port}"}
    topic = f"restart-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producer = Producer(bootstrap)
    for i in range(100):
        producer.produce(topic, key=str(i).encode(), value=b"kept")
    assert producer.flush(30) == 0
    stack.kafka.stop()
    stack.kafka.start()
    consumer = Consumer({**bootstrap, "group.id": topic, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        read = []
        while batch := consumer.consume(num_messages=1000, timeout=3):
            read += [m.key() for m in batch if m.error() is None]
    finally:
        consumer.close()
    assert sorted(read) == sorted(str(i).encode() for i in range(100))
