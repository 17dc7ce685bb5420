"""The audits behind the asset checks: they pass on the loaded devchain day and fail on bad data."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.core import audits
from avax_assets.chain.datasets import BLOCKS
from avax_assets.chain.datasets import LOGS, TRANSACTIONS
from avax_assets.core.audits import Loaded, adjacent_days_contiguous, audits_for, gate, hash_chain
from avax_assets.core.chdb import chdb_client
from avax_assets.core.clickhouse import ClickHouseWarehouse, create_table_sql
from avax_assets.core.errors import AuditFailed, PartitionLoadError

DAY = dt.date(2024, 6, 3)


def block(number: int) -> dict:
    row = {name: None for name in BLOCKS.source_schema.names}
    row.update(block_number=number,
               block_timestamp=int(dt.datetime(2024, 6, 3, 1, tzinfo=dt.timezone.utc).timestamp()) + number,
               block_hash=f"0x{number:064x}", parent_hash=f"0x{number - 1:064x}", miner="0x" + "0" * 40,
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
    return pa.RecordBatch.from_pylist([block(n) for n in numbers], schema=BLOCKS.source_schema)


@pytest.fixture(params=["whole day", "a slice per key"])
def embedded(chdb_path, request, monkeypatch):
    """The session's embedded ClickHouse, no service needed; the audits run over the whole day at once, and
    in slices of one key each (as a day larger than audits.SLICE_ROWS is): the same verdicts either way."""
    if request.param == "a slice per key":
        monkeypatch.setattr(audits, "SLICE_ROWS", 1)
        monkeypatch.setattr(audits, "HASHED_KEYS_PER_KEY", 1)
    return chdb_client(str(chdb_path))


def audited_load(warehouse, dataset, batches, day=DAY) -> tuple[dict, str | None]:
    """A load as the ClickHouse asset makes it: staged, audited there, swapped in only if every audit passes.
    Returns the audits' results and the refusal (None when swapped in)."""
    results = {}
    rows = sum(b.num_rows for b in batches)
    try:
        warehouse.replace_partition(dataset, day, batches, gate(audits_for(dataset), Loaded(warehouse, dataset, day,
                                                                                             rows), results))
    except AuditFailed as refused:
        return results, str(refused)
    return results, None


def day_rows(warehouse, dataset, day=DAY) -> list:
    return [row[0] for row in warehouse.client.query(
        f"SELECT {dataset.key_in_chain[0]} FROM {warehouse.qualified(dataset.table)} WHERE toDate(block_timestamp) = "
        f"{{day:Date}} ORDER BY {dataset.key_in_chain[0]}", parameters={"day": day}).result_rows]


def test_duplicates_a_replacing_table_would_merge_away_are_refused_before_the_swap(embedded):
    warehouse = ClickHouseWarehouse(embedded, "audit_staging")
    results, refused = audited_load(warehouse, BLOCKS, [batch([10, 11, 12])])
    assert refused is None and all(result.passed for result in results.values())
    # the premise: a ReplacingMergeTree (the target's engine) keeps one row of 11 out of one insert
    warehouse.client.command("CREATE OR REPLACE TABLE audit_staging.replacing AS audit_staging.blocks")
    warehouse.client.insert_arrow("audit_staging.replacing",
                                  pa.Table.from_batches([BLOCKS.stamped(batch([10, 11, 11, 12]))]))
    assert warehouse.client.query("SELECT count() FROM audit_staging.replacing").result_rows == [(3,)]

    results, refused = audited_load(warehouse, BLOCKS, [batch([10, 11, 11, 12])])
    assert refused == "2024-06-03: unique_keys (keys repeated (1 extra rows), e.g. block_number 11)"
    assert results["unique_keys"].metadata == {"rows": 4, "duplicate_keys": 1,
                                               "offending_keys": "keys repeated (1 extra rows), e.g. block_number 11"}
    assert results["rows_match_parquet"].passed and results["contiguous_blocks"].passed
    assert day_rows(warehouse, BLOCKS) == [10, 11, 12]  # the good partition stays
    assert warehouse.tables() == {"blocks", "replacing"}  # the staging table is gone


def test_rows_of_other_blocks_and_gaps_are_refused_naming_them(embedded):
    warehouse = ClickHouseWarehouse(embedded, "audit_gaps")
    audited_load(warehouse, BLOCKS, [batch([10, 11, 12, 13])])
    results, refused = audited_load(warehouse, BLOCKS, [batch([10, 11]), batch([11, 13, 16])])  # across parts
    assert refused == ("2024-06-03: unique_keys (keys repeated (1 extra rows), e.g. block_number 11); "
                       "contiguous_blocks (3 blocks missing between 10 and 16, gaps from block_number 12, 14)")
    assert results["contiguous_blocks"].metadata["missing_blocks"] == 3
    assert day_rows(warehouse, BLOCKS) == [10, 11, 12, 13]


