"""The Parquet lake: exact paths, atomic writes, streaming reads — on local disk and on real S3."""

import multiprocessing
import tempfile
import threading
import uuid

import pyarrow as pa
import pytest

from avax_assets.chain.datasets import BLOCKS, LOGS
from avax_assets.core import lake as lake_module
from avax_assets.core.errors import SettingError, SinkUnavailable
from avax_assets.core.lake import Lake
from avax_assets.core.lake import S3Settings
from avax_assets.core.spool import PartitionSpool, read_ahead


def sample_batch(n: int) -> pa.RecordBatch:
    rows = [{c.name: None for c in BLOCKS.columns} | {"chain_id": 43114,
        "block_number": i, "block_timestamp": 1717200000 + i, "block_hash": f"0x{i:064x}",
        "parent_hash": "0x" + "0" * 64,
        "miner": "0x" + "0" * 40, "state_root": "0x" + "1" * 64, "transactions_root": "0x" + "2" * 64,
        "receipts_root": "0x" + "3" * 64, "extra_data": "0x", "size": 500, "gas_limit": 30_000_000, "gas_used": 21000,
        "difficulty": "0", "transaction_count": 1, "base_fee_per_gas": str(2**200 + i),
    } for i in range(n)]
    return pa.RecordBatch.from_pylist(rows, schema=BLOCKS.arrow_schema)


