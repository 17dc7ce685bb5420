"""The live path follows two chains at once: the bench's C-Chain node and a second anvil with its own chain id
(shaped as an L1, configured by AVAX_CHAINS alone), one follower and one consumer process for both, as
`services.sh up --with-live` runs them. Each chain's rows land in the same tables under its own chain_id,
equal to its own node, every key once, over topics, groups and ledger records of its own; and a chain whose
node goes down holds nothing of the other."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from avax_assets.catalogue import build_resources
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.clickhouse import LOADS_TABLE
from avax_assets.live.stream import LiveChain
from avax_assets_dev.devchain.generator import LiveMiner
from avax_assets_dev.local.services import Anvil, LiveService
from avax_assets_tests.conftest import REPO, TEST_HOME, service_port
from avax_assets_tests.live.test_live import DAY_START, bench, tails, wait_for  # noqa: F401 - the fixture

HOME = TEST_HOME / "live-chains"
L1 = LiveChain(43515, "benchl1")  # not the demo's L1 id: a chain added by configuration alone
C_CHAIN = LiveChain(43114)


@pytest.fixture(scope="module")
def two_chains(bench, tmp_path_factory):  # noqa: F811 - the bench fixture, imported
    """The bench's chain and an L1 (a fresh anvil, its own miner); the environment names both."""
    anvil = Anvil("anvil-live-l1", service_port(18646), HOME, chain_id=L1.chain_id)
    anvil.stop()
    anvil.start()
    rpc = JsonRpcClient(RpcSettings(url=anvil.url, batch_size=100))
    prefix = f"AVAX_{L1.name.upper()}_"
    env = {**bench.env, "AVAX_CLICKHOUSE_CHDB_PATH": str(tmp_path_factory.mktemp("live-chains-chdb")),
           "AVAX_HOME": str(HOME), "AVAX_LIVE_GROUP_ID": f"chains-{uuid.uuid4().hex[:6]}",
           "AVAX_CHAINS": L1.name, f"{prefix}RPC_URL": anvil.url, f"{prefix}CHAIN_ID": str(L1.chain_id),
           f"{prefix}LIVE_START_BLOCK": "0", f"{prefix}LIVE_STEP_BLOCKS": "5", f"{prefix}LIVE_POLL_S": "0.2",
           f"{prefix}LIVE_SESSION_TIMEOUT_S": "6"}
    miner = LiveMiner(rpc, seed=5, start=DAY_START)
    yield env, anvil, rpc, miner
    rpc.close()
    anvil.stop()


def loaded(env, live: LiveChain) -> int:
    """The last block the ledger records for every live dataset of a chain (-1 before any)."""
    warehouse = build_resources(env)["clickhouse"].warehouse()
    names = [d.qualified_name for d in live.datasets]
    with warehouse.session():
        if LOADS_TABLE not in warehouse.tables():
            return -1
        found = dict(warehouse.client.query(
            f"SELECT dataset, max(last_block) FROM {warehouse.qualified(LOADS_TABLE)} GROUP BY dataset").result_rows)
    return min(int(found.get(name, -1)) for name in names)


def stored(env, live: LiveChain) -> dict[str, tuple]:
    """Per live dataset of a chain: (rows, distinct keys) of its chain_id; and the blocks' hashes in order."""
    warehouse = build_resources(env)["clickhouse"].warehouse()
    with warehouse.session():
        counts = {d.name: warehouse.client.query(
            f"SELECT count(), uniqExact({', '.join(d.key)}) FROM {warehouse.qualified(d.table)} "
            "WHERE chain_id = {c:UInt64}", parameters={"c": live.chain_id}).result_rows[0] for d in live.datasets}
        counts["hashes"] = tuple(r[0] for r in warehouse.client.query(
            f"SELECT block_hash FROM {warehouse.qualified('blocks')} WHERE chain_id = {{c:UInt64}} "
            "ORDER BY block_number", parameters={"c": live.chain_id}).result_rows)
    return counts


def node_hashes(rpc: JsonRpcClient, blocks: range) -> tuple[str, ...]:
    return tuple(rpc.call("eth_getBlockByNumber", [hex(n), False])["hash"] for n in blocks)


def node_transactions(rpc: JsonRpcClient, blocks: range) -> int:
    return sum(len(rpc.call("eth_getBlockByNumber", [hex(n), False])["transactions"]) for n in blocks)


def test_one_follower_and_one_consumer_load_two_chains_each_as_its_own(bench, two_chains):  # noqa: F811
    env, anvil, rpc, miner = two_chains
    services = [LiveService(name, HOME, service, lambda: env) for name, service in
                (("consumer-chains", "consume"), ("follower-chains", "follow"))]
    for service in services:
        service.log_file.unlink(missing_ok=True)
        service.start()
    try:
        for _ in range(6):
            miner.block()
        bench.mine(6)
        l1_head = int(rpc.call("eth_blockNumber", []), 16)
        running = lambda: all(s.pid() for s in services)  # noqa: E731
        assert wait_for(lambda: loaded(env, L1) >= l1_head and loaded(env, C_CHAIN) >= bench.head, running), \
            tails(*services)

        for live, node, blocks in ((L1, rpc, range(l1_head + 1)), (C_CHAIN, bench.rpc, range(bench.head + 1))):
            counts = stored(env, live)
            assert counts.pop("hashes") == node_hashes(node, blocks), live.label  # its own node's blocks only
            assert counts["transactions"][0] == node_transactions(node, blocks), live.label
            assert all(rows == keys for rows, keys in counts.values()), counts  # every key once
            assert counts["erc20_transfers"][0] > 0, live.label

        topics = AdminClient({"bootstrap.servers": env["AVAX_KAFKA_BOOTSTRAP_SERVERS"]}).list_topics(timeout=10).topics
        for live in (L1, C_CHAIN):  # topics of each chain's own
            assert {live.manifest_topic, live.request_topic, *(d.topic for d in live.datasets)} <= set(topics)

        status = subprocess.run([sys.executable, "-m", "avax_assets.cli", "live", "status"], cwd=REPO,
                                env={**os.environ, **env, "PYTHONWARNINGS": "ignore"}, capture_output=True, text=True,
                                timeout=300)
        assert status.returncode == 0, status.stderr
        shown = {tuple(line.split()[:3]) for line in status.stdout.splitlines()}
        assert {(L1.name, str(L1.chain_id), "blocks"), ("home", "43114", "blocks")} <= shown, status.stdout

        anvil.stop()  # the L1's node goes down: the C-Chain goes on
        bench.mine(3)
        assert wait_for(lambda: loaded(env, C_CHAIN) >= bench.head, running), tails(*services)
        waiting = f"live follower: {L1.label}: block {l1_head + 1}: "  # its follower waits for its node, alone
        assert wait_for(lambda: waiting in services[1].log_file.read_text(), running), tails(*services)
        assert "Traceback" not in "".join(s.log_file.read_text() for s in services)
    finally:
        for service in services:
            service.stop()