def row_of(dataset, **values) -> dict:
    """A valid row of any declared dataset: type defaults, overridden by `values`."""
    defaults = {"UInt8": 0, "UInt32": 0, "UInt64": 0, "UInt256": "0", "String": "0x",
                "DateTime('UTC')": int(dt.datetime(2024, 6, 3, 1, tzinfo=dt.timezone.utc).timestamp())}
    row = {c.name: None if c.nullable else defaults[c.type.clickhouse] for c in dataset.columns}
    return {**row, **values}


def rows_batch(dataset, rows) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=dataset.arrow_schema)


def load(warehouse, dataset, rows, day=DAY):
    warehouse.replace_partition(dataset, day, [rows_batch(dataset, rows)])


def test_parent_audits_refuse_orphans_and_wrong_counts_naming_their_keys(embedded):
    warehouse = ClickHouseWarehouse(embedded, "audit_parent")
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=1, transaction_count=2),
                             row_of(BLOCKS, block_number=2, transaction_count=0)])
    good = [row_of(TRANSACTIONS, block_number=1, transaction_hash="0xa1", logs_count=1),
            row_of(TRANSACTIONS, block_number=1, transaction_hash="0xa2", logs_count=0)]
    results, refused = audited_load(warehouse, TRANSACTIONS, [rows_batch(TRANSACTIONS, good)])
    assert refused is None and results["joins_parent"].passed and results["parent_counts_match"].passed

    # block 1 says 2 transactions; one goes missing and one appears in a block that does not exist
    wrong = [good[0], row_of(TRANSACTIONS, block_number=9, transaction_hash="0xa9")]
    results, refused = audited_load(warehouse, TRANSACTIONS, [rows_batch(TRANSACTIONS, wrong)])
    assert refused == ("2024-06-03: joins_parent (1 rows without a blocks row, e.g. block_number 9); "
                       "parent_counts_match (1 blocks rows whose transaction_count differs from their transactions "
                       "rows, e.g. block_number 1: 2 counted, 1 found)")
    assert results["joins_parent"].metadata["rows_without_parent"] == 1
    assert day_rows(warehouse, TRANSACTIONS) == ["0xa1", "0xa2"]

    logs = [row_of(LOGS, transaction_hash="0xa1", log_index=0), row_of(LOGS, transaction_hash="0xa1", log_index=1)]
    results, refused = audited_load(warehouse, LOGS, [rows_batch(LOGS, logs)])
    assert results["joins_parent"].passed
    assert "parent_counts_match (1 transactions rows whose logs_count differs from their logs rows, e.g. " \
           "transaction_hash 0xa1: 1 counted, 2 found)" in refused  # 0xa1 declares 1 log, has 2

    # fewer rows than transactions: the parents held are only those the rows name, and a stray row is still found
    results, refused = audited_load(warehouse, LOGS, [rows_batch(LOGS, logs[:1])])
    assert refused is None and results["joins_parent"].passed
    stray = [row_of(LOGS, transaction_hash="0xb7", log_index=0)]
    results, refused = audited_load(warehouse, LOGS, [rows_batch(LOGS, stray)])
    assert results["joins_parent"].metadata["rows_without_parent"] == 1
    assert "joins_parent (1 rows without a transactions row, e.g. transaction_hash 0xb7)" in refused


def test_adjacent_days_must_be_contiguous(embedded):
    warehouse = ClickHouseWarehouse(embedded, "audit_adjacent")
    day_before = DAY - dt.timedelta(days=1)
    stamp = int(dt.datetime.combine(day_before, dt.time(12), dt.timezone.utc).timestamp())
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=n) for n in (20, 21)])
    loaded = Loaded(warehouse, BLOCKS, DAY, parquet_rows=2)
    assert adjacent_days_contiguous(loaded).passed  # the day before is not loaded: nothing to compare
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=18, block_timestamp=stamp)], day_before)
    assert not adjacent_days_contiguous(loaded).passed  # block 19 is missing between the days
    assert adjacent_days_contiguous(loaded).detail == ("the day runs from block 20 to 21; the day before ends at 18, "
                                                       "the day after starts at None")
    load(warehouse, BLOCKS, [row_of(BLOCKS, block_number=n, block_timestamp=stamp) for n in (18, 19)], day_before)
    assert adjacent_days_contiguous(loaded).passed


