"""Metrics API answers the spec allows but a fixture server would not send on demand (scripted with
httpx.MockTransport): a fractional timestamp, points outside the day, a repeated page token. Each is named
with dataset, partition, field and where, or counted; nothing is dropped silently."""

import json

import dagster as dg
import httpx
import pytest

from avax_assets.avacloud.metrics import METRIC_GROUPS, METRICS_BY_GROUP, extract_metrics
from avax_assets.core.errors import SourceDataError, SourceRefused
from avax_assets_tests.avacloud.test_avacloud_client import client

DAY, START = "2024-06-01", 1717200000
ACTIVITY = METRICS_BY_GROUP["activity"]
ACTIVITY_METRICS = METRIC_GROUPS["activity"]


def serving(*pages: dict):
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        return httpx.Response(200, content=json.dumps(pages[int(token or 0)], default=str).encode())
    return handler


def extract(handler, counted=None):
    outside = (lambda n: counted.append(n)) if counted is not None else (lambda n: None)
    return list(extract_metrics(client(handler, metrics_url="https://metrics.test"), ACTIVITY, ("txCount",),
                                ("43114",), DAY, START, outside))


def test_a_fractional_timestamp_is_an_error_naming_dataset_partition_field_and_where():
    handler = serving({"results": [{"value": 5, "timestamp": START}, {"value": 6, "timestamp": START + 3600.5}]})
    with pytest.raises(SourceDataError) as refused:
        extract(handler)
    message = str(refused.value)
    assert "dataset 'metrics_activity' partition 2024-06-01: field 'timestamp'" in message
    assert "1717203600.5" in message and "chain 43114 metric txCount page 0 item 1" in message


def test_a_whole_second_timestamp_sent_as_a_decimal_number_is_accepted():
    [batch] = extract(serving({"results": [{"value": 7.25, "timestamp": START + 3600.0}]}))  # JSON 1717203600.0
    assert batch.column("value").to_pylist() == ["7.25"]


def test_points_outside_the_day_are_counted_not_silently_dropped():
    counted = []
    batches = extract(serving({"results": [{"value": 1, "timestamp": START - 3600}, {"value": 2, "timestamp": START},
                                           {"value": 3, "timestamp": START + 86_400}]}), counted)
    assert sum(b.num_rows for b in batches) == 1 and sum(counted) == 2


def test_a_repeated_page_token_names_dataset_partition_chain_and_metric():
    handler = serving({"results": [], "nextPageToken": "1"}, {"results": [], "nextPageToken": "1"})
    with pytest.raises(SourceRefused) as refused:
        extract(handler)
    assert str(refused.value).startswith("dataset 'metrics_activity' partition 2024-06-01, chain 43114, "
                                         "metric txCount: AvaCloud GET /v2/chains/{chainId}/metrics/{metric}: "
                                         "nextPageToken repeated")


def test_a_point_without_a_value_or_with_a_text_value_names_the_field():
    with pytest.raises(SourceDataError, match="field 'value' is missing at GET .* item 0"):
        extract(serving({"results": [{"timestamp": START}]}))
    with pytest.raises(SourceDataError, match="field 'value' is not a number: '7' at GET .* item 0"):
        extract(serving({"results": [{"value": "7", "timestamp": START}]}))


def test_a_day_answered_only_with_points_around_it_warns_and_counts_them(resources):
    from avax_assets.catalogue import Catalogue
    from avax_assets.avacloud.resources import AvaCloudResource
    from avax_assets_dev.local.http import BackgroundServer, JsonHandler

    class AroundTheDay(JsonHandler):  # every series answers with yesterday's last hour only
        def do_GET(self) -> None:
            self.reply(200, {"results": [{"value": 1, "timestamp": START - 3600}]})

    with BackgroundServer(AroundTheDay) as server:
        faked = {**resources, "avacloud": AvaCloudResource(metrics_url=server.base_url)}
        asset = next(a for a in Catalogue().scope("metrics") if a.key.path[-1] == ACTIVITY.name)
        result = dg.materialize([asset], partition_key=DAY, resources=faked, raise_on_error=False)
    assert result.success  # a warning, not a failure
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "points_in_the_day" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    metadata = result.asset_materializations_for_node(ACTIVITY.name)[0].metadata
    assert metadata["points_outside_the_day"].value == len(ACTIVITY_METRICS) * 2  # every metric, both chains
    assert metadata["dagster/row_count"].value == 0
