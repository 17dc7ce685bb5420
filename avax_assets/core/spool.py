"""A partition spooled to a local Parquet file while it is extracted.

Extraction streams chunk by chunk into the spool (bounded memory); only a complete spool is published
to Kafka and handed to the lake, so a failed extraction leaves nothing behind anywhere.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from avax_assets.core.schema import Dataset

READ_BATCH_ROWS = 65_536
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3}


def read_conformed(parquet: pq.ParquetFile, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Batches with exactly the declared types: Parquet has no seconds unit and returns
    timestamp[s] as timestamp[ms]; the (safe) cast restores the declaration."""
    for batch in parquet.iter_batches(batch_size=batch_rows):
        yield batch.cast(schema)


@dataclass
class SpooledPartition:
    dataset: Dataset
    partition: str
    path: Path
    rows: int = 0

    def iter_batches(self, batch_rows: int = READ_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        yield from read_conformed(pq.ParquetFile(self.path), self.dataset.arrow_schema, batch_rows)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class PartitionSpool:
    """Context manager writing batches of one dataset partition to a temporary local Parquet file."""

    def __init__(self, dataset: Dataset, partition: str, directory: str | None = None) -> None:
        self.dataset = dataset
        fd, name = tempfile.mkstemp(prefix=f"{dataset.name}-{partition}-", suffix=".parquet", dir=directory)
        os.close(fd)
        self.result = SpooledPartition(dataset, partition, Path(name))
        self._writer = pq.ParquetWriter(name, dataset.arrow_schema, **PARQUET_OPTIONS)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._writer.write_batch(batch, row_group_size=READ_BATCH_ROWS)
            self.result.rows += batch.num_rows

    def __enter__(self) -> PartitionSpool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._writer.close()
        if exc_type is not None:
            self.result.discard()


PROGRESS_EVERY = 10  # chunks between progress lines


def spool_batches(dataset: Dataset, partition: str, batches: Iterable[pa.RecordBatch], log=None) -> SpooledPartition:
    """Stream batches into a local Parquet spool; memory holds one batch at a time."""
    started = time.monotonic()
    with PartitionSpool(dataset, partition) as spool:
        for done, batch in enumerate(batches, start=1):
            spool.write(batch)
            if log and done % PROGRESS_EVERY == 0:
                log.info(f"{dataset.name} {partition}: {spool.result.rows} rows after {done} chunks, "
                         f"{time.monotonic() - started:.1f}s")
    return spool.result
