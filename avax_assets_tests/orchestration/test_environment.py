"""AVAX_* variables onto the resources: typed, checked when the resources are built, naming the variable;
secrets as EnvVars; the declared defaults when a variable is unset."""

import os

import dagster as dg
import pytest

from avax_assets.catalogue import build_resources
from avax_assets.chain.settings import RPC, BlocksSource
from avax_assets.core.clickhouse import CLICKHOUSE
from avax_assets.core.errors import SettingError
from avax_assets.core.kafka import KafkaSecurityProtocol, SaslMechanism
from avax_assets.orchestration.configured import partition_settings


def test_unset_variables_leave_the_settings_defaults():
    resources = build_resources({})
    assert resources["rpc"].batch_size == RPC.batch_size and resources["rpc"].url == RPC.url
    assert resources["clickhouse"].database == CLICKHOUSE.database
    assert resources["lake_io_manager"].root == ".avax-assets/lake"
    assert build_resources({"AVAX_S3_ENDPOINT_URL": "http://s3"})["lake_io_manager"].root == "s3://avax-assets"
    assert build_resources({"AVAX_HOME": "/srv/avax"})["clickhouse"].chdb_path == "/srv/avax/chdb"


def test_every_kind_of_setting_is_parsed_to_its_type():
    resources = build_resources({
        "AVAX_RPC_BATCH_SIZE": "7", "AVAX_RPC_TIMEOUT_S": "2.5", "AVAX_BLOCKS_SOURCE": "data_api",
        "AVAX_CLICKHOUSE_SECURE": "true", "AVAX_SUBGRAPH_IDS": "traderjoe-v2=abc,other=def",
        "AVAX_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "AVAX_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    })
    assert resources["rpc"].batch_size == 7 and resources["rpc"].timeout_s == 2.5
    assert resources["rpc"].uses_data_api() and resources["rpc"].blocks_source is BlocksSource.data_api
    assert resources["clickhouse"].secure is True
    assert resources["subgraph"].subgraph_ids == {"traderjoe-v2": "abc", "other": "def"}
    config = resources["kafka"].client_config()
    assert (config["security.protocol"], config["sasl.mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert resources["kafka"].security_protocol is KafkaSecurityProtocol.SASL_SSL
    assert resources["kafka"].sasl_mechanism is SaslMechanism.SCRAM_SHA_512


@pytest.mark.parametrize("variable, value, message", [
    ("AVAX_RPC_BATCH_SIZE", "forty", "AVAX_RPC_BATCH_SIZE must be an integer, not 'forty'"),
    ("AVAX_RPC_RECEIPTS", "all", "AVAX_RPC_RECEIPTS must be one of auto, block, transaction, not 'all'"),
    ("AVAX_AVACLOUD_NETWORK", "devnet", "AVAX_AVACLOUD_NETWORK must be one of mainnet, fuji, testnet"),
    ("AVAX_CLICKHOUSE_SECURE", "yes", "AVAX_CLICKHOUSE_SECURE must be true or false, not 'yes'"),
    ("AVAX_CLICKHOUSE_DATABASE", "avax-prod", "AVAX_CLICKHOUSE_DATABASE must be a ClickHouse identifier"),
    ("AVAX_LAKE_ROOT", "s3://bucket/../x", "AVAX_LAKE_ROOT: the prefix of 's3://bucket/../x' has the path segment"),
    ("AVAX_KAFKA_BOOTSTRAP_SERVERS", "broker", "AVAX_KAFKA_BOOTSTRAP_SERVERS must be host:port"),
    ("AVAX_S3_ENDPOINT_URL", "minio:9000", "AVAX_S3_ENDPOINT_URL must be an http:// or https:// URL"),
    ("AVAX_KAFKA_TIMEOUT_S", "0", "AVAX_KAFKA_TIMEOUT_S must be positive, not 0.0"),
    # every setting bounded: finite, and within its stated limits
    ("AVAX_RPC_MAX_ATTEMPTS", "1000000", "AVAX_RPC_MAX_ATTEMPTS must be at most 20, not 1000000"),
    ("AVAX_RPC_DEADLINE_S", "nan", "AVAX_RPC_DEADLINE_S must be a finite number"),
    ("AVAX_RPC_TIMEOUT_S", "inf", "AVAX_RPC_TIMEOUT_S must be a finite number"),
    ("AVAX_LIVE_POLL_S", "nan", "AVAX_LIVE_POLL_S must be a finite number"),
    ("AVAX_LIVE_POLL_S", "0.001", "AVAX_LIVE_POLL_S must be at least 0.05"),
    ("AVAX_KAFKA_TIMEOUT_S", "nan", "AVAX_KAFKA_TIMEOUT_S must be a finite number"),
    ("AVAX_KAFKA_TOPIC_PARTITIONS", "100000", "AVAX_KAFKA_TOPIC_PARTITIONS must be at most 1000"),
    ("AVAX_AVACLOUD_PAGE_SIZE", "500", "AVAX_AVACLOUD_PAGE_SIZE must be at most 100"),
])
def test_a_value_that_does_not_fit_is_refused_naming_the_variable(variable, value, message):
    with pytest.raises(SettingError, match=message):
        build_resources({variable: value})


def test_a_secret_that_does_not_fit_is_refused_without_repeating_it():
    with pytest.raises(SettingError) as refused:
        build_resources({"AVAX_RPC_URL": "node.example/v1/k3y"})
    assert "AVAX_RPC_URL must be an http:// or https:// URL" in str(refused.value)
    assert "k3y" not in str(refused.value)


def test_secrets_are_env_vars_resolved_at_run_time_never_values_in_config():
    resources = build_resources({"AVAX_AVACLOUD_API_KEY": "s3cr3t", "AVAX_RPC_URL": "https://node/key"})
    assert "s3cr3t" not in repr(resources["avacloud"]) and "https://node/key" not in repr(resources["rpc"])
    assert resources["avacloud"].api_key == dg.EnvVar("AVAX_AVACLOUD_API_KEY")


def test_a_secret_of_the_env_file_resolves_at_run_time_without_exports(tmp_path, monkeypatch):
    """The local stack writes its S3 credentials and node URL to local.env only: the EnvVars the resources
    hold resolve all the same (before, a run failed on each: "environment variable … is not set")."""
    (tmp_path / "local.env").write_text("AVAX_S3_SECRET_ACCESS_KEY=from-file\nAVAX_RPC_URL=http://127.0.0.1:8545\n"
                                        "AVAX_RPC_BATCH_SIZE=9\n")
    monkeypatch.setenv("AVAX_ENV_FILE", str(tmp_path / "local.env"))
    for name in ("AVAX_S3_SECRET_ACCESS_KEY", "AVAX_RPC_URL", "AVAX_RPC_BATCH_SIZE"):
        monkeypatch.setenv(name, "")  # so that the end of the test takes back what the build puts there
        monkeypatch.delenv(name)
    monkeypatch.setenv("AVAX_S3_ACCESS_KEY_ID", "from-process")
    resources = build_resources()
    assert resources["lake_io_manager"].s3_secret_access_key == dg.EnvVar("AVAX_S3_SECRET_ACCESS_KEY")
    lake = resources["lake_io_manager"].settings()
    assert (lake.s3_secret_access_key, lake.s3_access_key_id) == ("from-file", "from-process")
    assert resources["rpc"].settings().url == "http://127.0.0.1:8545" and resources["rpc"].batch_size == 9
    assert "AVAX_RPC_BATCH_SIZE" not in os.environ  # only secrets: the rest is configuration already


def test_a_secret_out_of_bounds_is_refused_without_repeating_it():
    with pytest.raises(SettingError) as refused:
        build_resources({"AVAX_TRACE_RPC_URL": "ftp://node/k3y"})
    assert "AVAX_TRACE_RPC_URL" in str(refused.value) and "k3y" not in str(refused.value)


def test_every_declared_number_has_an_upper_bound_but_a_block_number():
    from avax_assets.catalogue import SETTINGS

    unbounded = [v.name for model in SETTINGS for v in model.variables()
                 if v.kind in ("integer", "number") and "≤" not in v.bounds]
    assert unbounded == ["AVAX_LIVE_START_BLOCK"]


def test_a_scoped_model_reads_its_own_variables():
    from avax_assets.chain.settings import RpcSettings

    settings = RpcSettings.from_environ({"AVAX_FUJI_RPC_URL": "https://fuji.example/rpc", "AVAX_RPC_URL": "http://x"},
                                        scope="fuji")
    assert settings.url == "https://fuji.example/rpc"
    with pytest.raises(SettingError, match="AVAX_FUJI_RPC_BATCH_SIZE must be at most 1000"):
        RpcSettings.from_environ({"AVAX_FUJI_RPC_BATCH_SIZE": "5000"}, scope="fuji")


def test_a_day_that_is_no_date_is_refused_naming_the_variable():
    with pytest.raises(SettingError, match="AVAX_CHAIN_START_DATE must be a day as YYYY-MM-DD, not '2024-13-01'"):
        partition_settings({"AVAX_CHAIN_START_DATE": "2024-13-01"})


def test_partition_starts_come_from_the_environment_at_load():
    assert partition_settings({"AVAX_CHAIN_START_DATE": "2024-01-01"}).chain_start == "2024-01-01"
    assert partition_settings({}).snapshot_start == "2024-06-01"
