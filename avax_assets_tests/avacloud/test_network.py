"""Network snapshot datasets from the AvaCloud Data API: fixtures hold to the official spec, and a
snapshot day goes fixture server → Kafka → Parquet on S3 → ClickHouse like every other dataset."""

import json

import dagster as dg
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from avax_assets.avacloud.snapshots import SNAPSHOTS, VALIDATORS, snapshot_rows
from avax_assets.catalogue import Catalogue
from avax_assets.core.errors import SourceDataError
from avax_assets_dev.local.avacloud_fixtures import FIXTURES, AvaCloudFixtureServer
from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets_tests.support import kafka_messages_of_run
from avax_assets_tests.conftest import SPECS_DIR

L1_VALIDATORS = next(s for s in SNAPSHOTS if s.dataset is VALIDATORS).endpoints[-1]

SPEC = SPECS_DIR / "glacier-data-api.openapi.json"  # a copy of ../shared/specs (interface data)
DAY = "2024-06-01"
EXPECTED_ROWS = {"chains": 2, "subnets": 3, "blockchains": 3, "validators": 8, "delegators": 6}


@pytest.fixture(scope="module")
def openapi():
    return OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))


def validate(openapi, path: str, page: dict) -> None:
    request = MockRequest("https://data-api.avax.network", "get", path)
    openapi.validate_response(request, MockResponse(data=json.dumps(page).encode(), status_code=200,
                                                    content_type="application/json"))


def test_every_fixture_page_validates_against_the_spec(openapi):
    fixtures = json.loads(FIXTURES.read_text())
    assert {key.split("?")[0] for key in fixtures} == {
        "/v1/chains", "/v1/networks/mainnet/subnets", "/v1/networks/mainnet/blockchains",
        "/v1/networks/mainnet/validators", "/v1/networks/mainnet/l1Validators", "/v1/networks/mainnet/delegators",
        "/v1/icm/messages", "/v1/networks/mainnet/blockchains/p-chain/blocks",
        "/v1/networks/mainnet/blockchains/p-chain/transactions", "/v1/networks/mainnet/rewards"}
    for key, pages in fixtures.items():
        for page in pages:
            validate(openapi, key.split("?")[0], page)


def test_the_spec_check_would_catch_a_broken_fixture(openapi):
    page = json.loads(FIXTURES.read_text())["/v1/networks/mainnet/subnets"][0]
    del page["subnets"][0]["isL1"]
    with pytest.raises(Exception, match="InvalidData|required"):
        validate(openapi, "/v1/networks/mainnet/subnets", page)


@pytest.fixture(scope="module")
def fixture_server():
    with AvaCloudFixtureServer() as server:
        yield server


@pytest.fixture(scope="module")
def snapshot_run(resources, fixture_server):
    faked = {**resources, "avacloud": AvaCloudResource(data_url=fixture_server.url, page_size=2)}
    result = dg.materialize(Catalogue().scope("network"), partition_key=DAY, resources=faked)
    assert result.success
    return result, faked


def rows(warehouse, table):
    return warehouse.client.query(f"SELECT count(), uniqExact(cityHash64(tuple(*))) FROM avax.{table} "
                                  "WHERE snapshot_date = {d:Date}", parameters={"d": DAY}).result_rows[0]


