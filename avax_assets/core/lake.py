"""The Parquet lake: one object per dataset partition at a predictable Hive-style path.

    <root>/<folder>/date=YYYY-MM-DD/<dataset>.parquet
    <root>/<folder>/date=YYYY-MM-DD/_published.json   what Kafka holds of it (fingerprint, messages, run)
    <root>/<folder>/date=YYYY-MM-DD/_<dataset>.parquet.candidate-<run id>   a new object awaiting its audits

The folder is the dataset's name, and for a chain's dataset `<dataset>/chain_id=<id>` (Dataset.lake_folder).

A run that also loads the day into ClickHouse stores a candidate beside the object; the load promotes it
to the object's path once the day passes its audits (a refused candidate stays, named by its run, until
the day is next promoted). The leading underscore and the suffix keep candidates out of Hive-style readers
and `*.parquet` globs. The root is a local directory or an s3:// URI (MinIO, SeaweedFS, AWS). Writes are
atomic: on S3 an object only becomes visible once its (multipart) upload or copy completes; on a local disk
the file is written under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from avax_assets.core.clickhouse import ParquetSource
from avax_assets.core.config import PREFLIGHT_S, HttpUrl, Settings, rule, setting
from avax_assets.core.errors import NotStored, SettingError, SinkUnavailable
from avax_assets.core.schema import Dataset
from avax_assets.core.spool import READ_BATCH_ROWS, RowGroupProbe, parquet_batches, read_ahead, read_conformed

if TYPE_CHECKING:
    from s3fs import S3FileSystem

PUBLISHED_MARKER = "_published.json"  # beside the object: the fingerprint of what Kafka holds of it
UPLOAD_PART_BYTES = 8 * 2**20  # multipart upload parts, two in flight: memory does not grow with the object


CANDIDATE = ".candidate-"


def candidate_path(canonical: str, run_id: str) -> str:
    """Where a run stores a new object for `canonical` until it is promoted."""
    folder, name = canonical.rsplit("/", 1)
    return f"{folder}/_{name}{CANDIDATE}{run_id}"


def fingerprint(local_file: Path) -> str:
    """sha256 of a file: equal for a partition stored again with the same content."""
    digest = hashlib.sha256()
    with open(local_file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


ROOT_SETTING = "AVAX_LAKE_ROOT"
CREDENTIAL_SETTINGS = "AVAX_S3_ACCESS_KEY_ID / AVAX_S3_SECRET_ACCESS_KEY"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SEGMENT = re.compile(r"[A-Za-z0-9!_.*'()=-]+")


def checked_root(root: str) -> str:
    """A lake root without surprises: s3://bucket[/prefix] with a valid bucket name and plain path segments
    (no `.`, `..` or empty ones), or a local directory. SettingError otherwise."""
    root = root.rstrip("/")
    if "://" not in root:
        return root
    scheme, _, rest = root.partition("://")
    if scheme != "s3":
        raise SettingError(f"{ROOT_SETTING} must be a local directory or s3://bucket[/prefix], not {scheme}://…")
    bucket, *segments = rest.split("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise SettingError(f"{ROOT_SETTING}: {bucket!r} is not a valid S3 bucket name "
                           "(3–63 characters: lower-case letters, digits, dots, hyphens)")
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment):
            raise SettingError(f"{ROOT_SETTING}: the prefix of {root!r} has the path segment {segment!r}; "
                               "use plain names separated by single slashes")
    return root


@dataclass(frozen=True)
class S3Settings:
    """How the lake reaches S3 (from LakeSettings)."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-east-1"
    timeout_s: float = 30.0
    max_attempts: int = 3


S3_ROOT = "s3://avax-assets"  # the root when an S3 endpoint is configured and no root is


KEPT_FILESYSTEMS = 8  # S3 filesystems a process keeps (one per distinct S3Settings; the oldest goes first)
_FILESYSTEMS: dict[tuple[int, S3Settings], S3FileSystem] = {}
_FILESYSTEMS_LOCK = threading.Lock()


