"""The live path on the real local services: a fresh anvil mining realistic blocks, a Kafka broker of
its own (Tansu on S3), the follower and consumer in this process or as services, and an embedded
ClickHouse of its own. Each scenario ends with ClickHouse equal to the node, every key once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
import uuid

import dagster as dg
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.live import sensor as live_sensor
from avax_assets.live import services as live_services
from avax_assets.core.clickhouse import LOADS_TABLE
from avax_assets.live.follower import Follower, last_published_block, websocket_twin
from avax_assets.live.stream import LIVE_DATASETS, LiveChain
from avax_assets.catalogue import build_resources
from avax_assets.chain.resources import ChainRpcResource
from avax_assets_dev.devchain.generator import LiveMiner
from avax_assets_dev.local.services import Anvil, Kafka, LiveService
from avax_assets_dev.reconcile import dataset_counts
from avax_assets_tests.conftest import TEST_HOME, service_port

DAY = dt.date(2024, 7, 1)
DAY_START = int(dt.datetime(2024, 7, 1, tzinfo=dt.timezone.utc).timestamp())
C_CHAIN = LiveChain(43114)  # the bench's chain
WAIT_S = 120  # the most any scenario waits for the live path to catch up (a bound, not a timing)


class LiveBench:
    def __init__(self, stack, tmp_path_factory) -> None:
        home = TEST_HOME / "live"
        self.anvil = Anvil("anvil-live", service_port(18645), home)
        self.anvil.stop()  # a fresh chain
        self.anvil.start()
        self.kafka = Kafka("kafka-live", service_port(19192), home, stack.s3,
                           bucket=f"tansu-live-{uuid.uuid4().hex[:8]}")
        self.kafka.start()
        self.rpc = JsonRpcClient(RpcSettings(url=self.anvil.url, batch_size=100))
        self.miner = LiveMiner(self.rpc, seed=3, start=DAY_START)
        bucket = f"avax-live-{uuid.uuid4().hex[:8]}"
        stack.s3.ensure_bucket(bucket)
        self.env = {**stack.environment(bucket=bucket), "AVAX_RPC_URL": self.anvil.url,
                    "AVAX_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka.port}",
                    "AVAX_CLICKHOUSE_CHDB_PATH": str(tmp_path_factory.mktemp("live-chdb")),
                    "AVAX_LIVE_STEP_BLOCKS": "5", "AVAX_LIVE_START_BLOCK": "0", "AVAX_LIVE_SESSION_TIMEOUT_S": "6",
                    "AVAX_LIVE_POLL_S": "0.2", "AVAX_CHAIN_START_DATE": DAY.isoformat(),
                    "AVAX_LIVE_REREQUEST_S": "2",
                    "AVAX_HOME": str(home), "AVAX_RPC_CHUNK_BLOCKS": "7",
                    "AVAX_KAFKA_TOPIC_PARTITIONS": "3"}  # rows of a step spread over partitions
        self.resources = {**build_resources(self.env), "rpc": ChainRpcResource(url=self.anvil.url, chunk_blocks=7)}
        self.clock = DAY_START + 20

    def mine(self, blocks: int, day: dt.date = DAY) -> int:
        start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
        for _ in range(blocks):
            self.clock = max(self.clock + 3, start + 20)
            head = self.miner.block(timestamp=self.clock)
        return head

    @property
    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber", []), 16)

    def follow(self) -> None:
        live_services.follow(self.resources, threading.Event(), until_block=self.head)

    def consume(self, live=None, started: bool = False):
        """Run a consumer until it has loaded the head (or stopped making progress); return it, closed."""
        live = live or live_services.consumer(self.resources)
        if not started:
            live.start()
        target, deadline, quiet = self.head, time.monotonic() + WAIT_S, 0
        try:
            while time.monotonic() < deadline and quiet < 3:  # caught up, and three polls found nothing more
                live.step()
                caught_up = min(live.checkpoints.values()) >= target and not live.manifests
                quiet = quiet + 1 if caught_up and live.kafka.assignment() and not live.polled else 0
        finally:
            live.close()
        assert quiet >= 3, f"the consumer did not catch up in {WAIT_S} s: checkpoints {live.checkpoints}"
        return live

    def warehouse(self):
        return self.resources["clickhouse"].warehouse()

    def assert_equal_to_node(self) -> None:
        warehouse = self.warehouse()
        with warehouse.session():
            counts = dataset_counts(warehouse, self.rpc, 0, self.head, {d.table for d in LIVE_DATASETS})
            assert counts.ok, counts
            for dataset in LIVE_DATASETS:
                key = ", ".join(dataset.key)
                rows, keys = warehouse.client.query(
                    f"SELECT count(), uniqExact({key}) FROM {warehouse.qualified(dataset.table)}").result_rows[0]
                assert rows == keys, f"{dataset.name}: {rows - keys} duplicate rows"
                live = warehouse.client.query(
                    f"SELECT sum(rows) FROM {warehouse.qualified(LOADS_TABLE)} WHERE dataset = {{d:String}}",
                    parameters={"d": dataset.qualified_name}).result_rows[0][0]
                assert live <= rows, f"{dataset.name}: the live path inserted {live - rows} rows twice (since merged)"
            hashes = [r[0] for r in warehouse.client.query(
                f"SELECT block_hash FROM {warehouse.qualified('blocks')} ORDER BY block_number").result_rows]
        node = [self.rpc.call("eth_getBlockByNumber", [hex(n), False])["hash"] for n in range(self.head + 1)]
        assert hashes == node

    def table_rows(self, day: dt.date) -> dict[str, list]:
        warehouse = self.warehouse()
        with warehouse.session():
            return {d.name: warehouse.client.query(
                f"SELECT * FROM {warehouse.qualified(d.table)} WHERE toDate({d.partition_column}) = {{day:Date}} "
                f"ORDER BY {', '.join(d.key)}", parameters={"day": day}).result_rows for d in LIVE_DATASETS}

    def close(self) -> None:
        self.rpc.close()
        self.kafka.stop()
        self.anvil.stop()


@pytest.fixture(scope="module")
def bench(stack, pipeline_env, tmp_path_factory):
    bench = LiveBench(stack, tmp_path_factory)
    yield bench
    bench.close()


def test_new_blocks_reach_clickhouse_through_kafka_in_steps(bench):
    bench.mine(12)
    bench.follow()
    assert last_published_block({"bootstrap.servers": bench.env["AVAX_KAFKA_BOOTSTRAP_SERVERS"]}, 10,
                                C_CHAIN.manifest_topic) == bench.head
    live = bench.consume()
    assert live.progress.steps == -(-(bench.head + 1) // 5)  # blocks 0..head in Kafka transactions of 5 blocks
    assert live.progress.loaded_rows > 0 and live.progress.gaps == []
    bench.assert_equal_to_node()


def test_a_step_delivered_twice_leaves_every_key_once(bench):
    settings = bench.resources["live"].settings()
    stream = bench.resources["kafka"].publisher().stream("avax-assets.live.test-twice")
    try:
        follower = Follower(ChainReader(bench.rpc), stream, {}, settings, C_CHAIN)
        follower.publish_step(range(2, 7), bench.head)  # loaded already: below the checkpoints
        head = bench.mine(6)
        bench.follow()
        follower.publish_step(range(head - 4, head - 1), head)  # inside steps the consumer has not read yet
    finally:
        stream.close()
    live = bench.consume()
    assert live.progress.duplicates > 0 and live.progress.loaded_rows > 0
    assert not live.manifests and not any(live.pending.values())
    bench.assert_equal_to_node()


def test_a_crash_between_the_rows_and_their_record_loads_nothing_twice(bench):
    bench.mine(4)
    bench.follow()
    live = live_services.consumer(bench.resources)
    real_insert = live.warehouse.client.insert_arrow

    def crash_on_the_record(table, *args, **kwargs):
        if table.endswith(LOADS_TABLE):
            raise KeyboardInterrupt("killed between the rows and their record")
        return real_insert(table, *args, **kwargs)

    live.warehouse.client.insert_arrow = crash_on_the_record
    with pytest.raises(KeyboardInterrupt):
        bench.consume(live)
    restarted = bench.consume()  # its checkpoint comes from the tables themselves
    assert restarted.progress.loaded_rows == 0
    bench.assert_equal_to_node()


def test_the_consumer_killed_and_restarted_while_blocks_arrive(bench):
    consumer = LiveService("consumer-live", TEST_HOME / "live", "consume", lambda: bench.env)
    stop = threading.Event()
    follower = threading.Thread(target=live_services.follow, args=(bench.resources, stop))
    follower.start()
    try:
        for _ in range(3):
            consumer.start()
            bench.mine(4)
            time.sleep(1.5)  # somewhere in a micro-batch, or between two
            os.kill(consumer.pid(), signal.SIGKILL)
            consumer.stop()
        bench.mine(3)
        consumer.start()
        head, deadline = bench.head, time.monotonic() + WAIT_S
        while time.monotonic() < deadline and loaded_block(bench) < head:
            time.sleep(1)
    finally:
        consumer.stop()
        stop.set()
        follower.join()
    bench.assert_equal_to_node()


def test_the_broker_restarted_three_times_under_the_follower_and_the_consumer(bench):
    """Both as services; twice the consumer is frozen past its session across the restart, so it comes back
    as a member the broker no longer knows (its commit fails with UNKNOWN_MEMBER_ID)."""
    follower, consumer = live_service(bench, "follower-live", "follow"), live_service(bench, "consumer-live", "consume")
    running = lambda: bool(follower.pid() and consumer.pid())  # noqa: E731
    try:
        follower.start()
        consumer.start()
        for frozen in (False, True, True):
            assert running(), tails(follower, consumer)
            bench.mine(4)
            time.sleep(1.5)  # somewhere in a step, or between two
            if frozen:
                os.kill(consumer.pid(), signal.SIGSTOP)
            bench.kafka.stop()
            bench.mine(3)  # the follower's steps fail, and are tried again
            bench.kafka.start()
            if frozen:
                time.sleep(SESSION_S + 4)  # the group forgets the frozen member
                os.kill(consumer.pid(), signal.SIGCONT)
            bench.mine(2)
        assert wait_until_loaded(bench, bench.head, running), "the live path stopped: " + tails(follower, consumer)
    finally:
        consumer.stop()
        follower.stop()
    assert "Traceback" not in consumer.log_file.read_text() + follower.log_file.read_text()
    bench.assert_equal_to_node()


def test_a_step_whose_rows_the_broker_lost_is_asked_again_and_loaded(bench):
    bench.follow()
    bench.consume()
    lost = range(bench.head + 1, bench.mine(5) + 1)
    manifest = publish_without_rows(bench, lost)
    bench.mine(6)
    stop = threading.Event()
    follower = threading.Thread(target=live_services.follow, args=(bench.resources, stop))
    follower.start()  # it resumes after the step, and publishes it again when asked
    try:
        live = bench.consume()
    finally:
        stop.set()
        follower.join()
    assert set(live.progress.rerequests) == {manifest.key.decode()}
    assert live.progress.gaps == []
    bench.assert_equal_to_node()


def test_two_consumers_of_one_group_load_every_step_and_one_takes_over(bench):
    consumers = [live_service(bench, f"consumer-live-{n}", "consume") for n in (1, 2)]
    stop = threading.Event()
    follower = threading.Thread(target=live_services.follow, args=(bench.resources, stop))
    follower.start()
    try:
        for consumer in consumers:
            consumer.start()
        assert wait_for(lambda: any(STANDING_BY in c.log_file.read_text() for c in consumers)), tails(*consumers)
        bench.mine(6)
        assert wait_until_loaded(bench, bench.head), tails(*consumers)
        loader = next(c for c in consumers if last_role(c) == LOADING)
        standby = next(c for c in consumers if c is not loader)
        assert last_role(standby) == STANDING_BY
        os.kill(loader.pid(), signal.SIGKILL)  # the group evicts it after its session
        loader.stop()
        bench.mine(6)
        assert wait_until_loaded(bench, bench.head), tails(standby)
        assert last_role(standby) == LOADING
    finally:
        for consumer in consumers:
            consumer.stop()
        stop.set()
        follower.join()
    bench.assert_equal_to_node()


def test_the_follower_down_for_n_blocks_catches_up_in_steps(bench):
    before = published(bench)
    bench.mine(17)  # nobody follows
    assert published(bench) == before
    bench.follow()
    assert published(bench) == bench.head
    bench.consume()
    bench.assert_equal_to_node()


def test_the_daily_batch_over_a_live_loaded_day_ends_with_identical_rows(bench):
    bench.mine(1, day=DAY + dt.timedelta(days=1))  # the day is closed
    bench.follow()
    bench.consume()
    live_rows = bench.table_rows(DAY)
    assert all(live_rows[d.name] for d in LIVE_DATASETS[:4])
    assets = Catalogue().scope("chain")
    names = {d.name for d in LIVE_DATASETS}
    selection = [key for a in assets for key in a.keys if key.path[-1].removeprefix("clickhouse_") in names]
    result = dg.materialize(assets, selection=selection, partition_key=DAY.isoformat(), resources=bench.resources,
                            raise_on_error=False)
    assert result.success
    checks = [c for c in result.get_asset_check_evaluations()]
    assert checks and all(c.passed for c in checks)
    assert bench.table_rows(DAY) == live_rows
    again = bench.consume()  # the batch's own messages on the same topics are not the live path's
    assert again.progress.skipped_batch_messages > 0 and again.progress.loaded_rows == 0
    assert bench.table_rows(DAY) == live_rows
    bench.assert_equal_to_node()


def test_the_sensor_shows_the_live_path_in_dagster(bench):
    bench.mine(2, day=DAY + dt.timedelta(days=1))
    bench.follow()
    bench.consume()
    with dg.build_sensor_context(resources=bench.resources) as context:
        result = live_sensor.live_sensor(bench.resources["rpc"].settings())(context)
    observed = {e.asset_key.path[-1]: e.metadata for e in result.asset_events}
    assert set(observed) == {f"clickhouse_{d.name}" for d in LIVE_DATASETS}
    blocks = observed["clickhouse_blocks"]
    assert blocks["live/last_block"].value == bench.head and blocks["live/lag_blocks"].value == 0


def test_a_newheads_subscription_wakes_the_follower(bench):
    assert websocket_twin("https://api.avax.network/ext/bc/C/rpc") == "wss://api.avax.network/ext/bc/C/ws"
    stream = bench.resources["kafka"].publisher().stream("avax-assets.live.test-heads")
    follower = Follower(ChainReader(bench.rpc), stream, {}, bench.resources["live"].settings(), C_CHAIN)
    stop = threading.Event()
    try:
        assert follower.listen_for_heads(None, stop) is not None  # anvil serves WebSocket on its port
        bench.mine(1, day=DAY + dt.timedelta(days=1))
        assert follower.heads.wait(WAIT_S)
    finally:
        stop.set()
        stream.close()


def loaded_block(bench) -> int:
    warehouse = bench.warehouse()
    try:
        found = warehouse.client.query(f"SELECT min(last) FROM (SELECT max(last_block) AS last FROM "
                                       f"{warehouse.qualified(LOADS_TABLE)} GROUP BY dataset)").result_rows
    except Exception:  # noqa: BLE001 - not created yet
        return -1
    return int(found[0][0]) if found and found[0][0] is not None else -1


SESSION_S = 6  # the bench's AVAX_LIVE_SESSION_TIMEOUT_S
LOADING, STANDING_BY = "live consumer: loading for group", "another consumer of the group loads"


def live_service(bench, name: str, service: str) -> LiveService:
    """A follower or consumer of this bench as a process of its own, with a fresh log."""
    process = LiveService(name, TEST_HOME / "live", service, lambda: bench.env)
    process.log_file.unlink(missing_ok=True)
    return process


def wait_for(condition, still=lambda: True) -> bool:
    """Whether `condition` came true within WAIT_S (while `still` holds)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and still() and not condition():
        time.sleep(1)
    return bool(condition())


