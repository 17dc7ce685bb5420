"""Reconciliation on the devchain: ClickHouse, built from extracted and decoded data, equals the chain
state the node reports; and it stops matching on a single lost, duplicated or mis-decoded transfer."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from avax_assets_dev import reconcile
from avax_assets.catalogue import Catalogue
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.settings import RpcSettings
from avax_assets.tokens.datasets import ERC20_TRANSFERS

DAYS = ("2024-06-01", "2024-06-02", "2024-06-03")


@pytest.fixture(scope="module")
def warehouse(resources, devchain):
    for day in DAYS:
        assert dg.materialize(Catalogue().family("chain"), partition_key=day, resources=resources).success
    assert dg.materialize(Catalogue().analytics, resources=resources).success
    return resources["clickhouse"].warehouse()


@pytest.fixture(scope="module")
def node(stack):
    with JsonRpcClient(RpcSettings(stack.anvil.url)) as client:
        yield client


@pytest.fixture(scope="module")
def last_block(devchain):
    return devchain.blocks_by_day[DAYS[-1]][1]


def test_erc20_balances_equal_balance_of(warehouse, node, last_block):
    result = reconcile.erc20_balances(warehouse, node, last_block)
    assert result.ok, str(result)
    assert result.checked >= 10


def test_erc721_owners_equal_owner_of(warehouse, node, last_block):
    result = reconcile.erc721_owners(warehouse, node, last_block)
    assert result.ok, str(result)
    burned = [r for r in warehouse.client.query(
        "SELECT count() FROM avax.erc721_transfers WHERE to_address = '0x0000000000000000000000000000000000000000'"
    ).result_rows[0]]
    assert burned[0] > 0, "the devchain should burn some tokens, so the revert path is exercised"


def test_internal_value_flows_equal_forwarder_balances(warehouse, node, last_block, devchain):
    contracts = [devchain.contracts["ForwarderA"], devchain.contracts["ForwarderB"]]
    result = reconcile.native_flows(warehouse, node, last_block, contracts)
    assert result.ok, str(result)
    balances = [int(node.call("eth_getBalance", [c, hex(last_block)]), 16) for c in contracts]
    assert any(balances), "a forwarder should hold value, or the check proves little"


def test_every_dataset_count_equals_the_node(warehouse, node, last_block):
    result = reconcile.dataset_counts(warehouse, node, 0, last_block)
    assert result.ok, str(result)


def test_reconciliation_fails_on_one_lost_duplicated_or_misdecoded_transfer(warehouse, node, last_block, lake):
    table = warehouse.qualified(ERC20_TRANSFERS.table)
    day = DAYS[1]
    stored = lake.open_partition(ERC20_TRANSFERS, day)
    victim = next(r for r in stored.read().to_pylist() if int(r["value"]) > 0)
    where = f"block_number = {victim['block_number']} AND log_index = {victim['log_index']}"

    def restore():
        warehouse.replace_partition(ERC20_TRANSFERS, dt.date.fromisoformat(day), stored.iter_batches())
        assert reconcile.erc20_balances(warehouse, node, last_block).ok

    warehouse.client.command(f"ALTER TABLE {table} DELETE WHERE {where}", settings={"mutations_sync": 1})
    lost = reconcile.erc20_balances(warehouse, node, last_block)
    assert {m[1] for m in lost.mismatches} == {victim["from_address"], victim["to_address"]}
    restore()

    warehouse.client.command(f"ALTER TABLE {table} UPDATE value = value + 1 WHERE {where}",
                             settings={"mutations_sync": 1})
    misdecoded = reconcile.erc20_balances(warehouse, node, last_block)
    assert len(misdecoded.mismatches) == 2
    restore()

    # Mutations run as merges, so merges stop only here: a background merge must not fold the duplicate.
    warehouse.client.command(f"SYSTEM STOP MERGES {table}")
    try:
        warehouse.client.insert_arrow(table, pa.Table.from_pylist([victim], schema=ERC20_TRANSFERS.arrow_schema))
        duplicated = reconcile.erc20_balances(warehouse, node, last_block)
        assert {m[1] for m in duplicated.mismatches} == {victim["from_address"], victim["to_address"]}
        restore()
    finally:
        warehouse.client.command(f"SYSTEM START MERGES {table}")


def test_the_activity_view_carries_its_chart_and_the_sql_command_reads_the_same_tables(warehouse, resources,
                                                                                        capsys):
    import base64

    from avax_assets import cli

    result = dg.materialize(Catalogue().analytics, resources=resources)
    chart = result.asset_materializations_for_node("daily_chain_activity")[0].metadata["chart"].value
    assert chart.startswith("![") and base64.b64decode(chart.split("base64,")[1].rstrip(")"))[:4] == b"\x89PNG"
    blocks = warehouse.client.query("SELECT count() FROM avax.blocks").result_rows[0][0]
    assert cli.sql("SELECT count() AS blocks FROM avax.blocks") == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].strip() == "blocks" and printed[2].strip() == str(blocks) and printed[-1] == "(1 row)"
    assert cli.sql("SELECT no_such_column FROM avax.blocks") == 1  # the engine's message, one line, no traceback
    assert "no_such_column" in capsys.readouterr().err
