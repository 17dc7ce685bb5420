"""How each chain dataset is extracted, declared beside it: its JSON-RPC extractor and, for blocks and
transactions, the AvaCloud Data API alternative (same schema). A partition is read chunk by chunk over
its day's block range, one Arrow batch per chunk, so memory stays flat in the day's size. Datasets
extracted in one step share each chunk's fetch (`chunk_extractor`): blocks, transactions and logs all
come from the chunk's full blocks and receipts."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa

from avax_assets.chain import data_api
from avax_assets.chain.datasets import BLOCKS, INTERNAL_TRANSACTIONS, LOGS, TRANSACTIONS
from avax_assets.chain.extractors import (Extractor, Scope, extract_blocks, extract_logs, extract_together,
                                          extract_transactions)
from avax_assets.chain.traces import extract_internal_transactions
from avax_assets.core.days import BlockRange
from avax_assets.core.schema import Dataset
from avax_assets.core.spool import PROGRESS_EVERY

T = TypeVar("T")


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


def block_batches(reader, dataset: Dataset, partition: str, blocks: BlockRange, extract: Extractor,
                  chunk_blocks: int, log=None) -> Iterator[pa.RecordBatch]:
    """The partition's blocks, `chunk_blocks` at a time, each chunk extracted into one batch, in order."""
    scope = Scope(dataset, partition)
    yield from in_chunks(lambda chunk: extract(reader, chunk, scope), dataset.name, partition, blocks,
                         chunk_blocks, log)


def in_chunks(work: Callable[[range], T], label: str, partition: str, blocks: BlockRange, chunk_blocks: int,
              log=None) -> Iterator[T]:
    """work(chunk) over the partition's blocks, `chunk_blocks` at a time, in order. The next chunks are
    fetched while this one is decoded and written (the node is never left idle)."""
    started = time.monotonic()
    for done, (chunk, result) in enumerate(ordered_ahead(work, blocks.chunks(chunk_blocks)), start=1):
        yield result
        if log and done % PROGRESS_EVERY == 0:
            log.info(f"{label} {partition}: block {chunk.stop - 1} of {blocks.first}..{blocks.last}, "
                     f"{time.monotonic() - started:.1f}s")


def chunk_extractor(extractions: tuple[ChainExtraction, ...], partition: str, reader,
                    data_api_reader=None) -> Callable[[range], dict[str, pa.RecordBatch]]:
    """How a chunk of the chosen chain datasets is extracted in one step, {dataset name: batch}. Over
    JSON-RPC with transactions among them, one fetch of full blocks and receipts gives blocks and logs too
    (`extract_together`); otherwise each dataset is extracted by its own extractor, from the Data API
    where it has one and `data_api_reader` is given."""
    scopes = {e.dataset.name: Scope(e.dataset, partition) for e in extractions}
    if data_api_reader is None and TRANSACTIONS.name in scopes and set(scopes) <= {d.name for d in IN_FULL_BLOCKS}:
        return lambda chunk: extract_together(reader, chunk, scopes)

    def each(chunk: range) -> dict[str, pa.RecordBatch]:
        return {e.dataset.name: e.data_api(data_api_reader, chunk, scopes[e.dataset.name])
                if data_api_reader is not None and e.data_api else e.rpc(reader, chunk, scopes[e.dataset.name])
                for e in extractions}

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
