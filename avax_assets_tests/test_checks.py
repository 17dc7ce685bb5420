"""The audits behind the asset checks: they pass on the loaded devchain day and fail on bad data."""

import datetime as dt

import dagster as dg
import pyarrow as pa

from avax_assets.checks import Loaded, contiguous_blocks, rows_match_parquet, unique_keys
from avax_assets.datasets import BLOCKS
from avax_assets.definitions import chain_assets
from avax_assets.sinks.clickhouse import ClickHouseWarehouse

DAY = dt.date(2024, 6, 3)


def block(number: int) -> dict:
    row = {c.name: None for c in BLOCKS.columns}
    row.update(block_number=number, block_timestamp=int(dt.datetime(2024, 6, 3, 1, tzinfo=dt.timezone.utc).timestamp()) + number,
               block_hash=f"0x{number:064x}", parent_hash="0x" + "0" * 64, miner="0x" + "0" * 40,
               state_root="0x" + "0" * 64, transactions_root="0x" + "0" * 64, receipts_root="0x" + "0" * 64,
               extra_data="0x", size=1, gas_limit=1, gas_used=0, difficulty="0", transaction_count=0)
    return row


def test_checks_pass_on_a_loaded_devchain_day(resources):
    result = dg.materialize(chain_assets, partition_key=DAY.isoformat(), resources=resources)
    evaluations = result.get_asset_check_evaluations()
    assert {(e.asset_key.path[-1], e.check_name) for e in evaluations} >= {
        ("clickhouse_blocks", "contiguous_blocks"), ("clickhouse_blocks", "unique_keys"),
        ("clickhouse_transactions", "rows_match_parquet"), ("clickhouse_logs", "unique_keys")}
    assert all(e.passed for e in evaluations)


def batch(numbers) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([block(n) for n in numbers], schema=BLOCKS.arrow_schema)


def test_audits_fail_on_lost_rows_and_gaps(resources):
    warehouse = ClickHouseWarehouse(resources["clickhouse"].warehouse().client, "audit_test")
    # 11 twice in one insert (the engine collapses it: a lost row), 12 missing
    warehouse.replace_partition(BLOCKS, DAY, [batch([10, 11, 11, 13])])
    loaded = Loaded(warehouse, BLOCKS, DAY, parquet_rows=4)
    assert rows_match_parquet(loaded).passed is False
    assert rows_match_parquet(loaded).metadata == {"clickhouse_rows": 3, "parquet_rows": 4}
    assert contiguous_blocks(loaded).passed is False
    assert contiguous_blocks(loaded).metadata["missing_blocks"] == 1


def test_unique_keys_fails_on_duplicates_across_parts(resources):
    warehouse = ClickHouseWarehouse(resources["clickhouse"].warehouse().client, "audit_test_dups")
    warehouse.ensure_table(BLOCKS)
    warehouse.client.command("SYSTEM STOP MERGES audit_test_dups.blocks")  # keep both parts apart
    warehouse.replace_partition(BLOCKS, DAY, [batch([10, 11]), batch([11, 12])])
    loaded = Loaded(warehouse, BLOCKS, DAY, parquet_rows=4)
    assert unique_keys(loaded) == unique_keys(loaded).__class__(False, {"rows": 4, "duplicate_keys": 1})
    assert contiguous_blocks(loaded).passed
