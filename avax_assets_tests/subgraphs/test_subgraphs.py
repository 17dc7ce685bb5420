"""Subgraph datasets (The Graph): every query the client sends validates against the query schema The
Graph generates from the real Trader Joe v2 entity schema, and a day of swaps goes local GraphQL server →
Kafka → Parquet on S3 → ClickHouse: several pages, a partial last page, an empty range, an unindexed
range and a subgraph with indexing errors."""

import json
from decimal import Decimal

import dagster as dg
import httpx
import pytest
from graphql import parse, validate

from avax_assets.catalogue import Catalogue
from avax_assets.subgraphs.settings import SubgraphSettings
from avax_assets.catalogue import build_resources
from avax_assets.subgraphs.datasets import DEX_SWAPS, SUBGRAPH_ENTITIES
from avax_assets_tests.support import client_settings
from avax_assets_dev.local.subgraph_server import (SPEC, SubgraphServer, api_schema, node_block_timestamps,
                                                   trader_joe_swaps)
from avax_assets.subgraphs.resources import SubgraphResource
from avax_assets.core.errors import SourceRefused, SourceUnavailable
from avax_assets.subgraphs.client import META_QUERY, SubgraphClient, entity_query
from avax_assets_tests.support import kafka_messages_of_run

BUSY_DAY, EMPTY_DAY, UNINDEXED_DAY = "2024-06-02", "2024-06-01", "2024-06-03"
SWAPS_PER_BLOCK = 83  # 30 blocks → 2,490 swaps: pages of 1000, 1000 and a partial 490
KEY = "test-graph-key"


@pytest.fixture(scope="module")
def schema():
    return api_schema(SPEC.read_text())


def test_every_query_validates_against_the_subgraph_schema(schema):
    queries = [META_QUERY, *(entity_query(entity) for entity in SUBGRAPH_ENTITIES)]
    for query in queries:
        assert validate(schema, parse(query)) == [], query


def test_the_schema_check_would_catch_a_query_off_the_schema(schema):
    broken = entity_query(SUBGRAPH_ENTITIES[0]).replace("amountUSD", "amountUsd")
    (error,) = validate(schema, parse(broken))
    assert error.message.startswith("Cannot query field 'amountUsd' on type 'Swap'.")
    deep_skip = "{ swaps(skip: 1000000, where: { transaction_: { blockNumber_gt: 1 } }) { id } }"
    assert validate(schema, parse(deep_skip)) == []  # valid GraphQL: the server refuses it at run time


@pytest.fixture(scope="module")
def graph(stack, devchain):
    first, last = devchain.blocks_by_day[BUSY_DAY]
    stamps = node_block_timestamps(stack.anvil.url, first, last)
    entities = trader_joe_swaps(stamps, {n: SWAPS_PER_BLOCK for n in stamps})
    with SubgraphServer(entities, indexed_block=last, api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def graph_resources(pipeline_env, graph):
    gateway = graph.url.split("/subgraphs/")[0]
    return {**build_resources(), "subgraph": SubgraphResource(gateway_url=gateway, api_key=KEY,
                                                              subgraph_ids={"traderjoe-v2": graph.subgraph_id})}


@pytest.fixture(scope="module")
def busy_run(graph_resources, graph):
    graph.queries.clear()
    result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=BUSY_DAY, resources=graph_resources)
    assert result.success
    return result


def test_a_day_of_swaps_lands_everywhere_exactly(busy_run, graph, graph_resources, pipeline_env, lake, devchain):
    first, last = devchain.blocks_by_day[BUSY_DAY]
    expected = {s["id"]: s for s in graph.store.entities["Swap"].values()}
    assert len(expected) == 30 * SWAPS_PER_BLOCK
    pages = [q for q in graph.queries if "swaps(" in q["query"]]
    assert [q["variables"]["lastId"] == "" for q in pages] == [True, False, False]  # 1000, 1000, 490
    assert all(q["variables"]["first"] == 1000 and "skip" not in q["query"] for q in pages)
    client = graph_resources["clickhouse"].warehouse().client
    rows = client.query("SELECT swap_id, block_number, amount_y_in, amount_x_out, token_x_decimals, pair_address "
                        "FROM avax.dex_swaps WHERE toDate(block_timestamp) = {d:Date}", parameters={"d": BUSY_DAY}
                        ).result_rows
    assert len(rows) == len(expected) and {r[0] for r in rows} == set(expected)
    for swap_id, block, amount_y_in, amount_x_out, decimals, pair in rows:
        swap = expected[swap_id]
        assert first <= block <= last
        assert (amount_y_in, amount_x_out) == (swap["amountYIn"], swap["amountXOut"])  # exact, as served
        assert pair == swap["lbPair"] and decimals in (6, 18)
    assert any(len(Decimal(r[2]).as_tuple().digits) > 17 for r in rows), "amounts beyond float precision"
    assert lake.open_partition(DEX_SWAPS, BUSY_DAY).num_rows == len(expected)
    messages = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], DEX_SWAPS.topic, busy_run.run_id)
    assert sorted(m.key().decode() for m in messages) == sorted(expected)
    checks = busy_run.get_asset_check_evaluations()
    assert {c.check_name for c in checks} >= {"blocks_in_partition_range", "unique_keys", "rows_match_parquet"}
    assert all(c.passed for c in checks)


