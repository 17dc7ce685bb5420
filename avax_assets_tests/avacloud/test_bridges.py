"""ICM messages (bridges) by day: the pager walks back from the newest message only as far as the
day needs, and the day keeps exactly its own messages."""

import dagster as dg
import pytest

from avax_assets.avacloud.bridges import BRIDGES
from avax_assets.catalogue import Catalogue
from avax_assets_dev.local.avacloud_fixtures import AvaCloudFixtureServer
from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets_tests.support import kafka_messages_of_run

@pytest.fixture(scope="module")
def runs(resources):
    out = {}
    with AvaCloudFixtureServer() as server:
        served = {**resources, "avacloud": AvaCloudResource(data_url=server.url)}
        for day in ("2024-06-01", "2024-06-02"):
            start = len(server.requests)
            result = dg.materialize(Catalogue().scope("bridges"), partition_key=day, resources=served)
            assert result.success
            out[day] = (result, server.requests[start:])
    return out


def day_rows(resources, day):
    return resources["clickhouse"].warehouse().client.query(
        "SELECT message_id, status, toString(message_nonce) FROM avax.bridges WHERE toDate(message_timestamp) = "
        "{d:Date} ORDER BY message_id", parameters={"d": day}).result_rows


def test_each_day_keeps_exactly_its_messages(runs, resources):
    ids = lambda rows: [int(r[0], 16) for r in rows]  # noqa: E731
    assert ids(day_rows(resources, "2024-06-01")) == [4, 5, 6]  # 6: source late on the 1st, delivered the 2nd
    assert ids(day_rows(resources, "2024-06-02")) == [7]
    statuses = {r[1] for r in day_rows(resources, "2024-06-01")}
    assert statuses == {"delivered", "delivered_source_not_indexed"}  # dated by delivery when the source is unknown
    assert day_rows(resources, "2024-06-01")[0][2] == str(2**200 + 4)


def test_the_pager_stops_once_a_page_is_older_than_the_day(runs):
    _, requests = runs["2024-06-01"]
    tokens = [r.split("pageToken=")[1].split("&")[0] if "pageToken=" in r else None for r in requests]
    assert tokens == [None, "icm-2", "icm-3", "icm-4"]  # page 4 is all older: page 5 is never asked for
    _, requests = runs["2024-06-02"]
    assert len(requests) == 3  # page 3 holds only older messages


def test_bridges_reach_kafka(runs, pipeline_env):
    result, _ = runs["2024-06-01"]
    messages = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], BRIDGES.topic, result.run_id)
    assert sorted(m.key().decode() for m in messages) == [f"0x{n:064x}" for n in (4, 5, 6)]
