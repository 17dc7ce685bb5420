"""The devchain is deterministic, and the local services start idempotently and stop cleanly."""

import os
import socket
import subprocess
import sys
import uuid

import pytest

from avax_assets_dev.devchain.generator import ChainNotFresh, DevchainSpec, generate
from avax_assets_dev.local.services import Anvil, ServiceError, _port_open, port_listener_in_session
from avax_assets_tests.conftest import service_port

SMALL = DevchainSpec(seed=5, days=1, blocks_per_day=6, max_txs_per_block=4, reverts_per_day=1)


@pytest.fixture
def anvil(tmp_path):
    node = Anvil("anvil", service_port(18546), tmp_path)
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


def test_a_port_taken_by_another_process_is_refused_in_one_line_naming_the_flag(anvil, tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", anvil.port))
        squatter.listen()
        with pytest.raises(ServiceError, match="--anvil-port N .or AVAX_LOCAL_ANVIL_PORT=N"):
            anvil.start()
        assert "stopped, port in use by another program" in anvil.status()
        # the command line: the first service to start (S3) finds its port taken
        done = subprocess.run([sys.executable, "-m", "avax_assets_dev.local.services", "up", "--home", str(tmp_path),
                               "--s3-port", str(anvil.port)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "s3: port" in done.stderr and "--s3-port" in done.stderr and "Traceback" not in done.stderr


def test_status_knows_whether_the_services_own_process_holds_the_port(anvil):
    anvil.start()
    assert port_listener_in_session(anvil.port, anvil.pid()) and "ready" in anvil.status()
    assert not port_listener_in_session(anvil.port, os.getsid(0))  # the test's session does not hold it
    real = anvil.pid()
    try:  # a PID file pointing at a live process (this one) that does not hold the port
        anvil.pid_file.write_text(str(os.getpid()))
        assert "running, port held by another program" in anvil.status()
    finally:
        anvil.pid_file.write_text(str(real))  # so the fixture stops anvil, not this process


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