def test_an_empty_range_is_an_empty_partition(graph_resources):
    result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=EMPTY_DAY, resources=graph_resources)
    assert result.success
    assert result.asset_materializations_for_node("dex_swaps")[0].metadata["dagster/row_count"].value == 0


def failure(result) -> str:
    return "\n".join(e.step_failure_data.error.to_string() for e in result.all_events
                     if e.event_type == dg.DagsterEventType.STEP_FAILURE)


def test_a_range_the_subgraph_has_not_indexed_is_refused(graph_resources, lake, devchain):
    result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=UNINDEXED_DAY, resources=graph_resources,
                            raise_on_error=False)
    assert not result.success
    indexed, ends = devchain.blocks_by_day[BUSY_DAY][1], devchain.blocks_by_day[UNINDEXED_DAY][1]
    assert f"has indexed up to block {indexed}, the partition ends at block {ends}" in failure(result)
    assert not lake.fs.exists(lake.partition_path(DEX_SWAPS.name, UNINDEXED_DAY))


def test_indexing_errors_fail_loudly_and_keep_what_is_stored(busy_run, graph, graph_resources, lake):
    stored = lake.fs.cat(lake.partition_path(DEX_SWAPS.name, BUSY_DAY))
    graph.has_indexing_errors = True
    try:
        result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=BUSY_DAY, resources=graph_resources,
                                raise_on_error=False)
    finally:
        graph.has_indexing_errors = False
    assert not result.success and "indexing errors" in failure(result)
    assert lake.fs.cat(lake.partition_path(DEX_SWAPS.name, BUSY_DAY)) == stored


def test_the_key_is_required_and_never_in_the_url(graph):
    with pytest.raises(SourceRefused, match="HTTP 401"):
        SubgraphClient(graph.url).indexed_block()
    with SubgraphClient(graph.url, SubgraphSettings(api_key=KEY)) as client:
        assert client.indexed_block() > 0
        assert KEY not in client.url


# --- scripted faults (a real server cannot produce these on demand) -------------------------------

def scripted(*responses):
    replies = iter(responses)
    return httpx.MockTransport(lambda request: next(replies))


def test_graphql_errors_are_raised_with_their_message():
    transport = scripted(httpx.Response(200, json={"errors": [{"message": "Store error: database unavailable"}]}))
    with pytest.raises(SourceRefused, match="Store error: database unavailable"):
        SubgraphClient("http://graph.test", transport=transport).query(META_QUERY)


def test_429_and_5xx_are_retried_a_bounded_number_of_times_honouring_retry_after():
    waits = []
    transport = scripted(httpx.Response(429, headers={"retry-after": "3"}), httpx.Response(502),
                         httpx.Response(200, json={"data": {"_meta": {"block": {"number": 7},
                                                                       "hasIndexingErrors": False}}}))
    client = SubgraphClient("http://graph.test", client_settings(SubgraphSettings, backoff_base_s=0.01),
                            transport=transport, sleep=waits.append)
    assert client.indexed_block() == 7 and waits[0] == 3.0 and len(waits) == 2
    endless = httpx.MockTransport(lambda request: httpx.Response(503))
    client = SubgraphClient("http://graph.test", client_settings(SubgraphSettings, max_attempts=3),
                            transport=endless, sleep=lambda s: None)
    with pytest.raises(SourceUnavailable, match="gave up after 3 attempts"):
        client.indexed_block()


def test_a_pager_whose_ids_do_not_advance_is_refused():
    page = {"data": {"swaps": [{"id": "b"}, {"id": "a"}]}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=page))
    client = SubgraphClient("http://graph.test", SubgraphSettings(page_size=2), transport=transport)
    with pytest.raises(SourceRefused, match="not increasing"):
        list(client.pages("query", "swaps", {}))


def test_a_swap_missing_a_field_names_dataset_partition_and_field(graph):
    swap = json.loads(json.dumps(graph.execute(entity_query(SUBGRAPH_ENTITIES[0]),
                                               {"first": 1, "lastId": "", "fromBlock": 0, "toBlock": 10**9})))
    item = swap["data"]["swaps"][0]
    del item["lbPair"]["tokenX"]["decimals"]
    transport = scripted(httpx.Response(200, json={"data": {"_meta": {"block": {"number": 10**9},
                                                                       "hasIndexingErrors": False}}}),
                         httpx.Response(200, json={"data": {"swaps": [item]}}))
    from avax_assets.core.days import BlockRange
    from avax_assets.core.errors import SourceDataError
    from avax_assets.subgraphs.client import extract_entity

    client = SubgraphClient("http://graph.test", transport=transport)
    with pytest.raises(SourceDataError, match=rf"dataset 'dex_swaps' partition {BUSY_DAY}: field "
                                              r"'lbPair.tokenX.decimals' is missing"):
        list(extract_entity(client, SUBGRAPH_ENTITIES[0], BUSY_DAY, BlockRange(0, 10**9)))
