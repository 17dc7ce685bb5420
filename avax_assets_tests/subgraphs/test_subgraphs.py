"""Subgraph datasets (The Graph): every query the client sends validates against the query schema The
Graph generates from the real Trader Joe v2 entity schema; a day of swaps goes local GraphQL server (indexing
the devchain's Liquidity Book Swap events) → Kafka → Parquet on S3 → ClickHouse: several pages, a partial last
page, an empty range, an unindexed range and a subgraph with indexing errors; and over the devchain's days,
every `dex_swaps` row is an `lb_swap` row of the chain and back, the reconciliation catching a lost or altered
swap."""

import datetime as dt
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
from avax_assets_dev import reconcile
from avax_assets_dev.local.subgraph_server import LB_SWAP_TOPIC, SPEC, NodeIndexingSubgraph, SubgraphServer, api_schema
from avax_assets.subgraphs.resources import SubgraphResource
from avax_assets.core.errors import SourceRefused, SourceUnavailable
from avax_assets.subgraphs.client import META_QUERY, SubgraphClient, entity_query
from avax_assets_tests.support import kafka_messages_of_run

BUSY_DAY, EMPTY_DAY, UNINDEXED_DAY = "2024-06-02", "2024-06-01", "2024-06-03"
DAYS = ("2024-06-01", "2024-06-02", "2024-06-03")
PAGE = 2  # the devchain's few swaps a day still take several pages, the last one partial or empty
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


def resources_for(server: SubgraphServer) -> dict:
    gateway = server.url.split("/subgraphs/")[0]
    return {**build_resources(), "subgraph": SubgraphResource(gateway_url=gateway, api_key=KEY, page_size=PAGE,
                                                              subgraph_ids={"traderjoe-v2": server.subgraph_id})}


@pytest.fixture(scope="module")
def graph(stack, devchain):
    """The subgraph indexed up to the busy day's last block."""
    with NodeIndexingSubgraph(stack.anvil.url, api_key=KEY, up_to=devchain.blocks_by_day[BUSY_DAY][1]) as server:
        yield server


@pytest.fixture(scope="module")
def graph_resources(pipeline_env, graph):
    return resources_for(graph)


@pytest.fixture(scope="module")
def busy_run(graph_resources, graph):
    graph.queries.clear()
    result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=BUSY_DAY, resources=graph_resources)
    assert result.success
    return result


def node_lb_swaps(stack, first: int, last: int) -> set[tuple[str, int]]:
    """(transaction hash, log index) of the node's Liquidity Book Swap events in blocks first..last."""
    logs = httpx.post(stack.anvil.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [
        {"fromBlock": hex(first), "toBlock": hex(last), "topics": [LB_SWAP_TOPIC]}]}).json()["result"]
    return {(log["transactionHash"], int(log["logIndex"], 16)) for log in logs}


def test_a_day_of_swaps_lands_everywhere_exactly(busy_run, graph, graph_resources, pipeline_env, lake, devchain,
                                                 stack):
    first, last = devchain.blocks_by_day[BUSY_DAY]
    expected = {s["id"]: s for s in graph.store.entities["Swap"].values()
                if first <= graph.store.entities["Transaction"][s["transaction"]]["blockNumber"] <= last}
    assert len(expected) > 2 * PAGE
    pages = [q for q in graph.queries if "swaps(" in q["query"]]
    assert len(pages) == len(expected) // PAGE + 1  # full pages, then a partial or empty one
    assert [q["variables"]["lastId"] == "" for q in pages] == [True] + [False] * (len(pages) - 1)
    assert all(q["variables"]["first"] == PAGE and "skip" not in q["query"] for q in pages)
    client = graph_resources["clickhouse"].warehouse().client
    rows = client.query("SELECT swap_id, block_number, amount_y_in, amount_x_out, token_x_decimals, pair_address, "
                        "transaction_hash, log_index, amount_x_in FROM avax.dex_swaps "
                        "WHERE toDate(block_timestamp) = {d:Date}", parameters={"d": BUSY_DAY}).result_rows
    assert len(rows) == len(expected) and {r[0] for r in rows} == set(expected)
    assert {(r[6], r[7]) for r in rows} == node_lb_swaps(stack, first, last)  # the chain's own swaps
    for swap_id, block, amount_y_in, amount_x_out, decimals, pair, _, _, _ in rows:
        swap = expected[swap_id]
        assert first <= block <= last
        assert (amount_y_in, amount_x_out) == (swap["amountYIn"], swap["amountXOut"])  # exact, as served
        assert pair == swap["lbPair"] == devchain.contracts["DevLBPair"] and decimals == 18
    assert any(len(Decimal(r[8]).as_tuple().digits) > 17 for r in rows), "amounts beyond float precision"
    assert lake.open_partition(DEX_SWAPS, BUSY_DAY).num_rows == len(expected)
    messages = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], DEX_SWAPS.topic, busy_run.run_id)
    # a key starts with its chain's id
    assert sorted(m.key().decode() for m in messages) == sorted(f"43114:{swap_id}" for swap_id in expected)
    checks = busy_run.get_asset_check_evaluations()
    assert {c.check_name for c in checks} >= {"blocks_in_partition_range", "unique_keys", "rows_match_parquet"}
    assert all(c.passed for c in checks)