def test_each_block_names_the_one_before_within_the_day_and_across_to_its_neighbours(embedded):
    warehouse = ClickHouseWarehouse(embedded, "audit_hash_chain")
    assert audited_load(warehouse, BLOCKS, [batch(range(30, 34))])[1] is None
    other_day = DAY + dt.timedelta(days=5)  # a day starting at block 1: no row before its first
    first_blocks = [{**block(n), "block_timestamp": int(dt.datetime.combine(other_day, dt.time(1), dt.timezone.utc)
                                                        .timestamp()) + n} for n in (1, 2)]
    assert audited_load(warehouse, BLOCKS, [pa.RecordBatch.from_pylist(first_blocks, schema=BLOCKS.source_schema)],
                        other_day)[1] is None
    forked = [{**block(n), "parent_hash": f"0x{99:064x}"} if n == 32 else block(n) for n in range(30, 34)]
    _, refused = audited_load(warehouse, BLOCKS, [pa.RecordBatch.from_pylist(forked, schema=BLOCKS.source_schema)])
    assert "hash_chain (parent is not the block before at block_number 32)" in refused
    assert day_rows(warehouse, BLOCKS) == [30, 31, 32, 33]  # the linked day stays
    day_before = DAY - dt.timedelta(days=1)
    stamp = int(dt.datetime.combine(day_before, dt.time(12), dt.timezone.utc).timestamp())
    loaded = Loaded(warehouse, BLOCKS, DAY, parquet_rows=4)
    other = {**block(29), "block_timestamp": stamp, "block_hash": f"0x{7:064x}"}
    warehouse.replace_partition(BLOCKS, day_before, [pa.RecordBatch.from_pylist([other], schema=BLOCKS.source_schema)])
    assert hash_chain(loaded).detail == "the day's first block's parent is not the previous day's last block"
    linked = {**block(29), "block_timestamp": stamp}
    warehouse.replace_partition(BLOCKS, day_before, [pa.RecordBatch.from_pylist([linked], schema=BLOCKS.source_schema)])
    assert hash_chain(loaded).passed and hash_chain(loaded).metadata == {"links_checked": 4, "broken_links": 0}


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


def test_a_single_chain_table_gets_the_statements_that_make_it_hold_chains(resources):
    import re

    client = resources["clickhouse"].warehouse().client
    client.command("CREATE DATABASE IF NOT EXISTS chains_test")
    for table in ("blocks", "blocks_single_chain"):
        client.command(f"DROP TABLE IF EXISTS chains_test.{table}")
    single = create_table_sql(BLOCKS, "chains_test").replace("    chain_id UInt64,\n", "").replace(
        "(chain_id, toDate(block_timestamp))", "toDate(block_timestamp)").replace("(chain_id, block_number)",
                                                                                   "(block_number)")
    client.command(single)
    client.command("INSERT INTO chains_test.blocks (block_number, block_timestamp, block_hash, parent_hash, gas_limit, "
                   "gas_used, transaction_count) VALUES (1, '2024-06-03 01:00:01', '0x01', '0x00', 1, 0, 0)")
    with pytest.raises(PartitionLoadError, match="before tables held several chains") as refused:
        ClickHouseWarehouse(client, "chains_test").replace_partition(BLOCKS, dt.date(2024, 6, 4), [batch([2])])
    rename, copy = re.findall(r"`([^`]+)`", str(refused.value))
    client.command(rename)
    ClickHouseWarehouse(client, "chains_test").replace_partition(BLOCKS, dt.date(2024, 6, 4), [])  # makes the table
    client.command(copy)
    assert client.query("SELECT chain_id, block_number FROM chains_test.blocks").result_rows == [(43114, 1)]


@pytest.mark.parametrize("merges", [1, 3])
def test_the_embedded_engine_runs_the_merges_at_once_it_is_told(tmp_path, merges):
    from avax_assets.core.clickhouse import ClickHouseSettings

    warehouse = ClickHouseSettings(chdb_path=str(tmp_path / "chdb"), chdb_merges_at_once=merges).warehouse()
    found = dict(warehouse.client.query(
        "SELECT name, value FROM system.server_settings WHERE name IN ('background_pool_size', "
        "'background_merges_mutations_concurrency_ratio')").result_rows)
    assert found == {"background_pool_size": str(merges), "background_merges_mutations_concurrency_ratio": "1"}
