"""How each chain dataset is extracted, declared beside it: its JSON-RPC extractor and, for blocks and
transactions, the AvaCloud Data API alternative (same schema). A partition is read chunk by chunk over
its day's block range, one Arrow batch per chunk, so memory stays flat in the day's size. Datasets
extracted in one step share each chunk's fetch (`chunk_extractor`): blocks, transactions and logs all
come from the chunk's full blocks and receipts. Every chunk is proven (chain/proof.py) before it is
handed on, and fetched again while its source contradicts itself (`Refetch`)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from avax_assets.chain import data_api, proof
from avax_assets.chain.datasets import BLOCKS, INTERNAL_TRANSACTIONS, LOGS, TRANSACTIONS
from avax_assets.chain.extractors import (Extractor, Scope, extract_blocks, extract_logs, extract_together,
                                          extract_transactions)
from avax_assets.chain.proof import HashChain, Proven
from avax_assets.chain.traces import extract_internal_transactions
from avax_assets.core.days import BlockRange, day_bounds
from avax_assets.core.errors import NullResult, ProviderInconsistency, RefetchChunk
from avax_assets.core.http import jittered_backoff, redact_url
from avax_assets.core.schema import Dataset
from avax_assets.core.spool import PROGRESS_EVERY


@dataclass(frozen=True)
class ChainExtraction:
    dataset: Dataset
    rpc: Extractor
    data_api: Extractor | None = None  # when set, `blocks_source=data_api` may pick it
    counts: tuple[tuple[str, Callable[[pa.RecordBatch], int]], ...] = ()  # per partition, in its metadata


def frames_without_addresses(batch: pa.RecordBatch) -> int:
    return batch.column("from_address").null_count


EXTRACTIONS = (
    ChainExtraction(BLOCKS, extract_blocks, data_api.extract_blocks),
    ChainExtraction(TRANSACTIONS, extract_transactions, data_api.extract_transactions),
    ChainExtraction(LOGS, extract_logs),
    ChainExtraction(INTERNAL_TRANSACTIONS, extract_internal_transactions,
                    counts=(("frames_without_addresses", frames_without_addresses),)),
)
IN_FULL_BLOCKS = (BLOCKS, TRANSACTIONS, LOGS)  # what one fetch of full blocks and their receipts holds


CHUNKS_AHEAD = 2  # chunks extracted while the caller consumes the current one: bounds memory to 3 chunks
FETCHES_PER_CHUNK = 3  # a chunk whose source contradicts itself is fetched this often in all, then the partition fails


@dataclass
class Refetch:
    """How a chunk that fails its proof is fetched again: `fetches` times in all, a jittered backoff apart; a
    source still inconsistent then fails the partition for good (InconsistentSource, naming `source`,
    redacted). `count` is the partition's re-fetches (its `refetched_chunks`)."""

    label: str
    partition: str
    source: str = "the source"
    fetches: int = FETCHES_PER_CHUNK
    backoff: Callable[[int], float] = field(default=lambda attempt: jittered_backoff(attempt, 1.0, 10.0))
    log: Any = None
    sleep: Callable[[float], None] = time.sleep
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, label: str, partition: str, reader, data_api_reader=None, log=None) -> Refetch:
        """For chunks read by `reader` (a ChainReader) and, when given, the Data API's."""
        sources = [redact_url(reader.endpoint)]
        if data_api_reader is not None:
            sources.append(redact_url(data_api_reader.endpoint.split("#")[0]))
        return cls(label, partition, " and ".join(sources), backoff=reader.client.settings.patience.backoff, log=log)

    def proven(self, work: Callable[[range], Proven], chunk: range, check: Callable[[Proven], None] | None = None,
               first: Proven | None = None) -> Proven:
        """work(chunk) (its first fetch `first`, when already made) that passes `check` too."""
        for fetch in range(1, self.fetches + 1):
            try:
                result = first if fetch == 1 and first is not None else work(chunk)
                if check is not None:
                    check(result)
                return result
            except RefetchChunk as exc:
                problem = exc
            except NullResult as exc:  # a block of a finished day (or its receipts) answered null: a lagging backend
                problem = ProviderInconsistency(self.label, self.partition, chunk.start, f"{exc}, for a block of "
                                                f"the accepted chunk {chunk.start}..{chunk.stop - 1}")
            if fetch == self.fetches:
                raise problem.for_good(self.fetches, self.source) from None
            with self._lock:
                self.count += 1
            if self.log:
                self.log.warning(f"{problem}; fetching blocks {chunk.start}..{chunk.stop - 1} again "
                                 f"({fetch}/{self.fetches - 1})")
            self.sleep(self.backoff(fetch))
        raise AssertionError("unreachable")


