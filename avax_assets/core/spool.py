"""A partition spooled to a local Parquet file while it is extracted.

Extraction streams chunk by chunk into the spool (bounded memory); only a complete spool is published
to Kafka and handed to the lake, so a failed extraction leaves nothing behind anywhere. A complete spool
is first held to what ClickHouse's audits would refuse and the data alone can tell (`PartitionKeys`:
unique keys; contiguous blocks for a dataset of one row per block), so the lake and Kafka never hold it.
Spools live in a directory of the project's (`<home>/spool`); a killed process's spools are swept by the
next extraction.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from avax_assets.core.errors import PartitionCheckFailed, PartitionLoadError, SettingError
from avax_assets.core.processes import process_alive
from avax_assets.core.schema import Dataset

READ_BATCH_ROWS = 8192  # rows read back at a time: well under a small partition, so reading stays flat
ROW_GROUP_ROWS = 65_536  # at most; a row group is one extracted chunk, usually fewer rows
SUFFIX = ".parquet"
PID_END = "-p-"  # spool names: <dataset>-<partition>-<pid>-p-<random>.parquet
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1}  # measured: smaller and faster than 3 here


RowGroupProbe = tuple[list[str], Callable[[pa.Table], bool]]  # columns read first, and whether to read the rest


def parquet_batches(parquet: pq.ParquetFile, batch_rows: int, columns: list[str] | None = None,
                    probe: RowGroupProbe | None = None) -> Iterator[pa.RecordBatch]:
    """The file's batches, read one row group at a time. A reader over the whole file keeps every column chunk
    it has pre-buffered until it ends (pyarrow's pre_buffer), so its memory grew with the file: +960 MB while a
    mainnet day's logs spool was published; one row group's reader at a time stays flat and still reads its
    column chunks in few, coalesced requests (what pre-buffering is for, on S3). With a `probe` (columns, and
    whether a row group's values of them are wanted), a row group is read whole only if it is wanted: the
    logs of a rare event are found by reading the day's topic0 column, not the day."""
    for group in range(parquet.num_row_groups):
        if probe and not probe[1](parquet.read_row_group(group, columns=probe[0])):
            continue
        yield from parquet.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns)


T = TypeVar("T")


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """`items`, the next one read in a thread while the caller works on the one before: reading Parquet (from S3
    or a file) and decompressing it release the GIL, so a step's reading and its work (decoding, encoding for
    Kafka) overlap on two cores. One item ahead: the memory of one more batch."""
    end = object()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as reader:
            ahead = reader.submit(next, items, end)
            while (item := ahead.result()) is not end:
                ahead = reader.submit(next, items, end)
                yield item
    finally:  # the reader is done (the pool waited for it): the source is closed here, not while it reads
        close = getattr(items, "close", None)
        if close:
            close()


def read_conformed(parquet: pq.ParquetFile, schema: pa.Schema, batch_rows: int, probe: RowGroupProbe | None = None
                   ) -> Iterator[pa.RecordBatch]:
    """Batches with exactly the declared types: Parquet has no seconds unit and returns
    timestamp[s] as timestamp[ms]; the (safe) cast restores the declaration. A nullable column declared
    after the object was written (a new field) reads as nulls, so older objects reload as they are."""
    for batch in parquet_batches(parquet, batch_rows, probe=probe):
        if batch.schema.names != schema.names:
            batch = _with_declared_columns(batch, schema)
        yield batch.cast(schema)


def _with_declared_columns(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = []
    for field in schema:
        if field.name in batch.schema.names:
            columns.append(batch.column(field.name))
        elif field.nullable:
            columns.append(pa.nulls(batch.num_rows, field.type))
        else:
            raise PartitionLoadError(f"the stored object has no column {field.name!r}, which is declared and "
                                     "required: extract the partition again")
    return pa.RecordBatch.from_arrays(columns, names=schema.names)


@dataclass
class SpooledPartition:
    dataset: Dataset
    partition: str
    path: Path
    rows: int = 0

    def iter_batches(self, batch_rows: int = READ_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        return read_ahead(read_conformed(pq.ParquetFile(self.path), self.dataset.arrow_schema, batch_rows))

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _key_hashes(keys: pl.DataFrame) -> pl.Series:
    return keys.hash_rows(seed=0, seed_1=1, seed_2=2, seed_3=3)  # fixed seeds: equal keys, equal hashes


def repeated(hashes: np.ndarray) -> np.ndarray:
    """The values found more than once, each once. Sorted in place: a hash table (polars' is_duplicated)
    took +808 MB for a mainnet day's 8M logs keys, the sort +70 MB and a quarter of the CPU."""
    hashes.sort()
    same = hashes[1:] == hashes[:-1]
    return np.unique(hashes[1:][same])


KEY_BUCKETS = 64  # files a partition's key hashes are spread over by their top bits, proven one at a time
KEYS_HELD = 1 << 20  # key hashes held in memory (8 MB) before they go to those files


class PartitionKeys:
    """A partition's natural keys as 64-bit hashes (8 bytes a row), and its block span. `prove` fails the
    partition on a key seen twice (a hash seen twice is confirmed on the exact keys, read back from the spool)
    and, for a dataset of one row per block, on a gap.

    Beyond KEYS_HELD, the hashes go to KEY_BUCKETS files beside the spool (`<spool>.keysNN`), each taking
    those of its top bits, and are proven one file at a time: memory holds 8 MB of them and a 64th of the
    partition's (a mainnet day's 8M logs: 64 MB on disk, 1 MB a file). Held whole, the day's hashes of
    blocks, transactions and logs (84 MB, twice that while concatenated) made its peak memory grow with it."""

    def __init__(self, dataset: Dataset, partition: str, spill: Path) -> None:
        self.dataset, self.partition, self.spill = dataset, partition, spill
        self.key = list(dataset.key_in_chain)  # a spool holds one chain
        self.per_block = dataset.block_column is not None and dataset.key_in_chain == (dataset.block_column,)
        self.held: list[np.ndarray] = []
        self.held_rows = self.rows = 0
        self.spilled = False
        self.span: tuple[int, int] | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        keys = pl.from_arrow(batch.select(self.key))
        self.held.append(_key_hashes(keys).to_numpy())
        self.held_rows += batch.num_rows
        self.rows += batch.num_rows
        if self.held_rows >= KEYS_HELD:
            self._spill_held()
        if self.per_block:
            blocks = keys[self.dataset.block_column]
            low, high = int(blocks.min()), int(blocks.max())
            self.span = (low, high) if self.span is None else (min(self.span[0], low), max(self.span[1], high))

    def prove(self, path: Path) -> None:
        if not self.rows:
            return
        try:
            twice = self._repeated()
        finally:
            self.discard()
        if len(twice):
            self._confirm_duplicates(path, pl.Series(twice))
        if self.per_block:
            first, last = self.span
            missing = (last - first + 1) - self.rows
            if missing:
                raise PartitionCheckFailed(self.dataset.name, self.partition, "contiguous_blocks",
                                           f"blocks {first}..{last} hold {self.rows} rows, {missing} missing")

    def discard(self) -> None:
        """Remove the files of hashes (after `prove`, or with the spool)."""
        self.held, self.held_rows = [], 0
        if self.spilled:
            for bucket in range(KEY_BUCKETS):
                self._bucket(bucket).unlink(missing_ok=True)

    def _repeated(self) -> np.ndarray:
        if not self.spilled:
            return repeated(np.concatenate(self.held))
        self._spill_held()
        found = [repeated(np.fromfile(path, dtype=np.uint64)) for path in map(self._bucket, range(KEY_BUCKETS))
                 if path.exists()]
        return np.concatenate(found)

    def _spill_held(self) -> None:
        hashes = np.concatenate(self.held) if self.held else np.array([], dtype=np.uint64)
        self.held, self.held_rows, self.spilled = [], 0, True
        hashes.sort()
        edges = np.arange(1, KEY_BUCKETS, dtype=np.uint64) * np.uint64(2**64 // KEY_BUCKETS)
        for bucket, part in enumerate(np.split(hashes, np.searchsorted(hashes, edges))):
            if len(part):
                with open(self._bucket(bucket), "ab") as file:
                    part.tofile(file)

    def _bucket(self, bucket: int) -> Path:
        return self.spill.with_name(f"{self.spill.name}.keys{bucket:02d}")

    def _confirm_duplicates(self, path: Path, twice: pl.Series) -> None:
        schema = pa.schema([self.dataset.arrow_schema.field(k) for k in self.key])
        candidates = []
        for batch in parquet_batches(pq.ParquetFile(path), READ_BATCH_ROWS, columns=list(self.key)):
            keys = pl.from_arrow(batch.cast(schema))  # timestamps read back as declared: the same hashes
            candidates.append(keys.filter(_key_hashes(keys).is_in(twice.implode())))
        keys = pl.concat(candidates)
        exact = keys.filter(keys.is_duplicated())
        if exact.is_empty():
            return  # different keys sharing a 64-bit hash
        first = exact.row(0, named=True)
        times = exact.filter(pl.all_horizontal([pl.col(k) == v for k, v in first.items()])).height
        values = ", ".join(str(v) for v in first.values())
        raise PartitionCheckFailed(self.dataset.name, self.partition, "unique_keys",
                                   f"key ({', '.join(self.key)}) = ({values}) appears {times} times")


class PartitionSpool:
    """Context manager writing batches of one dataset partition to a temporary local Parquet file."""

    def __init__(self, dataset: Dataset, partition: str, directory: str | None = None) -> None:
        self.dataset, self.partition, self.directory = dataset, partition, directory or tempfile.gettempdir()
        with self._disk():
            if directory:
                os.makedirs(directory, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"{dataset.name}-{partition}-{os.getpid()}{PID_END}", suffix=SUFFIX,
                                        dir=directory)
            os.close(fd)
            self.result = SpooledPartition(dataset, partition, Path(name))
            self.keys = PartitionKeys(dataset, partition, spill=Path(name))
            self._writer = pq.ParquetWriter(name, dataset.arrow_schema, **PARQUET_OPTIONS)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            batch = self.dataset.stamped(batch)
            with self._disk():
                self._writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                self.keys.add(batch)
            self.result.rows += batch.num_rows

    def finish(self) -> SpooledPartition:
        """The complete spool, once its keys are proven (PartitionKeys)."""
        with self._disk():
            self._writer.close()
            self.keys.prove(self.result.path)
        return self.result

    @contextmanager
    def _disk(self) -> Iterator[None]:
        """A full or unwritable spool directory said as such, naming it and its setting."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS) and \
                    "No space left" not in str(exc):
                raise
            why = "is full" if exc.errno != errno.EACCES and exc.errno != errno.EROFS else "cannot be written"
            raise SettingError(f"dataset '{self.dataset.name}' partition {self.partition}: the spool directory "
                               f"{os.path.abspath(self.directory)} {why} ({exc.strerror or exc}); free space there "
                               "or point AVAX_SPOOL_DIR at a larger disk") from None

    def __enter__(self) -> PartitionSpool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._writer.is_open:
            self._writer.close()
        if exc_type is not None:
            self.keys.discard()
            self.result.discard()


PROGRESS_EVERY = 10  # chunks between progress lines


def spool_together(datasets: Iterable[Dataset], partition: str, chunks: Iterable[dict[str, pa.RecordBatch]],
                   log=None, directory: str | None = None) -> dict[str, SpooledPartition]:
    """Stream chunks of several datasets extracted together ({dataset name: batch} each) into one spool per
    dataset; memory holds one chunk at a time. Each complete spool is proven (`PartitionSpool.finish`). If
    any fails, none is left behind."""
    started = time.monotonic()
    with ExitStack() as stack:
        spools = {d.name: stack.enter_context(PartitionSpool(d, partition, directory)) for d in datasets}
        for done, chunk in enumerate(chunks, start=1):
            for name, batch in chunk.items():
                spools[name].write(batch)
            if log and done % PROGRESS_EVERY == 0:
                rows = ", ".join(f"{spool.result.rows} {name}" for name, spool in spools.items())
                elapsed = time.monotonic() - started
                log.info(f"{'+'.join(spools)} {partition}: {rows} after {done} chunks, {elapsed:.1f}s")
        return {name: spool.finish() for name, spool in spools.items()}


def sweep_stale_spools(directory: str) -> list[Path]:
    """Remove spools whose process is gone (a killed extraction's debris); returns what was removed."""
    removed = []
    for path in Path(directory).glob(f"*{PID_END}*{SUFFIX}*"):  # the spools and their key files
        pid = path.name.split(PID_END)[0].rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed

