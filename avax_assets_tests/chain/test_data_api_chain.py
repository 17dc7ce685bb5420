"""Blocks and transactions from the AvaCloud Data API's per-block endpoints (AVAX_BLOCKS_SOURCE=data_api):
the same schema and, column for column, the same values as the JSON-RPC path on the same chain, with
the columns the Data API does not serve left null; the load checks pass. The per-block paths are
served from the devchain node (local/data_api_chain.py) and validated against the official spec."""

import os

import dagster as dg
import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from avax_assets.catalogue import Catalogue
from avax_assets.chain import data_api as data_api_chain
from avax_assets.chain import extractors, rows as rpc_rows
from avax_assets.chain.datasets import BLOCKS, TRANSACTIONS
from avax_assets.core.lake import Lake
from avax_assets.core.lake import S3Settings
from avax_assets.catalogue import build_resources
from avax_assets_dev.local.avacloud_fixtures import AvaCloudFixtureServer
from avax_assets_tests.support import materialization_of, rpc
from avax_assets_tests.conftest import SPECS_DIR

SPEC = SPECS_DIR / "glacier-data-api.openapi.json"
DAY = "2024-06-03"
NOT_SERVED = {
    BLOCKS.name: ("miner", "state_root", "transactions_root", "receipts_root", "extra_data", "size", "difficulty",
                  "ext_data_gas_used", "blob_gas_used", "ext_data_hash", "block_extra_data", "excess_blob_gas",
                  "parent_beacon_block_root", "timestamp_milliseconds", "min_delay_excess", "logs_bloom",
                  "sha3_uncles", "mix_hash", "header_nonce", "withdrawals_root", "requests_hash", "target_exponent",
                  "min_price_exponent", "target_excess", "settled_height", "settled_gas_unix",
                  "settled_gas_numerator", "settled_excess", "gas_config_validator_target_gas",
                  "gas_config_target_gas", "gas_config_target_to_excess_scaling", "gas_config_min_gas_price",
                  "gas_config_static_pricing"),
    TRANSACTIONS.name: ("max_fee_per_gas", "max_priority_fee_per_gas", "input", "cumulative_gas_used",
                        "contract_address", "logs_count", "access_list", "authorization_list",
                        "max_fee_per_blob_gas", "blob_versioned_hashes", "y_parity", "v", "r", "s", "blob_gas_used",
                        "blob_gas_price"),
}
SETTINGS = {"AVAX_BLOCKS_SOURCE": "data_api", "AVAX_CLICKHOUSE_DATABASE": "avax_data_api",
            "AVAX_RPC_CHUNK_BLOCKS": "7", "AVAX_AVACLOUD_CU_PER_MINUTE": "1000000"}


@pytest.fixture(scope="module")
def data_api(stack, devchain):
    with AvaCloudFixtureServer(chain_rpc_url=stack.anvil.url) as server:
        yield server


@pytest.fixture(scope="module")
def data_api_env(pipeline_env, data_api):
    """The session's services, but the chain from the Data API into a lake prefix and database of its own."""
    env = {**SETTINGS, "AVAX_AVACLOUD_DATA_URL": data_api.url,
           "AVAX_LAKE_ROOT": f"{pipeline_env['AVAX_LAKE_ROOT']}/data-api"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield {**pipeline_env, **env}
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def run(data_api_env):
    resources = build_resources()
    selection = ["blocks", "transactions", "clickhouse_blocks", "clickhouse_transactions"]
    result = dg.materialize(Catalogue().scope("chain"), selection=selection, partition_key=DAY, resources=resources)
    assert result.success
    return result, resources


def node_rows(stack, devchain, dataset):
    """The JSON-RPC path's rows for the day, built from the node's own answers, with what the Data API
    does not serve set to null."""
    first, last = devchain.blocks_by_day[DAY]
    rows = []
    for number in range(first, last + 1):
        block = rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(number), True])
        if dataset is BLOCKS:  # anvil has no blockGasCost; the served (required) gasCost is then 0
            rows.append({**rpc_rows.block_row(block), "block_gas_cost": str(int(block.get("blockGasCost", "0x0"), 16))})
            continue
        receipts = {r["transactionHash"]: r for r in rpc(stack.anvil.url, "eth_getBlockReceipts", [hex(number)])}
        rows += [rpc_rows.transaction_row(block, tx, receipts[tx["hash"]]) for tx in block["transactions"]]
    return [{**row, **dict.fromkeys(NOT_SERVED[dataset.name])} for row in rows]


def stored_rows(data_api_env, dataset):
    lake = Lake(data_api_env["AVAX_LAKE_ROOT"], S3Settings(data_api_env["AVAX_S3_ENDPOINT_URL"],
                                                           data_api_env["AVAX_S3_ACCESS_KEY_ID"],
                                                           data_api_env["AVAX_S3_SECRET_ACCESS_KEY"]))
    rows = lake.open_partition(dataset, DAY).read().to_pylist()
    for row in rows:
        row["block_timestamp"] = int(row["block_timestamp"].timestamp())
        assert row.pop("chain_id") == 43114  # the chain's, whatever the source
    return rows


@pytest.mark.parametrize("dataset", [BLOCKS, TRANSACTIONS], ids=lambda d: d.name)
def test_data_api_rows_equal_the_json_rpc_rows(run, data_api_env, stack, devchain, dataset):
    expected = node_rows(stack, devchain, dataset)
    assert expected and stored_rows(data_api_env, dataset) == expected


def test_the_data_api_day_loads_and_its_checks_pass(run, data_api_env, devchain, data_api):
    result, resources = run
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} >= {"unique_keys", "rows_match_parquet", "contiguous_blocks",
                                              "joins_parent", "parent_counts_match"}
    assert all(c.passed for c in checks), [(c.asset_key, c.check_name) for c in checks if not c.passed]
    first, last = devchain.blocks_by_day[DAY]
    client = resources["clickhouse"].warehouse().client
    loaded = client.query("SELECT count(), min(block_number), max(block_number), countIf(isNull(miner)) "
                          "FROM avax_data_api.blocks").result_rows[0]
    assert loaded == (last - first + 1, first, last, last - first + 1)
    metadata = materialization_of(result, "transactions").metadata
    assert metadata["source"].value == "avacloud data api"
    assert metadata["compute_units"].value >= 20 * (last - first + 1)
    tx_pages = [r for r in data_api.requests if r.split("?")[0].endswith("/transactions")]
    assert tx_pages and all("pageSize=" in r for r in tx_pages)


def test_the_served_per_block_paths_hold_to_the_spec(data_api, devchain):
    openapi = OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))
    first, last = devchain.blocks_by_day[DAY]
    for path in ("/v1/chains/43114/blocks", f"/v1/chains/43114/blocks/{first}",
                 f"/v1/chains/43114/blocks/{last}/transactions"):
        response = httpx.get(data_api.url + path, params={"pageSize": 2})
        assert response.status_code == 200
        openapi.validate_response(MockRequest("https://data-api.avax.network", "get", path, args={"pageSize": "2"}),
                                  MockResponse(response.content, status_code=200, content_type="application/json"))


def test_a_data_api_transaction_without_its_sender_names_dataset_partition_and_field(data_api, devchain):
    first, _ = devchain.blocks_by_day[DAY]
    page = httpx.get(f"{data_api.url}/v1/chains/43114/blocks/{first}/transactions", params={"pageSize": 1}).json()
    (tx,) = page["transactions"]
    assert data_api_chain.transaction_row(tx)["from_address"] == tx["from"]["address"].lower()
    del tx["from"]

    class OneTransaction:  # a reader whose one block holds the broken transaction
        def block(self, number):
            return httpx.get(f"{data_api.url}/v1/chains/43114/blocks/{number}").json()

        def transactions(self, number):
            return [tx]

        def each_block(self, blocks, read):
            return [(number, read(number)) for number in blocks]

    scope = extractors.Scope(TRANSACTIONS, DAY)
    with pytest.raises(Exception, match=rf"dataset 'transactions' partition {DAY}: field 'from.address' is missing"):
        data_api_chain.extract_transactions(OneTransaction(), range(first, first + 1), scope)


def test_an_unknown_blocks_source_is_refused_when_the_resources_are_built():
    from avax_assets.core.errors import SettingError
    from avax_assets.chain.resources import ChainRpcResource

    with pytest.raises(SettingError, match="AVAX_BLOCKS_SOURCE must be one of rpc, data_api, not 'glacier'"):
        build_resources({"AVAX_BLOCKS_SOURCE": "glacier"})
    with pytest.raises(Exception, match="blocks_source"):
        ChainRpcResource(blocks_source="glacier")


def test_a_malformed_block_number_while_finding_the_day_names_dataset_and_partition():
    from avax_assets.chain.assets import block_range
    from avax_assets.chain.data_api import DataApiChainReader
    from avax_assets.core.errors import SourceDataError
    from avax_assets_tests.avacloud.test_avacloud_client import client

    def handler(request: httpx.Request) -> httpx.Response:  # the newest block, its number as text with a fraction
        return httpx.Response(200, json={"blocks": [{"blockNumber": "12.5", "blockTimestamp": 1717200000}]})

    reader = DataApiChainReader(client(handler), concurrency=1)
    with pytest.raises(SourceDataError) as refused:
        block_range(reader, BLOCKS, DAY)
    assert str(refused.value).startswith(f"dataset 'blocks' partition {DAY}: field 'blockNumber' is not an integer")
    assert "finding the day's block range at https://data.test" in str(refused.value)
