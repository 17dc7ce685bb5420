"""Metrics API datasets: what the fixture server serves holds to the official spec, and a day of
every group lands in ClickHouse with exact values, one row per (chain, metric, interval, timestamp)."""

import json
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from avax_assets.datasets import METRICS, METRICS_BY_GROUP
from avax_assets.datasets.metrics import METRIC_GROUPS, interval_of
from avax_assets.definitions import metrics_assets
from avax_assets.local.avacloud_fixtures import AvaCloudFixtureServer, metric_page, metric_value
from avax_assets.resources import AvaCloudResource
from avax_assets_tests.support import kafka_messages_of_run

SPEC = Path(__file__).parent / "specs" / "popsicle-metrics-api.openapi.json"
DAY, START = "2024-06-01", 1717200000
CHAINS = ("43114", "total")


def test_served_metric_pages_validate_against_the_spec():
    openapi = OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))
    for metric in ("txCount", "avgTps", "cumulativeTxCount"):
        query = {"startTimestamp": str(START), "endTimestamp": str(START + 86_399),
                 "timeInterval": interval_of(metric), "pageSize": "10"}
        page = metric_page("43114", metric, query)
        request = MockRequest("https://metrics.avax.network", "get", f"/v2/chains/43114/metrics/{metric}", args=query)
        openapi.validate_response(request, MockResponse(data=json.dumps(page).encode(), status_code=200,
                                                        content_type="application/json"))


def test_day_only_metrics_are_asked_by_day():
    assert [interval_of(m) for m in ("txCount", "avgTps", "cumulativeAddresses", "feesPaid", "contracts")] == \
        ["hour", "day", "day", "day", "day"]


@pytest.fixture(scope="module")
def metrics_run(resources):
    with AvaCloudFixtureServer() as server:
        faked = {**resources, "avacloud": AvaCloudResource(metrics_url=server.url)}
        result = dg.materialize(metrics_assets, partition_key=DAY, resources=faked)
        requests = list(server.requests)
    assert result.success
    return result, requests


def expected_rows(metrics) -> int:
    return len(CHAINS) * sum(24 if interval_of(m) == "hour" else 1 for m in metrics)


def test_every_group_lands_with_one_row_per_point(metrics_run, resources, pipeline_env):
    result, requests = metrics_run
    client = resources["clickhouse"].warehouse().client
    for group, names in METRIC_GROUPS.items():
        dataset = METRICS_BY_GROUP[group]
        count, distinct = client.query(
            f"SELECT count(), uniqExact(chain_id, metric, time_interval, timestamp) FROM avax.{dataset.table} "
            "WHERE toDate(timestamp) = {d:Date}", parameters={"d": DAY}).result_rows[0]
        assert count == distinct == expected_rows(names), group
    total = client.query("SELECT count() FROM avax.metrics WHERE toDate(timestamp) = {d:Date}",
                         parameters={"d": DAY}).result_rows[0][0]
    assert total == sum(expected_rows(names) for names in METRIC_GROUPS.values())
    messages = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], METRICS.topic, result.run_id)
    assert len(messages) == total
    assert any("timeInterval=day" in r and "/cumulativeTxCount" in r for r in requests)


def test_values_are_exact(metrics_run, resources):
    client = resources["clickhouse"].warehouse().client
    rows = client.query("SELECT chain_id, metric, toUnixTimestamp(timestamp), value FROM avax.metrics "
                        "WHERE metric IN ('gasUsed', 'avgGasPrice') AND toDate(timestamp) = {d:Date}",
                        parameters={"d": DAY}).result_rows
    assert rows
    for chain, metric, stamp, value in rows:
        assert Decimal(value) == Decimal(metric_value(chain, metric, stamp))  # exact, no float on the way
    assert any(int(v) > 2**53 for _, m, _, v in rows if m == "gasUsed"), "values above 2^53 must survive"
