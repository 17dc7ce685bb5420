"""The production instance configuration (deployments/production/dagster.yaml) on a real PostgreSQL
(Debian's server, started by the project's service manager): a materialization's run, events and
pool limits are stored in Postgres, read back by Dagster and by plain SQL."""

import shutil
import uuid

import dagster as dg
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.orchestration import pools
from avax_assets_tests.conftest import REPO

DAY = "2024-06-03"


@pytest.fixture(scope="module")
def postgres(stack):
    service = stack.postgres
    started_here = not (service.pid() and service.is_ready())
    service.start()
    yield service
    if started_here:
        service.stop()


@pytest.fixture(scope="module")
def production_instance(postgres, tmp_path_factory, monkeypatch_module):
    database = f"dagster_{uuid.uuid4().hex[:8]}"
    postgres.create_database(database)
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "deployments" / "production" / "dagster.yaml", home / "dagster.yaml")
    for key, value in {**postgres.environment(database), "DAGSTER_COMPUTE_LOG_DIR": str(home / "logs")}.items():
        monkeypatch_module.setenv(key, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance, database


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_storage_is_postgres_with_monitoring_and_retries(production_instance):
    instance, _ = production_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert instance.run_monitoring_enabled
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


def test_materialization_is_recorded_in_postgres(production_instance, postgres, resources, devchain):
    instance, database = production_instance
    pools.apply_limits(instance, pools.PRODUCTION_LIMITS)

    result = dg.materialize(Catalogue().scope("chain"), selection=["blocks", "clickhouse_blocks"], partition_key=DAY,
                            resources=resources, instance=instance)
    assert result.success

    event = instance.get_latest_materialization_event(dg.AssetKey("clickhouse_blocks"))
    assert event is not None and event.run_id == result.run_id
    first, last = devchain.blocks_by_day[DAY]
    assert event.asset_materialization.metadata["dagster/row_count"].value == last - first + 1
    for pool, limit in pools.PRODUCTION_LIMITS.items():
        assert instance.event_log_storage.get_concurrency_info(pool).slot_count == limit

    connection = postgres.connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
            assert cursor.fetchone() == ("SUCCESS",)
            cursor.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
                           (result.run_id, "ASSET_MATERIALIZATION"))
            assert cursor.fetchone() == (2,)
    finally:
        connection.close()
