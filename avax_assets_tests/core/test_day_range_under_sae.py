"""A day's block range under Helicon's streaming asynchronous execution (ACP-194), against a node that
answers `pending`, `latest` and `finalized` with three different blocks: the devchain's anvil behind a FAKE
proxy that emulates SAE (avax_assets_dev/local/sae_proxy.py). A day is complete once `latest`, the last
executed block, is past its end: executed blocks are final and their receipts exist, so the day's range
does not wait for `finalized` (the last settled block), and an accepted block not yet executed (`pending`)
does not make the day complete."""

from __future__ import annotations

import datetime as dt

import pytest

from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.days import BlockRange, day_block_range
from avax_assets.core.errors import PartitionNotReady
from avax_assets_dev.local.sae_proxy import SaeProxy

DAY, NEXT = "2024-06-02", "2024-06-03"


def test_a_day_is_complete_once_latest_the_last_executed_block_is_past_it(stack, devchain):
    first, last = devchain.blocks_by_day[DAY]
    next_first = devchain.blocks_by_day[NEXT][0]
    assert devchain.latest_block > next_first  # anvil's head, the accepted block, is days later
    proxy = SaeProxy(stack.anvil.url, executed=last, settled=first)
    try:
        with JsonRpcClient(RpcSettings(url=proxy.url)) as client:
            reader = ChainReader(client)
            with pytest.raises(PartitionNotReady, match=f"partition {DAY} is not complete yet: the node's latest "
                                                        f"block {last} "):
                day_block_range(reader, dt.date.fromisoformat(DAY))
            proxy.move(executed=next_first, settled=last - 1)  # executed into the next day; settled still in DAY
            assert day_block_range(reader, dt.date.fromisoformat(DAY)) == BlockRange(first, last)
    finally:
        proxy.close()
    assert proxy.unexecuted_asks == []
