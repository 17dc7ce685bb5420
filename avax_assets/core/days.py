"""UTC days: their bounds in Unix seconds, and the block range a day covers on a chain.

A source that can map a day to blocks (JSON-RPC, the Data API) is a `BlockClock`: its latest block and
the timestamp of any block. The range is found by binary search on block timestamps and cached per
endpoint, and a day the source has not finished is refused (PartitionNotReady: a later run succeeds). Over
JSON-RPC the latest block is the node's `latest`, final with its receipts: under Helicon (ACP-194) the last
executed block, not `finalized` (the last settled, which a day need not wait for) nor `pending` (accepted,
not executed).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from avax_assets.core.errors import DayBeyondHead, NullResult, PartitionNotReady, SourceBehind

DAY_SECONDS = 86_400


def partition_day(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)


def day_bounds(partition_key: str) -> tuple[int, int]:
    """[start, end) of the partition's UTC day in Unix seconds."""
    start = int(dt.datetime.combine(partition_day(partition_key), dt.time(), dt.timezone.utc).timestamp())
    return start, start + DAY_SECONDS


@dataclass(frozen=True)
class BlockRange:
    """Inclusive block range; empty when last < first."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return max(0, self.last - self.first + 1)

    def chunks(self, size: int) -> Iterator[range]:
        for start in range(self.first, self.last + 1, size):
            yield range(start, min(start + size, self.last + 1))


class BlockClock(Protocol):
    """What mapping a day to blocks needs of a source (JSON-RPC or the Data API)."""
    endpoint: str

    def latest_block(self) -> int: ...

    def timestamp(self, number: int) -> int: ...


_first_block_cache: dict[tuple[str, int], int] = {}
_cache_lock = threading.Lock()


def day_block_range(clock: BlockClock, day: dt.date) -> BlockRange:
    """Blocks whose timestamp falls on `day` (UTC). Refuses days the source has not finished."""
    start, end = day_bounds(day.isoformat())
    latest = clock.latest_block()
    latest_ts = _timestamp(clock, latest, latest)
    head_day = dt.datetime.fromtimestamp(latest_ts, dt.timezone.utc).date()
    if latest_ts < start - DAY_SECONDS:
        raise DayBeyondHead(
            f"partition {day} is {(day - head_day).days} days after the node's latest block {latest} ({head_day}): "
            f"the node has not reached it; its last complete day is {head_day - dt.timedelta(days=1)}")
    if latest_ts < start:
        raise PartitionNotReady(
            f"partition {day} is later than the node's latest block {latest} "
            f"({dt.datetime.fromtimestamp(latest_ts, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"
        )
    if latest_ts < end:
        raise PartitionNotReady(
            f"partition {day} is not complete yet: the node's latest block {latest} is at "
            f"{dt.datetime.fromtimestamp(latest_ts, dt.timezone.utc):%H:%M:%S} UTC that day"
        )
    first = _first_block_at_or_after(clock, start, latest)
    after = _first_block_at_or_after(clock, end, latest)
    return BlockRange(first, after - 1)


def _timestamp(clock: BlockClock, number: int, latest: int) -> int:
    try:
        return clock.timestamp(number)
    except NullResult as exc:
        raise SourceBehind(f"{exc}, though the source's head is block {latest}: a backend behind the chain "
                           "answered") from None


def _first_block_at_or_after(clock: BlockClock, timestamp: int, latest: int) -> int:
    """Binary search on block timestamps (non-decreasing); cached per endpoint and timestamp."""
    cache_key = (clock.endpoint, timestamp)
    with _cache_lock:
        if cache_key in _first_block_cache:
            return _first_block_cache[cache_key]
    lo, hi = 0, latest
    while lo < hi:
        mid = (lo + hi) // 2
        if _timestamp(clock, mid, latest) >= timestamp:
            hi = mid
        else:
            lo = mid + 1
    with _cache_lock:
        _first_block_cache[cache_key] = lo
    return lo