def s3_filesystem(s3: S3Settings) -> S3FileSystem:
    """This process's S3 filesystem for `s3`, made on first use and kept: a new one costs a botocore session
    (0.1-0.3 CPU-s; an extract step made three: its sink check, its probe, its output), and one dropped is
    closed by s3fs's finalizer in whichever thread the cycle collector runs. Keyed by process: a forked child
    cannot share its parent's connections. Listings are not cached, since other processes write here."""
    import s3fs

    key = (os.getpid(), s3)
    with _FILESYSTEMS_LOCK:
        if (found := _FILESYSTEMS.get(key)) is not None:
            return found
        made = s3fs.S3FileSystem(
            key=s3.access_key_id,
            secret=s3.secret_access_key,
            endpoint_url=s3.endpoint_url,
            client_kwargs={"region_name": s3.region} if not s3.endpoint_url else {},
            config_kwargs={"connect_timeout": s3.timeout_s, "read_timeout": s3.timeout_s,
                           "retries": {"max_attempts": s3.max_attempts, "mode": "standard"}},
            skip_instance_cache=True,
            use_listings_cache=False,
        )
        _FILESYSTEMS[key] = made
        while len(_FILESYSTEMS) > KEPT_FILESYSTEMS:
            del _FILESYSTEMS[next(iter(_FILESYSTEMS))]
        return made


class LakeSettings(Settings):
    """Where partitions are stored: a local directory, or S3 (AWS, MinIO, SeaweedFS)."""

    root: Optional[Annotated[str, rule(checked_root)]] = setting(
        None, ROOT_SETTING, f"A local directory or s3://bucket[/prefix]; unset: {S3_ROOT} with an S3 endpoint, "
        "else lake/ under AVAX_HOME.")
    s3_endpoint_url: Optional[HttpUrl] = setting(None, "AVAX_S3_ENDPOINT_URL", "An S3-compatible endpoint "
                                                 "(MinIO, SeaweedFS); unset: AWS.")
    s3_access_key_id: Optional[str] = setting(None, "AVAX_S3_ACCESS_KEY_ID", "The S3 access key id.", secret=True)
    s3_secret_access_key: Optional[str] = setting(None, "AVAX_S3_SECRET_ACCESS_KEY", "The S3 secret key.",
                                                  secret=True)
    s3_region: str = setting("us-east-1", "AVAX_S3_REGION", "The AWS region (ignored with an endpoint).")
    s3_timeout_s: float = setting(30.0, "AVAX_S3_TIMEOUT_S", "Seconds per S3 connect or read.", gt=0, le=600)
    spool_dir: Optional[str] = setting(None, "AVAX_SPOOL_DIR", "Local Parquet spools of partitions being "
                                       "extracted; unset: spool/ under AVAX_HOME.")

    def s3(self) -> S3Settings:
        return S3Settings(self.s3_endpoint_url, self.s3_access_key_id, self.s3_secret_access_key, self.s3_region,
                          self.s3_timeout_s)

    def under(self, home: str) -> LakeSettings:
        """With the roots left unset placed: the lake under `home` (or the S3 root), the spools under `home`."""
        root = self.root or (S3_ROOT if self.s3_endpoint_url else f"{home}/lake")
        return self.model_copy(update={"root": root, "spool_dir": self.spool_dir or f"{home}/spool"})


