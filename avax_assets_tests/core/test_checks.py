"""The audits behind the asset checks: they pass on the loaded devchain day and fail on bad data."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.chain.datasets import BLOCKS
from avax_assets.core.audits import Loaded, contiguous_blocks, rows_match_parquet, unique_keys
from avax_assets.core.clickhouse import ClickHouseWarehouse, create_table_sql
from avax_assets.core.errors import PartitionLoadError

DAY = dt.date(2024, 6, 3)


def block(number: int) -> dict:
    row = {c.name: None for c in BLOCKS.columns}
    row.update(block_number=number,
               block_timestamp=int(dt.datetime(2024, 6, 3, 1, tzinfo=dt.timezone.utc).timestamp()) + number,
               block_hash=f"0x{number:064x}", parent_hash="0x" + "0" * 64, miner="0x" + "0" * 40,
               state_root="0x" + "0" * 64, transactions_root="0x" + "0" * 64, receipts_root="0x" + "0" * 64,
               extra_data="0x", size=1, gas_limit=1, gas_used=0, difficulty="0", transaction_count=0)
    return row


def test_checks_pass_on_a_loaded_devchain_day(resources):
    result = dg.materialize(Catalogue().scope("chain"), partition_key=DAY.isoformat(), resources=resources)
    evaluations = result.get_asset_check_evaluations()
    assert {(e.asset_key.path[-1], e.check_name) for e in evaluations} >= {
        ("clickhouse_blocks", "contiguous_blocks"), ("clickhouse_blocks", "unique_keys"),
        ("clickhouse_transactions", "rows_match_parquet"), ("clickhouse_logs", "unique_keys"),
        ("clickhouse_blocks", "adjacent_days_contiguous"), ("clickhouse_transactions", "parent_counts_match"),
        ("clickhouse_logs", "parent_counts_match"), ("clickhouse_erc20_transfers", "joins_parent"),
        ("clickhouse_internal_transactions", "joins_parent"), ("erc1155_transfers", "no_malformed_logs")}
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


def row_of(dataset, **values) -> dict:
    """A valid row of any declared dataset: type defaults, overridden by `values`."""
    defaults = {"UInt8": 0, "UInt32": 0, "UInt64": 0, "UInt256": "0", "String": "0x",
                "DateTime('UTC')": int(dt.datetime(2024, 6, 3, 1, tzinfo=dt.timezone.utc).timestamp())}
    row = {c.name: None if c.nullable else defaults[c.type.clickhouse] for c in dataset.columns}
    return {**row, **values}


def load(warehouse, dataset, rows, day=DAY):
    warehouse.replace_partition(dataset, day, [pa.RecordBatch.from_pylist(rows, schema=dataset.arrow_schema)])


def test_parent_audits_fail_on_orphans_and_wrong_counts(resources):
    from avax_assets.core.audits import joins_parent, parent_counts_match
    from avax_assets.chain.datasets import LOGS, TRANSACTIONS

    warehouse = ClickHouseWarehouse(resources["clickhouse"].warehouse().client, "audit_parent")
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=1, transaction_count=2),
                             row_of(BLOCKS, block_number=2, transaction_count=0)])
    load(warehouse, TRANSACTIONS, [row_of(TRANSACTIONS, block_number=1, transaction_hash="0xa1", logs_count=1),
                                   row_of(TRANSACTIONS, block_number=1, transaction_hash="0xa2", logs_count=0)])
    loaded = Loaded(warehouse, TRANSACTIONS, DAY, parquet_rows=2)
    assert joins_parent(loaded).passed and parent_counts_match(loaded).passed

    # block 1 says 2 transactions; one goes missing and one appears in a block that does not exist
    load(warehouse, TRANSACTIONS, [row_of(TRANSACTIONS, block_number=1, transaction_hash="0xa1", logs_count=1),
                                   row_of(TRANSACTIONS, block_number=9, transaction_hash="0xa9")])
    assert joins_parent(loaded).metadata["rows_without_parent"] == 1
    assert parent_counts_match(loaded).metadata["parents_with_wrong_count"] == 1

    load(warehouse, LOGS, [row_of(LOGS, transaction_hash="0xa1", log_index=0),
                           row_of(LOGS, transaction_hash="0xa1", log_index=1)])
    logs = Loaded(warehouse, LOGS, DAY, parquet_rows=2)
    assert joins_parent(logs).passed
    assert not parent_counts_match(logs).passed  # 0xa1 declares 1 log, has 2


def test_adjacent_days_must_be_contiguous(resources):
    from avax_assets.core.audits import adjacent_days_contiguous

    warehouse = ClickHouseWarehouse(resources["clickhouse"].warehouse().client, "audit_adjacent")
    day_before = DAY - dt.timedelta(days=1)
    stamp = int(dt.datetime.combine(day_before, dt.time(12), dt.timezone.utc).timestamp())
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=n) for n in (20, 21)])
    loaded = Loaded(warehouse, BLOCKS, DAY, parquet_rows=2)
    assert adjacent_days_contiguous(loaded).passed  # the day before is not loaded: nothing to compare
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=18, block_timestamp=stamp)], day_before)
    assert not adjacent_days_contiguous(loaded).passed  # block 19 is missing between the days
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=n, block_timestamp=stamp) for n in (18, 19)], day_before)
    assert adjacent_days_contiguous(loaded).passed


def test_a_table_from_an_older_declaration_is_refused(resources):
    client = resources["clickhouse"].warehouse().client
    client.command("CREATE DATABASE IF NOT EXISTS drift_test")
    client.command("DROP TABLE IF EXISTS drift_test.blocks")
    client.command(create_table_sql(BLOCKS, "drift_test").replace("miner Nullable(String)", "miner String"))
    with pytest.raises(PartitionLoadError, match=r"dataset 'blocks': table drift_test.blocks does not match its "
                                                 r"declaration .*'miner', 'String'"):
        ClickHouseWarehouse(client, "drift_test").replace_partition(BLOCKS, DAY, [batch([1])])


def test_a_table_made_before_new_nullable_columns_gets_the_alter_that_adds_them(resources):
    import dataclasses
    import re

    client = resources["clickhouse"].warehouse().client
    client.command("CREATE DATABASE IF NOT EXISTS migration_test")
    client.command("DROP TABLE IF EXISTS migration_test.blocks")
    older = dataclasses.replace(BLOCKS, columns=BLOCKS.columns[:-3])  # as declared before the newest columns
    client.command(create_table_sql(older, "migration_test"))
    ClickHouseWarehouse(client, "migration_test").replace_partition(older, DAY, [batch([1]).drop_columns(
        [c.name for c in BLOCKS.columns[-3:]])])
    with pytest.raises(PartitionLoadError, match="added nullable columns") as refused:
        ClickHouseWarehouse(client, "migration_test").replace_partition(BLOCKS, DAY, [batch([1])])
    client.command(re.search(r"`(ALTER TABLE [^`]+)`", str(refused.value)).group(1))
    warehouse = ClickHouseWarehouse(client, "migration_test")
    assert warehouse.replace_partition(BLOCKS, DAY, [batch([1, 2])]) == 2  # the migrated table takes the declaration


def test_a_column_made_nullable_gets_the_alter_that_modifies_it(resources):
    from avax_assets.chain.datasets import INTERNAL_TRANSACTIONS

    client = resources["clickhouse"].warehouse().client
    client.command("CREATE DATABASE IF NOT EXISTS nullable_test")
    client.command("DROP TABLE IF EXISTS nullable_test.internal_transactions")
    client.command(create_table_sql(INTERNAL_TRANSACTIONS, "nullable_test").replace(
        "from_address Nullable(String)", "from_address String"))
    with pytest.raises(PartitionLoadError) as refused:
        ClickHouseWarehouse(client, "nullable_test").ensure_table(INTERNAL_TRANSACTIONS)
    assert "`ALTER TABLE nullable_test.internal_transactions MODIFY COLUMN from_address Nullable(String)`" in \
        str(refused.value)
    client.command("ALTER TABLE nullable_test.internal_transactions MODIFY COLUMN from_address Nullable(String)")
    ClickHouseWarehouse(client, "nullable_test").ensure_table(INTERNAL_TRANSACTIONS)
