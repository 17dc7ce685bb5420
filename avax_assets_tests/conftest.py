"""Session fixtures: the real local services (started, or reused when already running), a
deterministic devchain on its own anvil, and the environment that points the code at them."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from avax_assets_dev.devchain.generator import DevchainSpec
from avax_assets_dev.local.services import LocalStack

REPO = Path(__file__).resolve().parents[1]
# the tests set what they need: never the settings file a local stack or the demo left in the work tree
os.environ["AVAX_ENV_FILE"] = ""
SPECS_DIR = REPO / "avax_assets_tests" / "specs"  # copies of ../shared/specs (interface data)
TEST_HOME = Path(os.environ.get("AVAX_TEST_HOME", REPO / ".avax-assets" / "test"))
# Every port the tests' services use moves by this much: two checkouts' suites can run side by side (give each
# its own AVAX_TEST_HOME too). SeaweedFS takes port..port+4 and port+10000..: an offset of 7 stays clear.
PORT_OFFSET = int(os.environ.get("AVAX_TEST_PORT_OFFSET", "0"))


def service_port(port: int) -> int:
    return port + PORT_OFFSET
DEVCHAIN = DevchainSpec(seed=11, days=3, blocks_per_day=30)
# Fixtures that start real services on fixed ports (directly, or through `stack`): a test using any of them,
# however indirectly, is marked `services` and needs the services lock; the rest run anywhere (`-m "not services"`).
# test_ui's dagster webserver, daemon and chromium, the fault drills and the live bench all depend on `stack`.
SERVICE_FIXTURES = {"stack", "devchain", "pipeline_env", "resources", "lake",
                    "anvil",  # dev/test_devchain_and_services: its own anvil
                    "two_chains",  # dev/test_icm: two anvils of its own
                    "prism",  # avacloud/test_prism_contract: Prism serving the official specs
                    "own_services"}  # dev/test_no_debris: commands that start services of their own


def pytest_configure(config):
    """Ctrl-C at its default, as at a shell: a runner started in the background of a script (`cmd &` ignores
    SIGINT there) would pass the ignored signal on to every command a test starts, and the tests that send one
    Ctrl-C (the demo, a waiting run) would see it lost."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items):
    for item in items:
        if SERVICE_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session")
def stack():
    """Kafka, S3 and anvil on test ports; services this session started are stopped at its end."""
    stack = LocalStack(TEST_HOME, kafka_port=service_port(19092), s3_port=service_port(28333),
                       anvil_port=service_port(18545), postgres_port=service_port(25432),
                       avacloud_port=service_port(8440), graph_port=service_port(8450))
    started = [s for s in stack.services if not (s.pid() and s.is_ready())]
    try:
        stack.up()
        yield stack
    finally:
        for service in started:
            service.stop()


@pytest.fixture(scope="session")
def devchain(stack):
    return stack.devchain(DEVCHAIN)


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory):
    """The session's embedded ClickHouse directory: chDB opens one directory per process, so service-free
    tests of ClickHouse use this one too."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def pipeline_env(stack, devchain, chdb_path):
    """Environment for avax_assets.definitions: real services, a fresh bucket and chDB per session."""
    env = {
        **stack.environment(bucket=f"avax-test-{uuid.uuid4().hex[:8]}"),
        "AVAX_CLICKHOUSE_CHDB_PATH": str(chdb_path),
        "AVAX_RPC_CHUNK_BLOCKS": "7",  # several chunks per day, so chunking is exercised
        "AVAX_RPC_BATCH_SIZE": "5",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def resources(pipeline_env):
    from avax_assets.catalogue import build_resources

    return build_resources()


@pytest.fixture(scope="session")
def lake(pipeline_env):
    """The session's lake, opened directly (resources hold secrets as EnvVar, resolved only in runs)."""
    from avax_assets.core.lake import Lake
    from avax_assets.core.lake import S3Settings

    return Lake(pipeline_env["AVAX_LAKE_ROOT"], S3Settings(pipeline_env["AVAX_S3_ENDPOINT_URL"],
                                                           pipeline_env["AVAX_S3_ACCESS_KEY_ID"],
                                                           pipeline_env["AVAX_S3_SECRET_ACCESS_KEY"]))