def test_an_empty_range_is_an_empty_partition(pipeline_env, devchain):
    """A subgraph of pairs that did not trade that day (the devchain's LB pair trades every day)."""
    idle = {"Swap": {}, "Transaction": {}, "LBPair": {}, "Token": {}}
    with SubgraphServer(idle, indexed_block=devchain.latest_block, api_key=KEY) as server:
        result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=EMPTY_DAY,
                                resources=resources_for(server))
    assert result.success
    assert result.asset_materializations_for_node("dex_swaps")[0].metadata["dagster/row_count"].value == 0


def failure(result) -> str:
    return "\n".join(e.step_failure_data.error.to_string() for e in result.all_events
                     if e.event_type == dg.DagsterEventType.STEP_FAILURE)


def stored(lake, path: str) -> tuple | None:
    """The stored object's ETag and time, or None when there is none (the session's lake is shared: another module may
    have filled the day already)."""
    lake.fs.invalidate_cache()
    if not lake.fs.exists(path):
        return None
    info = lake.fs.info(path)
    return info["ETag"], info["LastModified"]


def test_a_range_the_subgraph_has_not_indexed_is_refused(graph_resources, lake, devchain):
    path = lake.partition_path(DEX_SWAPS.lake_folder, UNINDEXED_DAY)
    before = stored(lake, path)
    result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=UNINDEXED_DAY, resources=graph_resources,
                            raise_on_error=False)
    assert not result.success
    indexed, ends = devchain.blocks_by_day[BUSY_DAY][1], devchain.blocks_by_day[UNINDEXED_DAY][1]
    assert f"has indexed up to block {indexed}, the partition ends at block {ends}" in failure(result)
    assert stored(lake, path) == before  # the refused run wrote nothing


def test_indexing_errors_fail_loudly_and_keep_what_is_stored(busy_run, graph, graph_resources, lake):
    stored = lake.fs.cat(lake.partition_path(DEX_SWAPS.lake_folder, BUSY_DAY))
    graph.has_indexing_errors = True
    try:
        result = dg.materialize(Catalogue().scope("subgraphs"), partition_key=BUSY_DAY, resources=graph_resources,
                                raise_on_error=False)
    finally:
        graph.has_indexing_errors = False
    assert not result.success and "indexing errors" in failure(result)
    assert lake.fs.cat(lake.partition_path(DEX_SWAPS.lake_folder, BUSY_DAY)) == stored


def test_the_key_is_required_and_never_in_the_url(graph):
    with pytest.raises(SourceRefused, match="HTTP 401.*check AVAX_GRAPH_API_KEY"):
        SubgraphClient(graph.url).indexed_block()
    with SubgraphClient(graph.url, SubgraphSettings(api_key=KEY)) as client:
        assert client.indexed_block() > 0
        assert KEY not in client.url


# --- the subgraph's swaps are the chain's: dex_swaps against lb_swap over every devchain day --------------

LB_SWAP_SELECTION = ["blocks", "transactions", "logs", "clickhouse_blocks", "clickhouse_transactions", "lb_swap",
                     "clickhouse_lb_swap"]


