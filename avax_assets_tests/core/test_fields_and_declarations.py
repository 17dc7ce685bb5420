import pyarrow as pa
import pytest

from avax_assets.catalogue import DATASETS as ALL_DATASETS
from avax_assets.chain import fields
from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.core.clickhouse import create_table_sql
from avax_assets.core.errors import BadField
from avax_assets.core.schema import I256, U256, Column, Dataset, checked_identifier


def test_uint256_is_exact_to_the_maximum():
    top = "0x" + "f" * 64
    assert fields.uint256(top, "value") == str(2**256 - 1)
    assert fields.uint256("0x10000000000000001", "value") == str(2**64 + 1)


@pytest.mark.parametrize("value", ["12", "0x", "0xg1", None, 5, "0x" + "1" * 65])
def test_bad_quantities_name_the_field(value):
    with pytest.raises(BadField, match="'gasUsed'"):
        fields.quantity(value, "gasUsed")


def test_hashes_and_addresses_are_lower_cased_and_length_checked():
    assert (fields.address("0xABCDEF0000000000000000000000000000000001", "to")
            == "0xabcdef0000000000000000000000000000000001")
    with pytest.raises(BadField, match="20-byte address"):
        fields.address("0xabcd", "to")
    with pytest.raises(BadField, match="32-byte hash"):
        fields.hash32("0x" + "a" * 40, "hash")


def test_every_declaration_has_block_number_timestamp_and_uint256_as_exact_types():
    chain_datasets = [d for d in ALL_DATASETS.values() if d.block_column]
    # 7 from the chain, 14 decoded events (8 of them ICM's), dex_pools and tokens (read at the day's last block),
    # dex_swaps, the P-Chain's 4 and the C-Chain's atomic transactions and their inputs and outputs
    assert len(chain_datasets) == 30
    for dataset in chain_datasets:
        assert dataset.column("block_number").type.clickhouse == "UInt64"
        assert dataset.column("block_timestamp").type.clickhouse == "DateTime('UTC')"
    for dataset in ALL_DATASETS.values():
        assert dataset.column(dataset.partition_column).type.clickhouse in ("DateTime('UTC')", "Date")
        for column in dataset.columns:
            if column.type is U256:
                assert column.arrow_field.type == pa.string() and column.type.clickhouse == "UInt256"
            if column.type is I256:
                assert column.arrow_field.type == pa.string() and column.type.clickhouse == "Int256"


FIXED_TOPICS = {  # DEVELOPERS.md: these names are fixed
    "avalanche.chains", "avalanche.blocks.43114", "avalanche.transactions.43114", "avalanche.logs.43114",
    "avalanche.erc20.43114", "avalanche.erc721.43114", "avalanche.erc1155.43114", "avalanche.internal-tx.43114",
    "avax.metrics", "avax.metrics.activity", "avax.metrics.performance", "avax.metrics.gas",
    "avax.metrics.cumulative", "avalanche.subnets", "avalanche.blockchains", "avalanche.validators",
    "avalanche.delegators", "avalanche.bridges",
}


def test_kafka_topics_are_the_fixed_names():
    assert [BLOCKS.topic, TRANSACTIONS.topic, LOGS.topic] == [
        "avalanche.blocks.43114", "avalanche.transactions.43114", "avalanche.logs.43114"]
    topics = [dataset.topic for dataset in ALL_DATASETS.values()]
    assert len(set(topics)) == len(topics)
    named_by_us = {"avalanche.dex-swaps.43114", "avalanche.dex-pools.43114", "avalanche.tokens.43114",
                   "avalanche.blocks.p-chain", "avalanche.transactions.p-chain", "avalanche.utxos.p-chain",
                   "avalanche.rewards.p-chain", "avalanche.atomic-tx.43114", "avalanche.atomic-io.43114"}
    events = {t for t in topics if t.startswith("avalanche.events.") and t.endswith(".43114")}
    assert len(events) == 14 and set(topics) - FIXED_TOPICS - events == named_by_us
    assert FIXED_TOPICS <= set(topics)


def test_clickhouse_ddl_follows_the_declaration():
    sql = create_table_sql(TRANSACTIONS, "avax")
    assert "CREATE TABLE IF NOT EXISTS avax.transactions" in sql
    assert "value UInt256" in sql and "to_address Nullable(String)" in sql
    assert "(\n    chain_id UInt64,\n    block_number UInt64," in sql  # every row says its chain, first
    assert "ORDER BY (chain_id, transaction_hash)" in sql and "PARTITION BY (chain_id, toDate(block_timestamp))" in sql


@pytest.mark.parametrize("name", ["blocks; DROP TABLE x", "Blocks", "a-b", "", "x" * 80, "1abc"])
def test_identifiers_that_could_inject_sql_are_refused(name):
    with pytest.raises(ValueError):
        checked_identifier(name)


def test_a_declaration_must_declare_its_key_columns():
    with pytest.raises(ValueError, match="not declared"):
        Dataset(name="broken", topic="t", description="", key=("missing",), columns=BLOCKS.columns)
    with pytest.raises(ValueError):
        Column("bad name", U256)
