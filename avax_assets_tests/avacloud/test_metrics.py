"""Metrics API datasets: what the fixture server serves holds to the official spec, and a day of
every group lands in ClickHouse with exact values, one row per (chain, metric, interval, timestamp)."""

import json
from decimal import Decimal

import dagster as dg
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from avax_assets.avacloud.metrics import METRIC_GROUPS, METRICS, METRICS_BY_GROUP, interval_of
from avax_assets.catalogue import Catalogue
from avax_assets_dev.local.avacloud_fixtures import AvaCloudFixtureServer, metric_page, metric_value
from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets_tests.support import kafka_messages_of_run
from avax_assets_tests.conftest import SPECS_DIR

SPEC = SPECS_DIR / "popsicle-metrics-api.openapi.json"
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
        result = dg.materialize(Catalogue().scope("metrics"), partition_key=DAY, resources=faked)
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


RANGE = ("2024-06-10", "2024-06-12")


def test_backfill_policy_is_many_days_for_metrics_one_for_heavy_datasets():
    from avax_assets.definitions import defs as load_definitions

    defs = load_definitions()
    for asset in defs.resolve_all_asset_specs():
        policy = defs.resolve_assets_def(asset.key).backfill_policy
        name = asset.key.path[-1].removeprefix("clickhouse_")
        if asset.partitions_def is None:
            continue
        expected = 31 if name.startswith("metrics") else 1
        assert policy is not None and policy.max_partitions_per_run == expected, (asset.key, policy)


def test_a_backfill_run_over_a_range_stores_and_loads_every_day(resources, lake, pipeline_env):
    """What a UI backfill of the metrics does with its policy: one run over a range of days."""
    with AvaCloudFixtureServer() as server:
        faked = {**resources, "avacloud": AvaCloudResource(metrics_url=server.url)}
        result = dg.materialize(Catalogue().scope("metrics"), resources=faked, tags={
            "dagster/asset_partition_range_start": RANGE[0], "dagster/asset_partition_range_end": RANGE[1]})
    assert result.success
    days = ["2024-06-10", "2024-06-11", "2024-06-12"]
    client = resources["clickhouse"].warehouse().client
    per_day = dict(client.query("SELECT toString(toDate(timestamp)) AS d, count() FROM avax.metrics "
                                "WHERE d BETWEEN {a:String} AND {b:String} GROUP BY d ORDER BY d",
                                parameters={"a": RANGE[0], "b": RANGE[1]}).result_rows)
    one_day = sum(expected_rows(names) for names in METRIC_GROUPS.values())
    assert per_day == {day: one_day for day in days}
    for day in days:  # one Parquet object per day, at its own path
        assert lake.open_partition(METRICS, day).num_rows == one_day
    messages = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], METRICS.topic, result.run_id)
    assert sorted({dict(m.headers())["partition"].decode() for m in messages}) == days
    assert len(messages) == 3 * one_day
    checks = result.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks)
    assert {check.metadata["partitions"].value for check in checks} == {3}


def test_a_backfill_run_over_a_one_day_range(resources, lake):
    """A range of one day (the tail of a backfill) carries range tags but no partition key."""
    with AvaCloudFixtureServer() as server:
        faked = {**resources, "avacloud": AvaCloudResource(metrics_url=server.url)}
        result = dg.materialize(Catalogue().scope("metrics"), resources=faked, tags={
            "dagster/asset_partition_range_start": "2024-06-20", "dagster/asset_partition_range_end": "2024-06-20"})
    assert result.success
    assert lake.open_partition(METRICS, "2024-06-20").num_rows == sum(expected_rows(n) for n in METRIC_GROUPS.values())