@pytest.fixture(scope="module")
def swaps_of_every_day(pipeline_env, stack, devchain):
    """dex_swaps from a subgraph that follows the node, and lb_swap decoded from the chain's logs, every day."""
    with NodeIndexingSubgraph(stack.anvil.url, api_key=KEY) as server:
        resources = resources_for(server)
        for day in DAYS:
            assert dg.materialize(Catalogue().scope("chain"), selection=LB_SWAP_SELECTION, partition_key=day,
                                  resources=resources).success
            assert dg.materialize(Catalogue().scope("subgraphs"), partition_key=day, resources=resources).success
    return resources["clickhouse"].warehouse()


def test_every_subgraph_swap_is_an_lb_swap_of_the_chain_and_back(swaps_of_every_day, devchain, stack):
    warehouse, (first, last) = swaps_of_every_day, (0, devchain.blocks_by_day[DAYS[-1]][1])
    result = reconcile.subgraph_swaps(warehouse, first, last)
    assert result.ok, str(result)
    assert result.checked == len(node_lb_swaps(stack, first, last)) >= len(DAYS)
    per_day = warehouse.client.query("SELECT toDate(block_timestamp), count() FROM avax.dex_swaps "
                                     "GROUP BY 1 ORDER BY 1").result_rows
    assert [str(day) for day, _ in per_day] == list(DAYS)
    strangers = warehouse.client.query("SELECT count() FROM avax.dex_swaps WHERE block_number = 0 OR "
                                       "transaction_hash NOT IN (SELECT transaction_hash FROM avax.transactions)")
    assert strangers.result_rows[0][0] == 0


def test_the_swap_reconciliation_reports_an_altered_or_lost_swap(swaps_of_every_day, devchain, lake):
    from avax_assets.events.datasets import LB_SWAP

    warehouse, last = swaps_of_every_day, devchain.blocks_by_day[DAYS[-1]][1]
    tx, index, x_in = warehouse.client.query(
        "SELECT transaction_hash, log_index, amount_x_in FROM avax.dex_swaps WHERE toDate(block_timestamp) = "
        "{d:Date} AND amount_x_in != '0' ORDER BY swap_id LIMIT 1", parameters={"d": BUSY_DAY}).result_rows[0]
    where = f"transaction_hash = '{tx}' AND log_index = {index}"

    def restore(dataset):
        warehouse.replace_partition(dataset, dt.date.fromisoformat(BUSY_DAY),
                                    lake.open_partition(dataset, BUSY_DAY).iter_batches())
        assert reconcile.subgraph_swaps(warehouse, 0, last).ok

    altered = str(Decimal(x_in) + Decimal("0.000001"))
    warehouse.client.command(f"ALTER TABLE avax.dex_swaps UPDATE amount_x_in = '{altered}' WHERE {where}",
                             settings={"mutations_sync": 1})
    result = reconcile.subgraph_swaps(warehouse, 0, last)
    assert [(m[0], m[1], set(m[2])) for m in result.mismatches] == [(tx, index, {"x_in"})], str(result)
    restore(DEX_SWAPS)

    warehouse.client.command(f"ALTER TABLE avax.lb_swap DELETE WHERE {where}", settings={"mutations_sync": 1})
    result = reconcile.subgraph_swaps(warehouse, 0, last)
    assert result.mismatches == [(tx, index, "not in lb_swap")] and "1 MISMATCHES" in str(result)
    restore(LB_SWAP.dataset)


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
    graph.refresh()
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


def test_a_garbled_answer_is_asked_again_a_bounded_number_of_times():
    from avax_assets.core.errors import MalformedResponse

    meta = {"data": {"_meta": {"block": {"number": 9}, "hasIndexingErrors": False}}}
    waits = []
    transport = scripted(httpx.Response(200, text="<html>"), httpx.Response(200, json={"nothing": 1}),
                         httpx.Response(200, json=meta))
    client = SubgraphClient("http://graph.test", client_settings(SubgraphSettings, backoff_base_s=0.01),
                            transport=transport, sleep=waits.append)
    assert client.indexed_block() == 9 and len(waits) == 2
    garbled = httpx.MockTransport(lambda request: httpx.Response(200, text="{"))
    client = SubgraphClient("http://graph.test", client_settings(SubgraphSettings, max_attempts=2),
                            transport=garbled, sleep=lambda s: None)
    with pytest.raises(MalformedResponse, match="not JSON.*2 answers like it"):
        client.indexed_block()
