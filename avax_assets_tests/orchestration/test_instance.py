"""The production instance configuration (deployments/production/dagster.yaml) on a real PostgreSQL
(Debian's server, started by the project's service manager) and the local S3 server: a materialization's
run, events and pool limits are stored in Postgres, read back by Dagster and by plain SQL; a step's stdout
and stderr are stored in S3 and read back as the webserver reads them."""

import shutil
import sys
import uuid

import dagster as dg
import pytest
from dagster._core.storage.compute_log_manager import ComputeIOType

from avax_assets.catalogue import Catalogue
from avax_assets.orchestration import pools
from avax_assets_tests.conftest import REPO

DAY = "2024-06-03"
COMPUTE_LOG_PREFIX = "dagster/compute-logs"
MARKER = "compute-log-marker"


@pytest.fixture(scope="module")
def postgres(stack):
    service = stack.postgres
    started_here = not (service.pid() and service.is_ready())
    service.start()
    yield service
    if started_here:
        service.stop()


@pytest.fixture(scope="module")
def production_instance(postgres, lake, tmp_path_factory, monkeypatch_module):
    database = f"dagster_{uuid.uuid4().hex[:8]}"
    postgres.create_database(database)
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "deployments" / "production" / "dagster.yaml", home / "dagster.yaml")
    lake.reach()  # creates the lake's bucket, where the compute logs go as in compose
    for key, value in {**postgres.environment(database), **compute_log_environment(lake)}.items():
        monkeypatch_module.setenv(key, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance, database


def compute_log_environment(lake) -> dict[str, str]:
    """What compose gives the Dagster services for the compute logs (AVAX_S3_ENDPOINT_URL is already set)."""
    return {"DAGSTER_COMPUTE_LOG_BUCKET": lake.bucket, "DAGSTER_COMPUTE_LOG_PREFIX": COMPUTE_LOG_PREFIX,
            "AWS_ACCESS_KEY_ID": lake.s3.access_key_id, "AWS_SECRET_ACCESS_KEY": lake.s3.secret_access_key}


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
    assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"


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


@dg.op
def print_marker():
    print(f"{MARKER} on stdout")
    print(f"{MARKER} on stderr", file=sys.stderr)


@dg.job(executor_def=dg.multiprocess_executor)  # as the deployments run: each step's process captures its output
def marker_job():
    print_marker()


def test_a_steps_output_is_kept_in_s3_and_read_back_from_there(production_instance, lake):
    instance, _ = production_instance
    with dg.execute_job(dg.reconstructable(marker_job), instance) as result:
        assert result.success
    [captured] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.LOGS_CAPTURED)
    assert captured.dagster_event.logs_captured_data.step_keys == ["print_marker"]
    file_key = captured.dagster_event.logs_captured_data.file_key

    objects = [path for path in lake.fs.find(f"{lake.bucket}/{COMPUTE_LOG_PREFIX}/", refresh=True)
               if result.run_id in path]
    stored = {path.rsplit(".", 1)[-1]: lake.fs.cat_file(path).decode() for path in objects}
    assert f"{MARKER} on stdout" in stored["out"] and f"{MARKER} on stderr" in stored["err"]

    # as the webserver reads them, from an instance of its own: the staged copies went after the upload
    with dg.DagsterInstance.from_ref(instance.get_ref()) as webserver:
        log_key = webserver.compute_log_manager.build_log_key_for_run(result.run_id, file_key)
        assert not webserver.compute_log_manager.has_local_file(log_key, ComputeIOType.STDOUT)
        logs = webserver.compute_log_manager.get_log_data(log_key)
    assert f"{MARKER} on stdout" in logs.stdout.decode() and f"{MARKER} on stderr" in logs.stderr.decode()
