"""The Parquet lake: one object per dataset partition at a predictable Hive-style path.

    <root>/<dataset>/date=YYYY-MM-DD/<dataset>.parquet
    <root>/<dataset>/date=YYYY-MM-DD/_published.json   what Kafka holds of it (fingerprint, messages, run)

The root is a local directory or an s3:// URI (MinIO, SeaweedFS, AWS). Writes are atomic: on S3 an
object only becomes visible once its (multipart) upload completes; on a local disk the file is
written under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from avax_assets.core.schema import Dataset
from avax_assets.core.settings import S3Settings
from avax_assets.core.spool import READ_BATCH_ROWS, read_conformed



PUBLISHED_MARKER = "_published.json"  # beside the object: the fingerprint of what Kafka holds of it


def fingerprint(local_file: Path) -> str:
    """sha256 of a file: equal for a partition stored again with the same content."""
    digest = hashlib.sha256()
    with open(local_file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Lake:
    def __init__(self, root: str, s3: S3Settings | None = None) -> None:
        self.root = root.rstrip("/")
        self.is_s3 = self.root.startswith("s3://")
        if self.is_s3:
            import s3fs

            s3 = s3 or S3Settings()
            self.fs = s3fs.S3FileSystem(
                key=s3.access_key_id,
                secret=s3.secret_access_key,
                endpoint_url=s3.endpoint_url,
                client_kwargs={"region_name": s3.region} if not s3.endpoint_url else {},
                skip_instance_cache=True,
            )
        else:
            self.root = str(Path(self.root).resolve())
            self.fs = fsspec.filesystem("file")

    def partition_path(self, dataset: str, partition: str) -> str:
        return f"{self.root}/{dataset}/date={partition}/{dataset}.parquet"

    def put_atomic(self, local_file: Path, dataset: str, partition: str) -> str:
        target = self.partition_path(dataset, partition)
        if self.is_s3:
            self._ensure_bucket()
            self.fs.put_file(str(local_file), target)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            temporary = f"{target}.{uuid.uuid4().hex}.tmp"
            self.fs.put_file(str(local_file), temporary)
            os.replace(temporary, target)
        return target

    def marker_path(self, dataset: str, partition: str) -> str:
        return f"{self.root}/{dataset}/date={partition}/{PUBLISHED_MARKER}"

    def published(self, dataset: str, partition: str) -> dict | None:
        """What was last published to Kafka of the stored partition (fingerprint, messages, run), if anything."""
        try:
            with self.fs.open(self.marker_path(dataset, partition), "rb") as handle:
                return json.loads(handle.read())
        except FileNotFoundError:
            return None

    def mark_published(self, dataset: str, partition: str, record: dict) -> None:
        path = self.marker_path(dataset, partition)
        payload = json.dumps(record, sort_keys=True).encode()
        if self.is_s3:
            self.fs.pipe_file(path, payload)
        else:
            temporary = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(payload)
            os.replace(temporary, path)

    def open_partition(self, dataset: Dataset, partition: str) -> LakePartition:
        return LakePartition(self, self.partition_path(dataset.name, partition), dataset.arrow_schema)

    def stored(self, name: str, partition: str) -> LakePartition:
        """A handle by dataset name alone: its batches keep the stored types until `conformed_to`."""
        return LakePartition(self, self.partition_path(name, partition))

    def _ensure_bucket(self) -> None:
        bucket = self.root.removeprefix("s3://").split("/", 1)[0]
        if not self.fs.exists(bucket):
            self.fs.mkdir(bucket)


@dataclass(frozen=True)
class LakePartition:
    """A handle on one stored partition; reading streams row groups instead of loading the file."""

    lake: Lake
    path: str
    schema: pa.Schema | None = None  # the declared schema batches are cast to (None: as stored)

    def conformed_to(self, dataset: Dataset) -> LakePartition:
        return LakePartition(self.lake, self.path, dataset.arrow_schema)

    def iter_batches(self, batch_rows: int = READ_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        with self.lake.fs.open(self.path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            if self.schema is None:
                yield from parquet.iter_batches(batch_size=batch_rows)
            else:
                yield from read_conformed(parquet, self.schema, batch_rows)

    @property
    def num_rows(self) -> int:
        with self.lake.fs.open(self.path, "rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows

    def read(self) -> pa.Table:
        """Whole partition in memory: for tests and small partitions only."""
        return pa.Table.from_batches(list(self.iter_batches()), schema=self.schema)