def wait_until_loaded(bench, block: int, still=lambda: True) -> bool:
    return wait_for(lambda: loaded_block(bench) >= block, still)


def last_role(consumer: LiveService) -> str | None:
    """What a consumer process last said it was: the group's loader, or standing by."""
    lines = [line for line in consumer.log_file.read_text().splitlines() if LOADING in line or STANDING_BY in line]
    return None if not lines else LOADING if LOADING in lines[-1] else STANDING_BY


def tails(*services: LiveService) -> str:
    return "\n".join(f"--- {s.name}\n" + "\n".join(s.log_file.read_text().splitlines()[-15:]) for s in services)


def publish_without_rows(bench, blocks: range):
    """Fault injection: a step as a broker that lost its rows keeps it, its manifest alone."""
    from avax_assets.live.follower import extract_step
    from avax_assets.live.stream import ORIGIN, encode_manifest, manifest_of

    manifest = manifest_of(extract_step(ChainReader(bench.rpc), blocks, C_CHAIN), blocks, bench.head, time.time())
    assert sum(n for rows in manifest.rows.values() for n in rows.values()) > 0
    stream = bench.resources["kafka"].publisher().stream("avax-assets.live.test-lost")
    try:
        stream.publish([], [ORIGIN], (C_CHAIN.manifest_topic, manifest.key, encode_manifest(manifest)),
                       "a step without rows")
    finally:
        stream.close()
    return manifest


def published(bench) -> int | None:
    return last_published_block({"bootstrap.servers": bench.env["AVAX_KAFKA_BOOTSTRAP_SERVERS"]}, 10,
                                C_CHAIN.manifest_topic)


def test_a_follower_refuses_to_resume_after_another_chains_steps(bench):
    """(Last: it leaves a foreign step in this module's broker.) Accepted blocks are final, so a step in
    Kafka whose last block's hash differs from the node's is of another chain, never resumed after."""
    from avax_assets.core.errors import SettingError
    from avax_assets.live.stream import ORIGIN, Manifest, encode_manifest

    head = bench.head
    foreign = Manifest(head, head, head, 0, time.time(), {}, last_hash="0x" + "ab" * 32)
    stream = bench.resources["kafka"].publisher().stream("avax-assets.live.test-foreign")
    try:
        stream.publish([], [ORIGIN], (C_CHAIN.manifest_topic, foreign.key, encode_manifest(foreign)), "a foreign step")
    finally:
        stream.close()
    with pytest.raises(SettingError, match=f"up to block {head} with hash 0xabab.*another chain"):
        live_services.follow(bench.resources, threading.Event())
