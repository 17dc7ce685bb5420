"""The scale-out deployments (docker compose, Helm values, ClickHouse cluster DDL) cannot run here: no
Docker engine, no Kubernetes, no Keeper. What can be checked is: the files parse, every setting they
name is one the code reads, the images and addresses agree with each other and with the code's
configuration, and the cluster DDL is accepted by the real ClickHouse engine (chDB) as far as it can go."""

import json
import re
import subprocess
import sys
import tomllib
from urllib.parse import urlparse

import pytest
import yaml

from avax_assets.catalogue import DATASETS as ALL_DATASETS
from avax_assets.core.clickhouse_cluster import ClusterLayout, cluster_ddl, distributed_table_sql, replicated_table_sql
from avax_assets.definitions import defs as load_definitions
from avax_assets_tests.conftest import REPO

DEPLOYMENTS = REPO / "deployments"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PRODUCTION_INSTANCE = yaml.safe_load((DEPLOYMENTS / "production" / "dagster.yaml").read_text())
DAGSTER_SERVICES = ("code-location", "webserver", "daemon")


def instance_settings() -> set[str]:
    """Every environment variable the production instance reads."""
    return set(re.findall(r"\{env: ([A-Z0-9_]+)\}", (DEPLOYMENTS / "production" / "dagster.yaml").read_text()))


def code_settings() -> set[str]:
    """Every environment variable the code or the production instance reads."""
    names = instance_settings()
    for source in (REPO / "avax_assets").rglob("*.py"):
        names |= set(re.findall(r"\"(AVAX_[A-Z0-9_]+)\"", source.read_text()))
    return names


def our_settings(names) -> set[str]:
    return {name for name in names if name.startswith(("AVAX_", "DAGSTER_PG_", "DAGSTER_COMPUTE"))}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOYMENTS / "docker" / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def helm():
    return yaml.safe_load((DEPLOYMENTS / "helm" / "values.yaml").read_text())


def test_code_settings_are_found():
    settings = code_settings()
    assert {"AVAX_RPC_URL", "AVAX_KAFKA_BOOTSTRAP_SERVERS", "AVAX_CLICKHOUSE_HOST", "DAGSTER_PG_PASSWORD"} <= settings