class Lake:
    def __init__(self, root: str, s3: S3Settings | None = None) -> None:
        self.root = checked_root(root)
        self.is_s3 = self.root.startswith("s3://")
        self.s3 = s3 or S3Settings()
        if self.is_s3:
            self.fs = s3_filesystem(self.s3)
        else:
            self.root = str(Path(self.root).resolve())
            self.fs = fsspec.filesystem("file")

    @property
    def where(self) -> str:
        """The lake, for messages: root and endpoint with the settings that choose them."""
        if not self.is_s3:
            return f"the lake at {self.root} ({ROOT_SETTING})"
        endpoint = self.s3.endpoint_url or f"AWS S3 in {self.s3.region}"
        return f"the lake at {self.root} ({ROOT_SETTING}) on {endpoint} (AVAX_S3_ENDPOINT_URL)"

    @property
    def bucket(self) -> str:
        return self.root.removeprefix("s3://").split("/", 1)[0]

    def reach(self, timeout_s: float = PREFLIGHT_S) -> None:
        """The bucket exists (it is created if missing) and takes these credentials; or the local root is a
        writable directory. SettingError for refused credentials, SinkUnavailable for an endpoint down."""
        if not self.is_s3:
            with self.errors("prepare the directory"):
                os.makedirs(self.root, exist_ok=True)
                if not os.access(self.root, os.W_OK):
                    raise PermissionError(f"{self.root} is not writable")
            return
        probe = Lake(self.root, replace(self.s3, timeout_s=min(self.s3.timeout_s, timeout_s / 2), max_attempts=1))
        with self.errors("reach the bucket"):
            probe._ensure_bucket()

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Storage failures as the error tree's: refused credentials are a SettingError, an endpoint that
        does not answer is a SinkUnavailable; both name the lake and its settings."""
        try:
            yield
        except PermissionError as exc:
            settings = f"check {CREDENTIAL_SETTINGS}" if self.is_s3 else "check its permissions"
            raise SettingError(f"{self.where} refused to {action}: {_first_line(exc)}; {settings}") from None
        except (SettingError, SinkUnavailable):
            raise
        except Exception as exc:
            if _is_connection_error(exc):
                raise SinkUnavailable(f"{self.where} did not answer ({action}): {_first_line(exc)}") from None
            raise

    def partition_path(self, folder: str, partition: str) -> str:
        return f"{self.root}/{folder}/date={partition}/{folder.split('/')[0]}.parquet"

    def put_atomic(self, local_file: Path, dataset: str, partition: str, candidate_of: str | None = None) -> str:
        """Store the partition's object (with `candidate_of`, that run's candidate for it); returns its path."""
        target = self.partition_path(dataset, partition)
        if candidate_of:
            target = candidate_path(target, candidate_of)
        if self.is_s3:
            with self.errors(f"store {dataset} partition {partition}"):
                self._ensure_bucket()
                self.fs.put_file(str(local_file), target, chunksize=UPLOAD_PART_BYTES, max_concurrency=2)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            temporary = f"{target}.{uuid.uuid4().hex}.tmp"
            self.fs.put_file(str(local_file), temporary)
            os.replace(temporary, target)
        return target

    def promote(self, candidate: str, canonical: str) -> None:
        """Make a candidate the object (a rename here, a server-side copy on S3: either way readers see the old
        object or the new one whole), then remove every candidate left beside it (refused or killed runs')."""
        with self.errors(f"promote {candidate}"):
            if self.is_s3:
                self.fs.copy(candidate, canonical)
            else:
                os.replace(candidate, canonical)
            if leftover := self.fs.glob(candidate_path(canonical, "*")):
                self.fs.rm(leftover)

    def marker_path(self, dataset: str, partition: str) -> str:
        return f"{self.root}/{dataset}/date={partition}/{PUBLISHED_MARKER}"

    def published(self, dataset: str, partition: str) -> dict | None:
        """What was last published to Kafka of the stored partition (fingerprint, messages, run), if anything."""
        try:
            with self.errors(f"read what Kafka holds of {dataset} partition {partition}"):
                with self.fs.open(self.marker_path(dataset, partition), "rb") as handle:
                    return json.loads(handle.read())
        except FileNotFoundError:
            return None

    def mark_published(self, dataset: str, partition: str, record: dict) -> None:
        path = self.marker_path(dataset, partition)
        payload = json.dumps(record, sort_keys=True).encode()
        if self.is_s3:
            with self.errors(f"record what Kafka holds of {dataset} partition {partition}"):
                self.fs.pipe_file(path, payload)
        else:
            temporary = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(payload)
            os.replace(temporary, path)

    def open_partition(self, dataset: Dataset, partition: str) -> LakePartition:
        return LakePartition(self, self.partition_path(dataset.lake_folder, partition), dataset.arrow_schema)

    def stored(self, name: str, partition: str, candidate_of: str | None = None) -> LakePartition:
        """A handle by its folder alone (Dataset.lake_folder): its batches keep the stored types until
        `conformed_to`. With `candidate_of`, that run's candidate when there is one. A partition never stored is
        a NotStored error naming it (not the object store's own error)."""
        path = self.partition_path(name, partition)
        if candidate_of:
            candidate = candidate_path(path, candidate_of)
            with self.errors(f"find {name} {partition}"):
                if self.fs.exists(candidate):
                    return LakePartition(self, candidate, canonical=path)
        with self.errors(f"find {name} {partition}"):
            found = self.fs.exists(path)
        if not found:
            raise NotStored(f"{name} {partition} is not in {self.where}: materialize {name} for that day first")
        return LakePartition(self, path)

    def _ensure_bucket(self) -> None:
        try:
            self.fs.ls(self.bucket, refresh=True)  # unlike exists(), raises on refused credentials
        except FileNotFoundError:
            self.fs.mkdir(self.bucket)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _is_connection_error(exc: BaseException) -> bool:
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError, ConnectTimeoutError
    except ImportError:  # only local lakes without the S3 client installed
        return isinstance(exc, ConnectionError)
    return isinstance(exc, (BotoConnectionError, ConnectTimeoutError, ConnectionError, TimeoutError))


def as_parquet_stores(schema: pa.Schema) -> pa.Schema:
    """`schema` as it reads back from Parquet: timestamps in seconds come back in milliseconds."""
    def stored(field: pa.Field) -> pa.Field:
        if pa.types.is_timestamp(field.type) and field.type.unit == "s":
            return field.with_type(pa.timestamp("ms", tz=field.type.tz))
        return field
    return pa.schema([stored(field) for field in schema], metadata=schema.metadata)


@dataclass(frozen=True)
class LakePartition:
    """A handle on one stored partition; reading streams row groups instead of loading the file."""

    lake: Lake
    path: str
    schema: pa.Schema | None = None  # the declared schema batches are cast to (None: as stored)
    canonical: str | None = None  # set when this is a candidate: the object's path, where `promote` puts it

    def conformed_to(self, dataset: Dataset) -> LakePartition:
        return replace(self, schema=dataset.arrow_schema)

    def promote(self) -> LakePartition:
        """A candidate made the partition's object (once its day passed the load's audits); the object as is."""
        if self.canonical is None:
            return self
        self.lake.promote(self.path, self.canonical)
        return replace(self, path=self.canonical, canonical=None)

    def iter_batches(self, batch_rows: int = READ_BATCH_ROWS, probe: RowGroupProbe | None = None
                     ) -> Iterator[pa.RecordBatch]:
        """The partition's rows, read ahead; with a `probe`, only the row groups it wants (spool.parquet_batches)."""
        return read_ahead(self._batches(batch_rows, probe))

    def _batches(self, batch_rows: int, probe: RowGroupProbe | None) -> Iterator[pa.RecordBatch]:
        with self.lake.fs.open(self.path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            if self.schema is None:
                yield from parquet_batches(parquet, batch_rows, probe=probe)
            else:
                yield from read_conformed(parquet, self.schema, batch_rows, probe)

    def stored_as(self, dataset: Dataset) -> bool:
        """Whether the object holds exactly the declared columns and types as Parquet stores them (no
        conforming needed): a timestamp declared in seconds is stored in milliseconds, Parquet having no unit
        of seconds (an engine reading the object casts it back, exactly: the values are whole seconds)."""
        with self.lake.fs.open(self.path, "rb") as handle:
            stored = pq.ParquetFile(handle).schema_arrow.remove_metadata()
        return stored.equals(as_parquet_stores(dataset.arrow_schema).remove_metadata())

    def parquet_source(self) -> ParquetSource:
        """The object as a ClickHouse table function, for an engine that shares this machine's view of the lake."""
        if not self.lake.is_s3:
            return ParquetSource.file(self.path)
        s3 = self.lake.s3
        bucket, _, key = self.path.removeprefix("s3://").partition("/")
        url = (f"{s3.endpoint_url.rstrip('/')}/{bucket}/{key}" if s3.endpoint_url
               else f"https://{bucket}.s3.{s3.region}.amazonaws.com/{key}")
        return ParquetSource.s3(url, s3.access_key_id, s3.secret_access_key)

    @property
    def num_rows(self) -> int:
        with self.lake.fs.open(self.path, "rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows

    def read(self) -> pa.Table:
        """Whole partition in memory: for tests and small partitions only."""
        return pa.Table.from_batches(list(self.iter_batches()), schema=self.schema)