@pytest.fixture(autouse=True)
def spools_in_the_tests_directory(tmp_path, monkeypatch):
    """The spools `spool` writes without a directory land in the test's own, not in the machine's /tmp."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def spool(batches, partition="2024-06-01"):
    with PartitionSpool(BLOCKS, partition) as writer:
        for batch in batches:
            writer.write(batch)
    return writer.result


def test_local_lake_path_and_atomic_write(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    spooled = spool([sample_batch(10), sample_batch(5)])
    path = lake.put_atomic(spooled.path, BLOCKS.lake_folder, "2024-06-01")
    assert path == f"{tmp_path}/lake/blocks/chain_id=43114/date=2024-06-01/blocks.parquet"
    folder = tmp_path / "lake" / "blocks" / "chain_id=43114" / "date=2024-06-01"
    assert sorted(p.name for p in folder.iterdir()) == ["blocks.parquet"]
    table = lake.open_partition(BLOCKS, "2024-06-01").read()
    assert table.num_rows == 15
    assert table.column("base_fee_per_gas")[3].as_py() == str(2**200 + 3)


def test_a_candidate_waits_beside_the_object_until_promoted(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    folder = tmp_path / "lake" / "blocks" / "chain_id=43114" / "date=2024-06-01"
    lake.put_atomic(spool([sample_batch(3)]).path, BLOCKS.lake_folder, "2024-06-01")
    good = (folder / "blocks.parquet").read_bytes()
    refused = lake.put_atomic(spool([sample_batch(4)]).path, BLOCKS.lake_folder, "2024-06-01", candidate_of="run-a")
    assert refused == f"{folder}/_blocks.parquet.candidate-run-a"
    passing = lake.stored(BLOCKS.lake_folder, "2024-06-01", candidate_of="run-b")  # run-b stored no candidate
    assert (passing.path, passing.canonical) == (f"{folder}/blocks.parquet", None)
    lake.put_atomic(spool([sample_batch(5)]).path, BLOCKS.lake_folder, "2024-06-01", candidate_of="run-b")
    candidate = lake.stored(BLOCKS.lake_folder, "2024-06-01", candidate_of="run-b")
    assert candidate.num_rows == 5 and (folder / "blocks.parquet").read_bytes() == good
    promoted = candidate.promote()
    assert promoted.path == f"{folder}/blocks.parquet" and lake.open_partition(BLOCKS, "2024-06-01").num_rows == 5
    assert sorted(p.name for p in folder.iterdir()) == ["blocks.parquet"]  # run-a's refused candidate went too


def test_a_failed_spool_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with PartitionSpool(BLOCKS, "2024-06-01", directory=str(tmp_path)) as writer:
            writer.write(sample_batch(3))
            raise RuntimeError("extraction failed")
    assert list(tmp_path.iterdir()) == []


def test_s3_lake_on_seaweedfs_with_credentials(stack):
    creds = stack.s3.credentials()
    settings = S3Settings(stack.s3.endpoint, creds["access_key_id"], creds["secret_access_key"])
    lake = Lake("s3://avax-lake-test", settings)
    spooled = spool([sample_batch(20)])
    path = lake.put_atomic(spooled.path, BLOCKS.lake_folder, "2024-06-02")
    assert path == "s3://avax-lake-test/blocks/chain_id=43114/date=2024-06-02/blocks.parquet"
    handle = lake.open_partition(BLOCKS, "2024-06-02")
    assert handle.num_rows == 20
    assert sum(b.num_rows for b in handle.iter_batches(batch_rows=6)) == 20
    assert handle.read().equals(pa.Table.from_batches([BLOCKS.stamped(sample_batch(20))]))
    lake.put_atomic(spool([sample_batch(21)]).path, BLOCKS.lake_folder, "2024-06-02", candidate_of="run-a")
    lake.put_atomic(spool([sample_batch(22)]).path, BLOCKS.lake_folder, "2024-06-02", candidate_of="run-b")
    assert lake.open_partition(BLOCKS, "2024-06-02").num_rows == 20  # candidates wait beside the object
    assert lake.stored(BLOCKS.lake_folder, "2024-06-02", candidate_of="run-b").promote().num_rows == 22
    assert lake.fs.ls("avax-lake-test/blocks/chain_id=43114/date=2024-06-02", refresh=True) == [
        "avax-lake-test/blocks/chain_id=43114/date=2024-06-02/blocks.parquet"]


def test_a_process_keeps_one_s3_filesystem_per_settings_and_a_forked_child_makes_its_own():
    settings = S3Settings("http://127.0.0.1:9", "key", "secret")
    kept = Lake("s3://avax-lake-test", settings).fs
    assert Lake("s3://avax-lake-other/prefix", settings).fs is kept
    assert Lake("s3://avax-lake-test", S3Settings("http://127.0.0.1:9", "key", "other")).fs is not kept
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_own_filesystem_after_fork, (settings,)) is True
    for n in range(lake_module.KEPT_FILESYSTEMS):  # bounded: the oldest goes first
        Lake("s3://avax-lake-test", S3Settings("http://127.0.0.1:9", "key", f"secret-{n}"))
    assert Lake("s3://avax-lake-test", settings).fs is not kept


def _own_filesystem_after_fork(settings: S3Settings) -> bool:
    import os
    inherited = [fs for (pid, s3), fs in lake_module._FILESYSTEMS.items() if s3 == settings and pid != os.getpid()]
    return len(inherited) == 1 and Lake("s3://avax-lake-test", settings).fs is not inherited[0]


def test_an_object_another_process_stored_is_found_after_a_listing(stack):
    creds = stack.s3.credentials()
    settings = S3Settings(stack.s3.endpoint, creds["access_key_id"], creds["secret_access_key"])
    lake = Lake(f"s3://avax-lake-{uuid.uuid4().hex[:8]}", settings)
    lake.reach()
    folder = f"{lake.bucket}/{BLOCKS.lake_folder}"
    lake.put_atomic(spool([sample_batch(2)]).path, BLOCKS.lake_folder, "2024-06-03")
    assert len(lake.fs.ls(folder)) == 1
    other = lake_module.s3_filesystem(S3Settings(stack.s3.endpoint, creds["access_key_id"],
                                                 creds["secret_access_key"], timeout_s=29.0))  # not `lake.fs`
    other.put_file(str(spool([sample_batch(3)]).path), lake.partition_path(BLOCKS.lake_folder, "2024-06-04"))
    assert lake.stored(BLOCKS.lake_folder, "2024-06-04").num_rows == 3
    assert len(lake.fs.ls(folder)) == 2


def test_a_wrong_secret_is_refused_naming_the_lake_and_the_credential_settings(stack):
    creds = stack.s3.credentials()
    lake = Lake("s3://avax-lake-test", S3Settings(stack.s3.endpoint, creds["access_key_id"], "wrong-secret"))
    with pytest.raises(SettingError) as refused:
        lake.reach()
    assert str(refused.value).startswith(f"the lake at s3://avax-lake-test (AVAX_LAKE_ROOT) on {stack.s3.endpoint} "
                                         "(AVAX_S3_ENDPOINT_URL) refused to reach the bucket: ")
    assert "check AVAX_S3_ACCESS_KEY_ID / AVAX_S3_SECRET_ACCESS_KEY" in str(refused.value)
    assert "wrong-secret" not in str(refused.value)


def test_an_s3_endpoint_that_is_down_is_unavailable_within_the_preflight_bound():
    lake = Lake("s3://avax-lake-test", S3Settings("http://127.0.0.1:9", "key", "secret"))
    with pytest.raises(SinkUnavailable, match=r"the lake at s3://avax-lake-test .* on http://127.0.0.1:9 "
                                              r"\(AVAX_S3_ENDPOINT_URL\) did not answer \(reach the bucket\)"):
        lake.reach(timeout_s=2)


@pytest.mark.parametrize("root", ["s3://bucket/../x", "s3://bucket/a//b", "s3://Bucket", "s3://b", "gs://bucket"])
def test_a_lake_root_outside_the_rules_is_refused_before_any_request(root):
    with pytest.raises(SettingError, match="AVAX_LAKE_ROOT"):
        Lake(root)


def test_an_object_written_before_a_nullable_column_was_declared_reads_with_it_null(tmp_path):
    import pyarrow.parquet as pq

    from avax_assets.chain.datasets import BLOCKS
    from avax_assets.core.errors import PartitionLoadError
    from avax_assets.core.spool import read_conformed

    older = pa.schema([f for f in BLOCKS.arrow_schema if f.name not in ("ext_data_hash", "min_delay_excess")])
    rows = [{f.name: None for f in older} | {"chain_id": 43114, "block_number": 7, "block_timestamp": 1717200000,
                                             "block_hash": "0xab",
                                             "parent_hash": "0xcd", "gas_limit": 1, "gas_used": 0,
                                             "transaction_count": 0}]
    pq.write_table(pa.Table.from_pylist(rows, schema=older), tmp_path / "old.parquet")
    [batch] = read_conformed(pq.ParquetFile(tmp_path / "old.parquet"), BLOCKS.arrow_schema, 100)
    assert batch.schema.names == BLOCKS.arrow_schema.names
    assert batch.column("ext_data_hash").null_count == 1 and batch.column("block_number").to_pylist() == [7]
    required = pa.schema([f for f in BLOCKS.arrow_schema if f.name != "gas_used"])
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in rows[0].items() if k != "gas_used"}], schema=required),
                   tmp_path / "broken.parquet")
    with pytest.raises(PartitionLoadError, match="'gas_used'"):
        list(read_conformed(pq.ParquetFile(tmp_path / "broken.parquet"), BLOCKS.arrow_schema, 100))


def test_a_full_spool_disk_is_said_naming_the_directory_and_its_setting(tmp_path, monkeypatch):
    """FAKE, on purpose: the disk fills at the first write (no real disk fills on cue)."""
    import errno

    import pyarrow.parquet as pq

    from avax_assets.core.spool import PartitionSpool

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", full)
    row = {c.name: None for c in BLOCKS.columns}
    row.update(block_number=1, block_timestamp=0, block_hash="0x" + "1" * 64, parent_hash="0x" + "0" * 64,
               gas_limit=1, gas_used=0, transaction_count=0)
    batch = pa.RecordBatch.from_pylist([row], schema=BLOCKS.arrow_schema)
    directory = str(tmp_path / "spool")
    with pytest.raises(SettingError) as refused, PartitionSpool(BLOCKS, "2024-06-02", directory) as spool:
        spool.write(batch)
    assert str(tmp_path / "spool") in str(refused.value) and "AVAX_SPOOL_DIR" in str(refused.value)
    assert "is full" in str(refused.value) and not list((tmp_path / "spool").iterdir())  # nothing left behind


def test_an_object_of_the_declared_columns_is_read_by_the_engine_itself(tmp_path):
    """Parquet stores a timestamp in seconds as milliseconds: the object still holds the declared columns, so a
    load has the embedded engine read it (INSERT … SELECT FROM file()/s3()) rather than Python, batch by batch."""
    lake = Lake(str(tmp_path / "lake"))
    lake.put_atomic(spool([sample_batch(3)]).path, BLOCKS.lake_folder, "2024-06-01")
    stored = lake.open_partition(BLOCKS, "2024-06-01")
    assert stored.stored_as(BLOCKS)
    assert not stored.stored_as(LOGS)


def log_chunk(first: int, rows: int) -> pa.RecordBatch:
    """`rows` logs of distinct keys, hashes that hardly compress (as real ones)."""
    numbers = range(first, first + rows)
    hexes = pa.array([f"0x{(n * 0x9E3779B97F4A7C15) % 2**256:064x}" for n in numbers])
    columns = {"chain_id": pa.array([43114] * rows), "block_number": pa.array(list(numbers)),
               "block_timestamp": pa.array([1717200000] * rows), "block_hash": hexes, "transaction_hash": hexes,
               "transaction_index": pa.array([0] * rows), "log_index": pa.array([0] * rows),
               "address": pa.array(["0x" + "04" * 20] * rows), "topic0": hexes, "topic1": hexes, "topic2": None,
               "topic3": None, "data": hexes}
    return pa.RecordBatch.from_arrays([
        pa.nulls(rows, f.type) if columns[f.name] is None else columns[f.name].cast(f.type)
        for f in LOGS.arrow_schema], schema=LOGS.arrow_schema)


def test_reading_a_spool_or_an_object_back_takes_the_same_memory_for_a_bigger_file(tmp_path):
    """Published to Kafka and loaded from the lake batch by batch, a day's file is read back with the memory of
    a row group (a chunk), whatever the file's size: a reader over the whole file kept what it pre-buffered."""
    small, large = (most_held_reading(tmp_path / f"{chunks}", chunks) for chunks in (10, 40))
    for (name, few), (_, many) in zip(small.items(), large.items(), strict=True):
        assert many < 1.2 * few, f"{name}: {few / 2**20:.1f} MiB held reading 10 chunks, {many / 2**20:.1f} MiB 40"