def test_compose_names_only_settings_the_code_reads(compose):
    known = code_settings()
    for name, service in compose["services"].items():
        unknown = our_settings(service.get("environment", {})) - known
        assert not unknown, f"service {name} sets {unknown}, which nothing reads"
    env_example = [line.split("=", 1)[0] for line in (DEPLOYMENTS / "docker" / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#")]
    assert our_settings(env_example) - known == set()


def test_compose_dagster_services_share_the_instance_and_one_image(compose):
    services = compose["services"]
    for name in DAGSTER_SERVICES:
        assert instance_settings() <= set(services[name]["environment"]), name
        assert services[name]["image"] == services["code-location"]["image"]
        assert services[name]["build"]["dockerfile"] == "deployments/docker/Dockerfile"
    # the run workers start inside the code location: it needs the pipeline's settings too
    pipeline = services["code-location"]["environment"]
    assert {"AVAX_RPC_URL", "AVAX_KAFKA_BOOTSTRAP_SERVERS", "AVAX_S3_ENDPOINT_URL", "AVAX_LAKE_ROOT",
            "AVAX_CLICKHOUSE_HOST", "AVAX_S3_SECRET_ACCESS_KEY"} <= set(pipeline)


def test_compose_addresses_point_at_its_services(compose):
    services = compose["services"]
    env = services["code-location"]["environment"]
    kafka = services["kafka"]["environment"]
    assert f"PLAINTEXT://{env['AVAX_KAFKA_BOOTSTRAP_SERVERS']}" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "broker,controller" == kafka["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    s3 = urlparse(env["AVAX_S3_ENDPOINT_URL"])
    assert s3.hostname == "minio" and s3.port == 9000 and "server /data" in services["minio"]["command"]
    assert env["AVAX_CLICKHOUSE_HOST"] == "clickhouse" and env["AVAX_CLICKHOUSE_PORT"] == "8123"
    clickhouse = services["clickhouse"]["environment"]
    assert (clickhouse["CLICKHOUSE_USER"], clickhouse["CLICKHOUSE_DB"]) == (env["AVAX_CLICKHOUSE_USER"],
                                                                           env["AVAX_CLICKHOUSE_DATABASE"])
    instance = services["daemon"]["environment"]
    postgres = services["postgres"]["environment"]
    assert instance["DAGSTER_PG_HOST"] == "postgres"
    assert ((postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
            == (instance["DAGSTER_PG_USER"], instance["DAGSTER_PG_DB"]))


def test_images_match_the_code_configuration(compose, helm):
    dockerfile = (DEPLOYMENTS / "docker" / "Dockerfile").read_text()
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M).group(1)
    assert PYPROJECT["project"]["requires-python"].startswith(f">={python}")
    assert "uv sync --frozen" in dockerfile  # the image installs exactly uv.lock
    assert "deployments/production/dagster.yaml" in dockerfile

    postgres_major = compose["services"]["postgres"]["image"].split(":")[1]
    assert postgres_major == "15"  # the server version the instance test runs (Debian bookworm)

    deployment = helm["dagster-user-deployments"]["deployments"][0]
    repository, tag = compose["services"]["code-location"]["image"].split(":")
    assert (deployment["image"]["repository"], str(deployment["image"]["tag"])) == (repository, tag)
    assert tag == PYPROJECT["project"]["version"]

    dagster_pin = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("dagster=="))
    chart_versions = set(re.findall(r"--version (\S+)", (DEPLOYMENTS / "helm" / "values.yaml").read_text()))
    assert chart_versions == {dagster_pin.split("==")[1]}


def test_every_deployment_loads_the_code_location_of_pyproject(compose, helm):
    module = PYPROJECT["tool"]["dagster"]["module_name"]
    command = compose["services"]["code-location"]["command"]
    assert command[command.index("-m") + 1] == module
    workspace = yaml.safe_load((DEPLOYMENTS / "docker" / "workspace.yaml").read_text())["load_from"][0]["grpc_server"]
    assert (workspace["host"], str(workspace["port"])) == ("code-location", command[command.index("-p") + 1])
    assert workspace["location_name"] == PYPROJECT["tool"]["dagster"]["code_location_name"]
    args = helm["dagster-user-deployments"]["deployments"][0]["dagsterApiGrpcArgs"]
    assert args == ["-m", module]
    checked = PYPROJECT["tool"]["dg"]["project"]  # what `dg check defs` in test.sh loads
    assert (checked["code_location_target_module"], checked["code_location_name"]) == (
        module, PYPROJECT["tool"]["dagster"]["code_location_name"])


def test_helm_values_mirror_the_production_instance(helm):
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm["postgresql"]["enabled"] is False
    assert helm["postgresql"]["postgresqlScheme"] == PRODUCTION_INSTANCE["storage"]["postgres"]["postgres_db"]["scheme"]
    daemon = helm["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] and PRODUCTION_INSTANCE["run_monitoring"]["enabled"]
    for job in load_definitions().jobs:  # and on every other deployment too, whatever its instance says
        if job.name.endswith("_daily"):
            assert job.tags["dagster/retry_on_asset_or_op_failure"] == "false", job.name
    assert helm["generatePostgresqlPasswordSecret"] is False  # docs/deployment.md has you create that Secret yourself
    config_map = yaml.safe_load((DEPLOYMENTS / "helm" / "avax-assets-config.yaml").read_text())
    deployment = helm["dagster-user-deployments"]["deployments"][0]
    assert config_map["metadata"]["name"] == deployment["envConfigMaps"][0]["name"]
    assert our_settings(config_map["data"]) - code_settings() == set()
    assert not any("PASSWORD" in key or "SECRET" in key for key in config_map["data"])  # secrets go in a Secret


def test_compute_logs_go_to_the_lakes_s3_with_its_credentials(compose):
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    compute_logs = PRODUCTION_INSTANCE["compute_logs"]
    assert (compute_logs["module"], compute_logs["class"]) == (S3ComputeLogManager.__module__, "S3ComputeLogManager")
    assert set(compute_logs["config"]) <= set(S3ComputeLogManager.config_type())
    assert compute_logs["config"]["endpoint_url"] == {"env": "AVAX_S3_ENDPOINT_URL"}
    services = compose["services"]
    pipeline = services["code-location"]["environment"]
    for name in DAGSTER_SERVICES:
        env = services[name]["environment"]
        # the lake's credentials under boto3's names, its endpoint and its bucket
        assert env["AWS_ACCESS_KEY_ID"] == pipeline["AVAX_S3_ACCESS_KEY_ID"], name
        assert env["AWS_SECRET_ACCESS_KEY"] == pipeline["AVAX_S3_SECRET_ACCESS_KEY"], name
        assert env["AVAX_S3_ENDPOINT_URL"] == pipeline["AVAX_S3_ENDPOINT_URL"], name
        assert env["DAGSTER_COMPUTE_LOG_BUCKET"] == urlparse(pipeline["AVAX_LAKE_ROOT"]).hostname, name


def test_cluster_ddl_covers_every_dataset():
    statements = cluster_ddl(ALL_DATASETS.values(), "avax")
    assert len(statements) == 1 + 2 * len(ALL_DATASETS)
    blocks = ALL_DATASETS["blocks"]
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')" in \
        replicated_table_sql(blocks, "avax")
    # a chain-day lives whole on one shard
    assert "Distributed('{cluster}', 'avax', 'blocks_local', cityHash64(chain_id, toYYYYMMDD(block_timestamp)))" in \
        distributed_table_sql(blocks, "avax")


CHDB_CLUSTER_CONFIG = """<clickhouse>
  <macros><cluster>avax</cluster><shard>01</shard><replica>r1</replica></macros>
  <remote_servers><avax><shard><replica><host>127.0.0.1</host><port>9000</port></replica></shard></avax>
  </remote_servers>
</clickhouse>"""

CHDB_SCRIPT = """
import json, sys
import chdb.session
from avax_assets.catalogue import DATASETS as ALL_DATASETS
from avax_assets.core.clickhouse import create_table_sql
from avax_assets.core.clickhouse_cluster import ClusterLayout, cluster_ddl, distributed_table_sql, replicated_table_sql

path, config = sys.argv[1:3]
session = chdb.session.Session(f"file:{path}?config-file={config}")
layout = ClusterLayout()
report = {"parsed": 0, "distributed": [], "replicated_errors": set()}
for statement in cluster_ddl(ALL_DATASETS.values(), "avax", layout):
    session.query("EXPLAIN AST " + statement)
    report["parsed"] += 1
session.query("CREATE DATABASE IF NOT EXISTS avax")
for dataset in ALL_DATASETS.values():
    session.query(create_table_sql(dataset, "avax", layout.local_table(dataset)))
    session.query(distributed_table_sql(dataset, "avax", layout, on_cluster=False))
    engine = session.query("SELECT engine FROM system.tables WHERE database = 'avax' AND name = '%s'" % dataset.table,
                           "CSV").bytes().decode().strip()
    report["distributed"].append(engine)
    try:
        session.query(replicated_table_sql(dataset, "avax", layout, on_cluster=False).replace("_local", "_replica"))
    except Exception as error:
        report["replicated_errors"].add(str(error).split("(")[-1].rstrip(") \\n"))
report["replicated_errors"] = sorted(report["replicated_errors"])
print(json.dumps(report))
"""


def test_chdb_accepts_the_cluster_ddl_as_far_as_it_can(tmp_path):
    config = tmp_path / "cluster.xml"
    config.write_text(CHDB_CLUSTER_CONFIG)
    # a process of its own: the test session already holds a chDB session
    done = subprocess.run([sys.executable, "-c", CHDB_SCRIPT, str(tmp_path / "chdb"), str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["parsed"] == 1 + 2 * len(ALL_DATASETS)
    assert report["distributed"] == ['"Distributed"'] * len(ALL_DATASETS)
    assert report["replicated_errors"] == ["NO_ZOOKEEPER"]  # macros resolved; only Keeper is missing


def test_cluster_layout_names_are_checked():
    with pytest.raises(ValueError):
        ClusterLayout(local_suffix="; DROP TABLE x").local_table(ALL_DATASETS["blocks"])


def test_compose_holds_to_the_compose_specification(compose):
    import jsonschema

    schema = json.loads((REPO / "avax_assets_tests" / "specs" / "compose-spec.json").read_text())
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)


def test_compose_publishes_nothing_beyond_loopback(compose):
    published = {name: service.get("ports", []) for name, service in compose["services"].items()}
    assert {name for name, ports in published.items() if ports} == {"webserver", "clickhouse"}
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_compose_keeps_kafka_data_on_its_volume_and_waits_for_healthy_engines(compose):
    kafka = compose["services"]["kafka"]
    [volume] = kafka["volumes"]
    assert volume.split(":", 1)[1] == kafka["environment"]["KAFKA_LOG_DIRS"]  # where apache/kafka writes its logs
    for engine in ("kafka", "clickhouse", "minio", "postgres"):
        assert compose["services"][engine]["healthcheck"]["test"], engine
        assert compose["services"]["code-location"]["depends_on"][engine] == {"condition": "service_healthy"}


def test_analysts_get_a_read_only_clickhouse_user_that_cannot_write(compose, tmp_path):
    import xml.etree.ElementTree as ET

    analyst_file = DEPLOYMENTS / "clickhouse" / "users.d" / "analyst.xml"
    config = ET.parse(analyst_file).getroot()
    user = config.find("users/analyst")
    profile = config.find(f"profiles/{user.findtext('profile')}")
    assert profile.findtext("readonly") == "1"
    assert [q.text for q in user.findall("grants/query")] == ["GRANT SELECT ON avax.*"]
    assert user.find("password").get("from_env") and not (user.findtext("password") or "").strip()
    mounts = compose["services"]["clickhouse"]["volumes"]
    assert any(m.startswith("../clickhouse/users.d/analyst.xml:/etc/clickhouse-server/users.d/") for m in mounts)
    # What the profile's readonly = 1 means, on the real engine: reads pass, writes and DDL are refused. In a
    # process and engine directory of its own: the setting would stay on this session's engine.
    done = subprocess.run([sys.executable, "-c", READONLY_PROBE, str(tmp_path / "chdb")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"select": [[0]], "INSERT": "READONLY",
                                                                "DROP": "READONLY"}


READONLY_PROBE = """
import json, sys
from avax_assets.core.chdb import chdb_client
client = chdb_client(sys.argv[1])
client.command("CREATE DATABASE IF NOT EXISTS avax")
client.command("CREATE TABLE avax.t (x UInt8) ENGINE = MergeTree ORDER BY x")
seen = {"select": [list(r) for r in client.query("SELECT count() FROM avax.t", settings={"readonly": 1}).result_rows]}
for name, statement in (("INSERT", "INSERT INTO avax.t VALUES (1)"), ("DROP", "DROP TABLE avax.t")):
    try:
        client.command(statement, settings={"readonly": 1})
        seen[name] = "allowed"
    except Exception as exc:
        seen[name] = "READONLY" if "READONLY" in str(exc) else str(exc)[:200]
print(json.dumps(seen))
"""


def test_the_cluster_nodes_authenticate_to_each_other_with_secrets_from_the_environment():
    import xml.etree.ElementTree as ET

    config = ET.parse(DEPLOYMENTS / "clickhouse" / "config.d" / "cluster.xml").getroot()
    assert config.find("remote_servers/avax/secret").get("from_env") == "CLICKHOUSE_INTERSERVER_SECRET"
    credentials = config.find("interserver_http_credentials")
    assert credentials.findtext("user") and credentials.find("password").get("from_env")


# --- the Dagster chart, held to a copy of its values schema and instance template --------------------------------
# (avax_assets_tests/specs/helm-dagster/, interface data: see its README.md for where each file comes from)

CHART = REPO / "avax_assets_tests" / "specs" / "helm-dagster"


def merged(defaults: dict, ours: dict) -> dict:
    """Helm's merge of a values file over the chart's defaults (maps merge, everything else replaces)."""
    out = dict(defaults)
    for key, value in ours.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture(scope="module")
def chart_values(helm):
    return merged(yaml.safe_load((CHART / "values.yaml").read_text()), helm)


def test_helm_values_fit_the_charts_values_schema(chart_values, helm):
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(chart_values)]
    assert errors == []
    broken = merged(chart_values, {"dagsterDaemon": {"runRetries": {"retryOnAssetOrOpFailure": "no"}}})
    assert not validator.is_valid(broken)  # the schema is strict where it matters


# production instance setting → (the chart value that sets it, what the chart's instance template reads)
RENDERED = {
    ("run_monitoring", "start_timeout_seconds"): (("dagsterDaemon", "runMonitoring", "startTimeoutSeconds"),
                                                 "$runMonitoring.startTimeoutSeconds"),
    ("run_monitoring", "cancel_timeout_seconds"): (("dagsterDaemon", "runMonitoring", "cancelTimeoutSeconds"),
                                                  "$runMonitoring.cancelTimeoutSeconds"),
    ("run_monitoring", "poll_interval_seconds"): (("dagsterDaemon", "runMonitoring", "pollIntervalSeconds"),
                                                 "$runMonitoring.pollIntervalSeconds"),
    ("run_monitoring", "free_slots_after_run_end_seconds"): (
        ("dagsterDaemon", "runMonitoring", "freeSlotsAfterRunEndSeconds"),
        "$runMonitoring.freeSlotsAfterRunEndSeconds"),
    ("run_retries", "max_retries"): (("dagsterDaemon", "runRetries", "maxRetries"), "$runRetries.maxRetries"),
    ("run_retries", "retry_on_asset_or_op_failure"): (("dagsterDaemon", "runRetries", "retryOnAssetOrOpFailure"),
                                                      "$runRetries.retryOnAssetOrOpFailure"),
    ("concurrency", "runs", "max_concurrent_runs"): (("concurrency", "runs", "maxConcurrentRuns"),
                                                     "$runs.maxConcurrentRuns"),
    ("concurrency", "runs", "tag_concurrency_limits"): (("concurrency", "runs", "tagConcurrencyLimits"),
                                                        "$runs.tagConcurrencyLimits"),
    ("concurrency", "pools", "default_limit"): (("concurrency", "pools", "defaultLimit"), "$pools.defaultLimit"),
    ("concurrency", "pools", "granularity"): (("concurrency", "pools", "granularity"), "$pools.granularity"),
}


def dig(tree: dict, path: tuple):
    for key in path:
        tree = tree[key]
    return tree


def test_every_instance_setting_that_matters_reaches_the_instance_the_chart_renders(chart_values):
    template = (CHART / "templates" / "configmap-instance.yaml").read_text()
    template += (CHART / "templates" / "helpers" / "instance" / "_concurrency.tpl").read_text()
    for setting, (value_path, expression) in RENDERED.items():
        assert dig(chart_values, value_path) == dig(PRODUCTION_INSTANCE, setting), setting
        assert expression in template, f"{'.'.join(setting)}: the chart's template does not read {expression}"
    # the blocks those settings sit in are rendered at all
    assert chart_values["dagsterDaemon"]["enabled"] and chart_values["concurrency"]["enabled"]
    daemon = chart_values["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] and daemon["runRetries"]["enabled"]
    # the chart refuses to render limits given both here and in the queued run coordinator's config
    queued = chart_values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued.get("maxConcurrentRuns") is None and not queued.get("tagConcurrencyLimits")
    assert "Cannot set both concurrency.runs.maxConcurrentRuns" in template
    assert chart_values["runLauncher"]["type"] == "K8sRunLauncher"
    assert set(RENDERED) >= {k for k in _leaves(PRODUCTION_INSTANCE) if k[0] in ("run_monitoring", "run_retries",
                                                                                 "concurrency") and k[-1] != "enabled"}


def _leaves(tree: dict, prefix: tuple = ()) -> set[tuple]:
    out = set()
    for key, value in tree.items():
        out |= _leaves(value, (*prefix, key)) if isinstance(value, dict) else {(*prefix, key)}
    return out


def test_no_secret_clash_with_the_one_you_create(chart_values):
    assert (CHART / "templates" / "secret-postgres.yaml").read_text().startswith(
        "{{ if .Values.generatePostgresqlPasswordSecret }}")
    assert chart_values["generatePostgresqlPasswordSecret"] is False
    assert chart_values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"


def test_the_webserver_is_published_only_through_an_authenticating_ingress(chart_values):
    assert chart_values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    ingress = chart_values["ingress"]
    assert ingress["enabled"] and ingress["dagsterWebserver"]["tls"]["enabled"]
    annotations = ingress["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-url"].startswith("https://")
    assert "nginx.ingress.kubernetes.io/auth-signin" in annotations
    assert not ingress["readOnlyDagsterWebserver"]["host"]  # no second, unauthenticated host
    template = (CHART / "templates" / "ingress.yaml").read_text()
    assert "range $key, $value := .Values.ingress.annotations" in template  # the annotations reach the Ingress
    assert [p["serviceName"] for p in ingress["dagsterWebserver"]["precedingPaths"]] == ["oauth2-proxy"]


def test_helm_compute_logs_are_the_production_instances(chart_values):
    manager = chart_values["computeLogManager"]
    assert manager["type"] == PRODUCTION_INSTANCE["compute_logs"]["class"]
    snake = {re.sub(r"[A-Z]", lambda m: f"_{m.group().lower()}", key): value
             for key, value in manager["config"]["s3ComputeLogManager"].items()}
    assert snake == PRODUCTION_INSTANCE["compute_logs"]["config"]


def test_helm_gives_the_compute_logs_settings_and_credentials_to_the_dagster_pods(chart_values):
    config_map = yaml.safe_load((DEPLOYMENTS / "helm" / "avax-assets-config.yaml").read_text())
    s3 = chart_values["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert {value["env"] for value in s3.values() if isinstance(value, dict)} <= set(config_map["data"])
    launcher = chart_values["runLauncher"]["config"]["k8sRunLauncher"]
    [secret] = [source["name"] for source in launcher["envSecrets"]]
    credentials = {"AWS_ACCESS_KEY_ID": (secret, "AVAX_S3_ACCESS_KEY_ID"),
                   "AWS_SECRET_ACCESS_KEY": (secret, "AVAX_S3_SECRET_ACCESS_KEY")}
    pods = {"webserver": (chart_values["dagsterWebserver"], chart_values["dagsterWebserver"]["env"]),
            "daemon": (chart_values["dagsterDaemon"], chart_values["dagsterDaemon"]["env"]),
            "runs": (launcher, launcher["runK8sConfig"]["containerConfig"]["env"])}
    for name, (pod, env) in pods.items():
        assert config_map["metadata"]["name"] in [source["name"] for source in pod["envConfigMaps"]], name
        from_secrets = {var["name"]: (var["valueFrom"]["secretKeyRef"]["name"], var["valueFrom"]["secretKeyRef"]["key"])
                        for var in env}
        assert from_secrets == credentials, name
