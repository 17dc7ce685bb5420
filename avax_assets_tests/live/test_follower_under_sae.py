"""The follower under Helicon's streaming asynchronous execution (ACP-194), against a node that answers
`pending`, `latest` and `finalized` with three different blocks: the local anvil behind a FAKE proxy that
emulates SAE (avax_assets_dev/local/sae_proxy.py; no local node executes behind consensus). The follower
follows `latest`, the last executed block: final, its receipts there; not `pending` (accepted, not executed:
no receipts yet) and not `finalized` (the last settled block, seconds behind)."""

from __future__ import annotations

import threading

from avax_assets.chain.resources import ChainRpcResource
from avax_assets.live import services as live_services
from avax_assets.live.follower import last_manifest, last_published_block
from avax_assets_dev.local.sae_proxy import SaeProxy
from avax_assets_tests.live.test_live import bench, wait_for  # noqa: F401 - the fixture


MANIFEST = "avalanche.live.43114"  # the resources' home chain's


def test_the_follower_follows_latest_the_last_executed_block(bench):  # noqa: F811 - the bench fixture, imported
    accepted = bench.mine(12)
    proxy = SaeProxy(bench.anvil.url, executed=accepted - 4, settled=accepted - 9)
    resources = {**bench.resources, "rpc": ChainRpcResource(url=proxy.url, chunk_blocks=7)}
    config = resources["kafka"].client_config()
    stop = threading.Event()
    follower = threading.Thread(target=live_services.follow, args=(resources, stop))
    follower.start()
    try:
        assert wait_for(lambda: last_published_block(config, 10, MANIFEST) == proxy.executed, follower.is_alive)
        # the head it saw: `latest`, past `finalized`, short of `pending`
        assert last_manifest(config, 10, MANIFEST).head == proxy.executed
        proxy.move(executed=accepted, settled=accepted - 3)  # execution catches up with consensus
        assert wait_for(lambda: last_published_block(config, 10, MANIFEST) == accepted, follower.is_alive)
    finally:
        stop.set()
        follower.join()
        proxy.close()
    assert proxy.unexecuted_asks == []  # never a receipt, log or trace of a block not executed yet
    bench.consume()
    bench.assert_equal_to_node()