def most_held_reading(directory, chunks: int, chunk_rows: int = 5_000) -> dict[str, int]:
    """The most Arrow memory held while a spool of `chunks` row groups, and the lake object made of it, are read
    back batch by batch."""
    with PartitionSpool(LOGS, "2024-06-01", str(directory)) as writer:
        for index in range(chunks):
            writer.write(log_chunk(index * chunk_rows, chunk_rows))
    lake = Lake(str(directory / "lake"))
    lake.put_atomic(writer.result.path, LOGS.lake_folder, "2024-06-01")
    held = {}
    for name, batches in (("spool", writer.result.iter_batches()),
                          ("lake", lake.open_partition(LOGS, "2024-06-01").iter_batches())):
        before, most, rows = pa.total_allocated_bytes(), 0, 0
        for batch in batches:
            rows += batch.num_rows
            most = max(most, pa.total_allocated_bytes() - before)
        assert rows == chunk_rows * chunks
        held[name] = most
    return held


def test_a_probe_reads_whole_only_the_row_groups_it_wants(tmp_path):
    """A rare event's logs: the probe reads the topic0 column of each row group (a chunk), and the rest of a row
    group only when one of its logs has the event's signature."""
    with PartitionSpool(LOGS, "2024-06-01", str(tmp_path)) as writer:
        for index in range(4):
            writer.write(log_chunk(index * 100, 100))
    lake = Lake(str(tmp_path / "lake"))
    lake.put_atomic(writer.result.path, LOGS.lake_folder, "2024-06-01")
    wanted = log_chunk(250, 1).column("topic0")[0].as_py()  # a log of the third chunk
    probed = []

    def probe(logs: pa.Table) -> bool:
        probed.append(logs.column_names)
        return wanted in logs.column("topic0").to_pylist()

    batches = list(lake.open_partition(LOGS, "2024-06-01").iter_batches(probe=(["topic0"], probe)))
    assert probed == [["topic0"]] * 4
    assert [b.column("block_number")[0].as_py() for b in batches] == [200] and batches[0].num_rows == 100
    assert batches[0].schema == LOGS.arrow_schema


def test_read_ahead_reads_the_next_batch_while_the_caller_works_and_closes_its_source():
    events = []
    consumer_has_one = threading.Event()

    def source():
        try:
            for n in range(3):
                if n == 2:  # read only while the caller holds batch 1: the reading overlaps the caller's work
                    assert consumer_has_one.wait(5)
                events.append(("read", n, threading.current_thread().name.startswith("read-ahead")))
                yield n
        finally:
            events.append(("closed", threading.current_thread() is threading.main_thread()))

    items = read_ahead(source())
    assert next(items) == 0
    assert next(items) == 1
    consumer_has_one.set()
    items.close()  # the caller stops early: the source is closed once its reader is done, in the caller's thread
    assert events == [("read", 0, True), ("read", 1, True), ("read", 2, True), ("closed", True)]


def test_read_ahead_raises_the_sources_error_where_the_caller_reads():
    def source():
        yield 1
        raise SinkUnavailable("S3 at http://127.0.0.1:1 did not answer")

    items = read_ahead(source())
    assert next(items) == 1
    with pytest.raises(SinkUnavailable, match="did not answer"):
        next(items)