def test_a_snapshot_day_lands_everywhere(snapshot_run, resources, pipeline_env, lake, fixture_server):
    result, _ = snapshot_run
    warehouse = resources["clickhouse"].warehouse()
    for dataset in (snapshot.dataset for snapshot in SNAPSHOTS):
        assert rows(warehouse, dataset.table)[0] == EXPECTED_ROWS[dataset.name]
        assert lake.open_partition(dataset, DAY).num_rows == EXPECTED_ROWS[dataset.name]
        messages = kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], dataset.topic, result.run_id)
        assert len(messages) == EXPECTED_ROWS[dataset.name]
        metadata = result.asset_materializations_for_node(dataset.name)[0].metadata
        assert "current state only" in metadata["state_as_of"].value  # 2024-06-01 is not today
        assert metadata["compute_units"].value > 0
    assert any("pageToken=page-2" in r for r in fixture_server.requests), "the pager should follow the token"
    subnets = warehouse.client.query("SELECT subnet_id, is_l1, threshold, create_block_index FROM avax.subnets "
                                     "ORDER BY create_block_index").result_rows
    assert subnets[-1] == ("2XDnKyAEr1RhhWpTpMXqrjeejN23vETmDykVzkb4PrU1fQjewh", True, 2, 19000000)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    staked = warehouse.client.query("SELECT validation_status, toString(amount_staked), delegation_fee FROM "
                                    "avax.validators WHERE validator_kind = 'primary_network' "
                                    "ORDER BY amount_staked DESC LIMIT 2").result_rows
    assert staked == [("completed", "340282366920938463463374607431768211457", "2.0000"),
                      ("active", "18446744073709551617000", "5.5000")]  # uint256 exact, above 2^128 and 2^64
    l1 = warehouse.client.query("SELECT validation_status, weight, toString(remaining_balance), tx_hash, "
                                "start_timestamp, validation_id_hex FROM avax.validators "
                                "WHERE validator_kind = 'l1' ORDER BY validation_id").result_rows
    assert [row[:4] for row in l1] == [("active", 100, "18446744073709551617", None), ("inactive", 20, "0", None),
                                       ("removed", 0, "0", None)]
    assert l1[0][4].timestamp() == 1732000001 and l1[0][5] == "0x" + "01" * 32
    statuses = warehouse.client.query("SELECT delegation_status, count() FROM avax.delegators GROUP BY 1 ORDER BY 1")
    assert statuses.result_rows == [("active", 3), ("completed", 2), ("pending", 1)]


def test_a_snapshot_again_replaces_the_day(snapshot_run, resources):
    _, faked = snapshot_run
    assert dg.materialize(Catalogue().scope("network"), partition_key=DAY, resources=faked).success
    warehouse = resources["clickhouse"].warehouse()
    for dataset in (snapshot.dataset for snapshot in SNAPSHOTS):
        assert rows(warehouse, dataset.table) == (EXPECTED_ROWS[dataset.name],) * 2


def test_a_missing_required_field_names_dataset_partition_and_field(snapshot_run, resources, tmp_path, lake):
    _, faked = snapshot_run
    fixtures = json.loads(FIXTURES.read_text())
    del fixtures["/v1/networks/mainnet/subnets"][1]["subnets"][0]["isL1"]
    broken = tmp_path / "avacloud.json"
    broken.write_text(json.dumps(fixtures))
    stored = lake.fs.cat(lake.partition_path("subnets", DAY))
    with AvaCloudFixtureServer(fixtures=broken) as server:
        result = dg.materialize(Catalogue().scope("network"), selection=["subnets", "clickhouse_subnets"],
                                partition_key=DAY,
                                resources={**faked, "avacloud": AvaCloudResource(data_url=server.url, page_size=2)},
                                raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "dataset 'subnets' partition 2024-06-01: field 'isL1' is missing at item 0" in \
        failure.step_failure_data.error.to_string()
    assert lake.fs.cat(lake.partition_path("subnets", DAY)) == stored
    assert rows(resources["clickhouse"].warehouse(), "subnets")[0] == EXPECTED_ROWS["subnets"]


def _l1_item(**changes) -> dict:
    item = json.loads(FIXTURES.read_text())["/v1/networks/mainnet/l1Validators"][0]["validators"][0]
    return {**item, **changes}


@pytest.mark.parametrize("weight, balance, status", [(100, 5, "active"), (100, 0, "inactive"), (0, 0, "removed"),
                                                     (0, 7, "removed")])
def test_an_l1_validation_status_follows_weight_and_balance(weight, balance, status):
    (row,) = snapshot_rows(VALIDATORS, DAY, [_l1_item(weight=weight, remainingBalance=balance)], 0,
                           L1_VALIDATORS)
    assert (row["validator_kind"], row["validation_status"], row["tx_hash"]) == ("l1", status, None)
    assert row["validation_id"] == _l1_item()["validationId"]


def test_an_l1_validation_without_its_balance_names_dataset_partition_and_field():
    item = _l1_item()
    del item["remainingBalance"]
    with pytest.raises(SourceDataError, match=r"dataset 'validators' partition 2024-06-01: field 'remainingBalance' "
                                              r"is missing at item 0 of /v1/networks/mainnet/l1Validators"):
        snapshot_rows(VALIDATORS, DAY, [item], 0, L1_VALIDATORS)