def block_batches(reader, dataset: Dataset, partition: str, blocks: BlockRange, extract: Extractor,
                  chunk_blocks: int, log=None) -> Iterator[pa.RecordBatch]:
    """The partition's blocks, `chunk_blocks` at a time, each chunk extracted into one batch, in order."""
    scope = Scope(dataset, partition)
    for batches in in_chunks(lambda chunk: extract(reader, chunk, scope), dataset.name, partition, blocks,
                             chunk_blocks, log):
        yield batches[dataset.name]


def in_chunks(work: Callable[[range], Proven], label: str, partition: str, blocks: BlockRange, chunk_blocks: int,
              log=None, refetch: Refetch | None = None) -> Iterator[dict[str, pa.RecordBatch]]:
    """work(chunk)'s batches over the partition's blocks, `chunk_blocks` at a time, in order. The next chunks
    are fetched while this one is decoded and written (the node is never left idle). Each chunk is proven
    (its own proof in the fetching thread; in order, its link to the chunk before and, the last one, to the
    block after the day) and fetched again while its source contradicts itself (`refetch`)."""
    refetch = refetch or Refetch(label, partition)
    chain = HashChain(last_block=blocks.last, day=day_bounds(partition))
    started = time.monotonic()
    fetched = ordered_ahead(lambda chunk: refetch.proven(work, chunk), blocks.chunks(chunk_blocks))
    for done, (chunk, result) in enumerate(fetched, start=1):
        result = refetch.proven(work, chunk, check=chain.check, first=result)
        chain.advance(result)
        yield result.batches
        if log and done % PROGRESS_EVERY == 0:
            log.info(f"{label} {partition}: block {chunk.stop - 1} of {blocks.first}..{blocks.last}, "
                     f"{time.monotonic() - started:.1f}s")


def chunk_extractor(extractions: tuple[ChainExtraction, ...], partition: str, reader,
                    data_api_reader=None, scopes: dict[str, Scope] | None = None) -> Callable[[range], Proven]:
    """How a chunk of the chosen chain datasets is extracted in one step, {dataset name: batch} and the
    blocks they were proven against. Over JSON-RPC with transactions among them, one fetch of full blocks
    and receipts gives blocks and logs too (`extract_together`); otherwise each dataset is extracted by its
    own extractor (blocks and transactions together from the Data API where they have one and
    `data_api_reader` is given), and the parts must have seen the same blocks (proof.together)."""
    scopes = scopes or {e.dataset.name: Scope(e.dataset, partition) for e in extractions}
    if data_api_reader is None and TRANSACTIONS.name in scopes and set(scopes) <= {d.name for d in IN_FULL_BLOCKS}:
        return lambda chunk: extract_together(reader, chunk, scopes)
    from_api = {e.dataset.name: scopes[e.dataset.name] for e in extractions
                if data_api_reader is not None and e.data_api}
    over_rpc = [e for e in extractions if e.dataset.name not in from_api]

    def each(chunk: range) -> Proven:
        parts = [e.rpc(reader, chunk, scopes[e.dataset.name]) for e in over_rpc]
        if from_api:
            parts.append(data_api.extract_together(data_api_reader, chunk, from_api))
        return proof.together(parts)

    return each


def ordered_ahead(work: Callable, items: Iterable, ahead: int = CHUNKS_AHEAD) -> Iterator[tuple]:
    """(item, work(item)) in the order of items, with up to `ahead` items worked on in threads beforehand.
    The first failure is raised in order; work not yet started is cancelled."""
    pending: deque = deque()
    items = iter(items)
    with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="chunk") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(work, item)))
                if len(pending) > ahead:
                    item, future = pending.popleft()
                    yield item, future.result()
            while pending:
                item, future = pending.popleft()
                yield item, future.result()
        finally:
            for _, future in pending:
                future.cancel()
