"""Before the lake and Kafka, a complete spool is held to what ClickHouse's audits would refuse and the data
alone can tell (core/spool.py PartitionKeys): every natural key once, and no gap in a dataset of one row
per block. A failure leaves no spool behind."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from avax_assets.chain.datasets import BLOCKS, LOGS
from avax_assets.core.errors import PartitionCheckFailed
from avax_assets.core.spool import PartitionKeys, repeated, spool_together

DAY = "2024-06-02"


def h(*parts) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


def batch_of(dataset, rows: list[dict]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([{c: row.get(c) for c in dataset.column_names} for row in rows],
                                      schema=dataset.arrow_schema)


def log_rows(keys) -> list[dict]:
    return [{"block_number": b, "block_timestamp": 1717286400, "block_hash": h(b), "transaction_hash": h(b, i),
             "transaction_index": 0, "log_index": i, "address": "0x" + "04" * 20, "data": "0x"} for b, i in keys]


def test_a_key_twice_in_a_partition_fails_it_before_the_lake(tmp_path):
    twice = [{"logs": batch_of(LOGS, log_rows([(1, 0), (1, 1)]))}, {"logs": batch_of(LOGS, log_rows([(2, 0), (1, 1)]))}]
    with pytest.raises(PartitionCheckFailed) as failed:
        spool_together([LOGS], DAY, twice, directory=str(tmp_path))
    assert str(failed.value) == (f"dataset 'logs' partition {DAY}: check unique_keys failed before anything was "
                                 "stored: key (block_number, log_index) = (1, 1) appears 2 times")
    assert list(tmp_path.iterdir()) == []


def test_keys_sharing_a_hash_are_confirmed_on_the_exact_keys(tmp_path, monkeypatch):
    from avax_assets.core import spool

    monkeypatch.setattr(spool, "_key_hashes", lambda keys: pl.Series([7] * keys.height, dtype=pl.UInt64))
    spooled = spool_together([LOGS], DAY, [{"logs": batch_of(LOGS, log_rows([(1, 0), (1, 1), (2, 0)]))}],
                             directory=str(tmp_path))
    assert spooled["logs"].rows == 3


def test_a_gap_in_a_days_blocks_fails_it_before_the_lake(tmp_path):
    rows = [{"block_number": n, "block_timestamp": 1717286400, "block_hash": h(n), "parent_hash": h(n - 1),
             "gas_limit": 1, "gas_used": 1, "transaction_count": 0} for n in (10, 11, 13)]
    with pytest.raises(PartitionCheckFailed, match="check contiguous_blocks failed before anything was stored: "
                                                   "blocks 10..13 hold 3 rows, 1 missing"):
        spool_together([BLOCKS], DAY, [{"blocks": batch_of(BLOCKS, rows)}], directory=str(tmp_path))
    keys = PartitionKeys(BLOCKS, DAY, spill=tmp_path / "spool.parquet")
    keys.add(batch_of(BLOCKS, rows[:2]))
    keys.prove(tmp_path / "unused.parquet")  # 10, 11: contiguous, unique


def test_keys_beyond_what_memory_holds_are_proven_from_their_files_and_the_files_removed(tmp_path, monkeypatch):
    from avax_assets.core import spool

    monkeypatch.setattr(spool, "KEYS_HELD", 4)
    chunks = [{"logs": batch_of(LOGS, log_rows([(b, i) for i in range(3)]))} for b in range(1, 40)]
    spooled = spool_together([LOGS], DAY, chunks, directory=str(tmp_path))
    assert spooled["logs"].rows == 117
    assert [p.name for p in tmp_path.iterdir()] == [spooled["logs"].path.name]  # no key files left
    spooled["logs"].discard()
    twice = [*chunks, {"logs": batch_of(LOGS, log_rows([(7, 2)]))}]  # block 7's last log again, 3 files later
    with pytest.raises(PartitionCheckFailed, match=r"key \(block_number, log_index\) = \(7, 2\) appears 2 times"):
        spool_together([LOGS], DAY, twice, directory=str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    rows = [{"block_number": n, "block_timestamp": 1717286400, "block_hash": h(n), "parent_hash": h(n - 1),
             "gas_limit": 1, "gas_used": 1, "transaction_count": 0} for n in (*range(10, 20), *range(21, 30))]
    with pytest.raises(PartitionCheckFailed, match="blocks 10..29 hold 19 rows, 1 missing"):
        spool_together([BLOCKS], DAY, [{"blocks": batch_of(BLOCKS, rows[i:i + 2])} for i in range(0, 19, 2)],
                       directory=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_repeated_finds_each_value_seen_more_than_once_once():
    values = np.array([5, 1, 9, 5, 2, 9, 9, 7], dtype=np.uint64)
    assert repeated(values).tolist() == [5, 9]
    assert repeated(np.array([3, 1, 2], dtype=np.uint64)).tolist() == []
    assert repeated(np.array([], dtype=np.uint64)).tolist() == []
