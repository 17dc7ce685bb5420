"""Day → block range on the real devchain node."""

import datetime as dt

import pytest

from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.days import day_block_range
from avax_assets.core.errors import DayBeyondHead, PartitionNotReady
from avax_assets.chain.settings import RpcSettings
from avax_assets_tests.support import rpc


@pytest.fixture(scope="module")
def reader(stack, devchain):
    with JsonRpcClient(RpcSettings(url=stack.anvil.url)) as client:
        yield ChainReader(client)


def test_each_day_resolves_to_exactly_its_blocks(reader, devchain, stack):
    for day in list(devchain.blocks_by_day)[:-1]:  # the last entry is the block that closes the last day
        blocks = day_block_range(reader, dt.date.fromisoformat(day))
        assert [blocks.first, blocks.last] == devchain.blocks_by_day[day]
        first = rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(blocks.first), False])
        last = rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(blocks.last), False])
        after = rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(blocks.last + 1), False])
        start = int(dt.datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp())
        assert start <= int(first["timestamp"], 16) <= int(last["timestamp"], 16) < start + 86_400
        assert int(after["timestamp"], 16) >= start + 86_400


def test_a_day_with_no_blocks_is_an_empty_range(reader, devchain):
    # The devchain's last block is on the day after its last simulated day, early in the morning;
    # a day before genesis has no blocks at all.
    blocks = day_block_range(reader, dt.date(2024, 5, 30))
    assert blocks.count == 0


def test_the_day_of_the_latest_block_is_not_complete(reader, devchain):
    last_day = max(devchain.blocks_by_day)
    with pytest.raises(PartitionNotReady, match="not complete yet"):
        day_block_range(reader, dt.date.fromisoformat(last_day))


def test_the_day_after_the_latest_block_may_come_but_a_day_far_past_it_never_will_soon(reader, devchain):
    head_day = dt.date.fromisoformat(max(devchain.blocks_by_day))
    with pytest.raises(PartitionNotReady, match="later than the node's latest block"):  # transient: retried
        day_block_range(reader, head_day + dt.timedelta(days=1))
    with pytest.raises(DayBeyondHead, match="days after the node's latest block .* its last complete day is"):
        day_block_range(reader, dt.date(2024, 7, 1))  # permanent: failed at once, not retried for minutes


def test_chunks_cover_the_range_without_gaps(reader, devchain):
    day = min(devchain.blocks_by_day)
    blocks = day_block_range(reader, dt.date.fromisoformat(day))
    covered = [n for chunk in blocks.chunks(7) for n in chunk]
    assert covered == list(range(blocks.first, blocks.last + 1))
