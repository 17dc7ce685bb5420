"""Reconciliation on the devchain: ClickHouse, built from extracted and decoded data, equals the chain
state the node reports; and it stops matching on a single lost, duplicated or mis-decoded transfer."""

import re
import datetime as dt
import json

import dagster as dg
import pyarrow as pa
import pytest

from avax_assets_dev import reconcile
from avax_assets.catalogue import Catalogue
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.events.datasets import WAVAX
from avax_assets.tokens.datasets import ERC20_TRANSFERS

DAYS = ("2024-06-01", "2024-06-02", "2024-06-03")


@pytest.fixture(scope="module")
def warehouse(resources, devchain):
    for day in DAYS:
        assert dg.materialize(Catalogue().scope("chain"), partition_key=day, resources=resources).success
    assert dg.materialize(Catalogue().analytics, resources=resources).success
    return resources["clickhouse"].warehouse()


@pytest.fixture(scope="module")
def node(stack):
    with JsonRpcClient(RpcSettings(url=stack.anvil.url)) as client:
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
    assert cli.sql("SELECT count() AS blocks FROM blocks", "tsv") == 0  # the project's database by default
    assert capsys.readouterr().out.splitlines() == ["blocks", str(blocks)]
    assert cli.sql("SELECT count() AS blocks FROM avax.blocks") == 0  # a table: ClickHouse's PrettyCompact
    printed = capsys.readouterr().out
    assert "blocks" in printed.splitlines()[0] and re.search(rf"│ +{blocks} │", printed)
    assert cli.sql("SELECT no_such_column FROM avax.blocks") == 1  # the engine's message, one line, no traceback
    assert "no_such_column" in capsys.readouterr().err


def test_v2_pairs_last_sync_equals_get_reserves(warehouse, node, last_block):
    result = reconcile.v2_reserves(warehouse, node, last_block)
    assert result.ok, str(result)


def test_wavax_deposits_minus_withdrawals_equal_total_supply(warehouse, node, last_block):
    result = reconcile.wavax_supply(warehouse, node, last_block)
    assert result.ok, str(result)
    withdrawals = warehouse.client.query("SELECT count() FROM avax.wavax_withdrawal").result_rows[0][0]
    assert withdrawals > 0, "the devchain should unwrap too, or the check proves little"


def test_token_metadata_equals_the_contracts_answers_including_awkward_tokens(warehouse, node, devchain):
    for day in DAYS:
        result = reconcile.token_metadata(warehouse, node, day)
        assert result.ok, str(result)
    rows = {r[0]: r[1:] for r in warehouse.client.query(
        "SELECT token_address, name, symbol, decimals, metadata_errors FROM avax.tokens "
        "ORDER BY block_number").result_rows}
    c = devchain.contracts
    assert rows[c["DevBytes32Token"]][:4] == ("Dev Maker", "DMKR", 18, None)
    name, symbol, decimals, errors = rows[c["DevOddToken"]]
    assert (name, symbol, decimals) == ("Odd\ufffdToken", "ODD", None)
    errors = json.loads(errors)
    assert "raw 0x4f6464ff546f6b656e" in errors["name"] and errors["total_supply"] == "reverted: supply is not tracked"
    assert "no such method" in errors["decimals"]
    assert rows[c["DevTokenB"]][1:3] == ("DUSD", 6) and rows[WAVAX][1:3] == ("WAVAX", 18)
    assert rows[c["DevMultiToken"]][0] is None  # ERC-1155: no name()


def test_pools_carry_their_tokens_and_the_swaps_view_is_in_exact_token_units(warehouse, devchain):
    c = devchain.contracts
    pools = {r[0]: r[1:] for r in warehouse.client.query(
        "SELECT pool_address, dex, token0, token1 FROM avax.dex_pools").result_rows}
    assert pools[c["DevPair"]] == ("uniswap_v2", c["DevToken"], c["DevTokenB"])
    assert pools[c["DevLBPair"]] == ("liquidity_book", c["DevToken"], c["DevTokenB"])
    assert pools[c["DevV3Pool"]] == ("uniswap_v3", c["DevTokenC"], c["DevTokenD"])
    decimals = {c["DevToken"]: 18, c["DevTokenB"]: 6, c["DevTokenC"]: 18, c["DevTokenD"]: 18}
    swaps = warehouse.client.query(
        "SELECT dex, pool_address, token_in, token_out, toString(amount_in), amount_in_units, toString(amount_out), "
        "amount_out_units, symbol_in FROM avax.swaps").result_rows
    counts = warehouse.client.query("SELECT (SELECT count() FROM avax.uniswap_v2_swap) + (SELECT count() FROM "
                                    "avax.uniswap_v3_swap) + (SELECT count() FROM avax.lb_swap)").result_rows[0][0]
    assert len(swaps) == counts and {s[0] for s in swaps} == {"uniswap_v2", "uniswap_v3", "liquidity_book"}
    for _dex, pool, token_in, token_out, amount_in, units_in, amount_out, units_out, _ in swaps:
        assert {token_in, token_out} == set(pools[pool][1:])
        assert units_in == exact_units(int(amount_in), decimals[token_in])
        assert units_out == exact_units(int(amount_out), decimals[token_out])
    assert max(int(s[4]) for s in swaps if s[0] == "uniswap_v3") > 2**128


def exact_units(amount: int, decimals: int) -> str:
    whole, fraction = divmod(amount, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}"


def test_v3_swaps_equal_an_independent_decode_of_the_nodes_logs(warehouse, node, devchain, last_block):
    from eth_abi import decode

    from avax_assets.events.datasets import UNISWAP_V3_SWAP

    logs = node.call("eth_getLogs",
                     [{"fromBlock": "0x0", "toBlock": hex(last_block), "topics": [UNISWAP_V3_SWAP.topic0]}])
    amounts = ["int256", "int256", "uint160", "uint128"]
    expected = [(int(log["blockNumber"], 16), int(log["logIndex"], 16),
                 *(str(v) for v in decode(amounts, bytes.fromhex(log["data"][2:])[:128])))
                for log in logs]
    found = warehouse.client.query(
        "SELECT block_number, log_index, toString(amount0), toString(amount1), toString(sqrt_price_x96), "
        "toString(liquidity) FROM avax.uniswap_v3_swap ORDER BY block_number, log_index").result_rows
    assert [tuple(r) for r in found] == expected and any(int(r[2]) < 0 for r in found)


@pytest.mark.parametrize("amount, decimals, expected", [
    ("5", "6", "0.000005"), ("1234567", "6", "1.234567"), ("0", "18", "0.000000000000000000"), ("7", "0", "7"),
    (str(2**256 - 1), "18", f"{(2**256 - 1) // 10**18}.{(2**256 - 1) % 10**18:018d}"), ("5", "NULL", None),
    ("-5", "2", "-0.05"), ("-123456", "3", "-123.456"),
])
def test_token_units_are_exact_decimal_text(warehouse, amount, decimals, expected):
    from avax_assets.analytics.views import signed_token_units, token_units

    places = f"CAST({decimals} AS Nullable(UInt8))"
    sql = signed_token_units(f"toInt256('{amount}')", places) if amount.startswith("-") else \
        token_units(f"toUInt256('{amount}')", places)
    assert warehouse.client.query(f"SELECT {sql}").result_rows[0][0] == expected
