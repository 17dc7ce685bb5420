"""The C-Chain's atomic transactions through the whole pipeline on the real local services: the devchain (anvil)
read through the FAKE that puts fixtures/atomic.json's transactions (encoded by Ava Labs' JavaScript library) on a
few of its blocks (avax_assets_dev/local/atomic_proxy.py; anvil makes no blockExtraData), the chain job's blocks
and atomic datasets → Kafka → Parquet on S3 → ClickHouse, beside the fixture P-Chain's days; then the C↔P flows
as constructed: two matched C→P, one P→C, one unmatched each way. In a lake prefix and database of its own."""

import datetime as dt
import json
import uuid

import dagster as dg
import pytest

from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.catalogue import Catalogue, build_resources
from avax_assets.chain.resources import ChainRpcResource
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.primary import ids
from avax_assets_dev import reconcile
from avax_assets_dev.local import atomic_fixtures
from avax_assets_dev.local.atomic_proxy import AtomicProxy
from avax_assets_dev.local.avacloud_fixtures import AvaCloudFixtureServer
from avax_assets_dev.local.p_chain_fixtures import fid
from avax_assets_tests.support import materialization_of, rpc

DAYS = ("2024-06-01", "2024-06-02", "2024-06-03")
CHAIN_STEP = ["blocks", "clickhouse_blocks", "atomic_transactions", "clickhouse_atomic_transactions",
              "atomic_inputs_outputs", "clickhouse_atomic_inputs_outputs"]
ATOMIC = json.loads(atomic_fixtures.FIXTURES.read_text())
ENCODED = {tx["label"]: tx for block in ATOMIC["blocks"] for tx in block["txs"]}


def first_block_at_or_after(anvil: str, at: int, blocks: range) -> int:
    """Asked of anvil itself: the first block of `blocks` whose timestamp is `at` or later."""
    return next(n for n in blocks if int(rpc(anvil, "eth_getBlockByNumber", [hex(n), False])["timestamp"], 16) >= at)


@pytest.fixture(scope="module")
def proxied(stack, devchain, pipeline_env):
    tag = uuid.uuid4().hex[:8]
    with AtomicProxy(stack.anvil.url) as proxy, AvaCloudFixtureServer() as avacloud:
        resources = build_resources({**pipeline_env, "AVAX_CLICKHOUSE_DATABASE": f"atomic_{tag}",
                                     "AVAX_LAKE_ROOT": f"{pipeline_env['AVAX_LAKE_ROOT']}/atomic-{tag}"})
        # the node's URL is resolved in the run (it may hold a key): the resource is given the proxy's
        resources["rpc"] = ChainRpcResource(**{**resources["rpc"].model_dump(), "url": proxy.url})
        resources["avacloud"] = AvaCloudResource(**{**resources["avacloud"].model_dump(), "data_url": avacloud.url})
        runs = {}
        for day in DAYS:
            runs[day] = dg.materialize(Catalogue().scope("chain"), partition_key=day, resources=resources,
                                       selection=CHAIN_STEP)
            assert runs[day].success and dg.materialize(Catalogue().scope("primary"), partition_key=day,
                                                        resources=resources).success
        assert dg.materialize(Catalogue().analytics, resources=resources).success
        yield proxy, resources, runs


def test_the_chain_job_lands_the_fixtures_atomic_transactions_on_the_blocks_they_were_put_on(proxied, stack,
                                                                                            devchain):
    proxy, resources, runs = proxied
    warehouse = resources["clickhouse"].warehouse()
    expected = []
    for block in ATOMIC["blocks"]:
        day = dt.datetime.fromtimestamp(block["at"], dt.timezone.utc).date().isoformat()
        first, last = devchain.blocks_by_day[day]
        number = first_block_at_or_after(stack.anvil.url, block["at"], range(first, last + 1))
        expected += [(number, n, tx["id"], tx["fields"]["type"][:6].lower()) for n, tx in enumerate(block["txs"])]
    landed = warehouse.client.query(
        f"SELECT block_number, transaction_index, transaction_id, atomic_type, toString(fee_burned) "
        f"FROM {warehouse.qualified('atomic_transactions')} ORDER BY block_number, transaction_index").result_rows
    assert [row[:4] for row in landed] == expected and {row[4] for row in landed} == {"1000000"}
    assert [materialization_of(runs[day], "atomic_transactions").metadata["dagster/row_count"].value
            for day in DAYS] == [1, 0, 3]
    assert all(c.passed for run in runs.values() for c in run.get_asset_check_evaluations())
    utxos = warehouse.client.query(
        f"SELECT transaction_id, io_type, utxo_id, toString(amount) FROM "
        f"{warehouse.qualified('atomic_inputs_outputs')} WHERE utxo_id IS NOT NULL ORDER BY ALL").result_rows
    made = [(tx["id"], "utxo_output", ids.utxo_id_of(tx["id"], n), o["amount"])
            for tx in ENCODED.values() for n, o in enumerate(tx["fields"].get("exportedOutputs", []))]
    spent = [(tx["id"], "utxo_input", ids.utxo_id_of(i["txID"], i["outputIndex"]), i["amount"])
             for tx in ENCODED.values() for i in tx["fields"].get("importedInputs", [])]
    assert utxos == sorted(made + spent)
    first, last = devchain.blocks_by_day[DAYS[0]][0], devchain.blocks_by_day[DAYS[-1]][1]
    with JsonRpcClient(RpcSettings(url=proxy.url)) as node:
        counted = reconcile.dataset_counts(warehouse, node, first, last, {"blocks", "atomic_transactions"})
    assert counted.ok and counted.checked == 3, counted


def test_the_flows_match_by_utxo_id_as_constructed(proxied):
    _, resources, _ = proxied
    warehouse = resources["clickhouse"].warehouse()
    rows = warehouse.client.query(
        f"SELECT corridor, status, export_transaction_id, import_transaction_id, toString(sent_navax), "
        f"toString(received_navax), crossing_seconds > 0, unmatched_age_seconds > 0 "
        f"FROM {warehouse.qualified('c_p_flow_matches')} ORDER BY corridor, status, sent_navax").result_rows
    c_chain = {label: ENCODED[f"c-chain {label}"]["id"] for label in ("export 1", "export 2", "export 3", "import 1")}
    assert rows == [
        ("C→P", "matched", c_chain["export 2"], fid("tx import 2"), "100000000000", "100000000000", True, None),
        ("C→P", "matched", c_chain["export 1"], fid("tx import 1"), "500000000000", "500000000000", True, None),
        ("C→P", "not imported yet", c_chain["export 3"], None, "42000000000", None, None, True),
        ("P→C", "matched", fid("tx export 1"), c_chain["import 1"], "250000000000", "250000000000", True, None),
        ("P→C", "not imported yet", fid("tx export 2"), None, "30000000000", None, None, True),
    ]
