"""The fault drills' own real services beside the session's: an S3 server for the drills' lakes (so it can
be killed without taking the session's down) and a broker whose topics live in a fresh bucket per drill
(so a drill counts only its own messages). Each drill records a row of the table printed at the end."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest

from avax_assets_dev.local.services import S3, Kafka
from avax_assets_tests.conftest import TEST_HOME, service_port

DRILLS_HOME = TEST_HOME / "drills"
TABLE = DRILLS_HOME / "fault-drills.md"
ROWS: list[dict] = []


@pytest.fixture(scope="package")
def drill_s3(stack):
    server = S3("s3", service_port(29333), DRILLS_HOME)  # ports 29333–29337 and 39333–39337: apart from the session's
    server.start()
    yield server
    server.stop()


@dataclass
class Drill:
    """One drill's services and settings: its broker (fresh topics), lake bucket and ClickHouse database."""

    name: str
    broker: Kafka
    s3: S3
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker.port}"

    def record(self, **row) -> None:
        ROWS.append({"drill": self.name, **row})


@pytest.fixture
def drill(request, stack, drill_s3, pipeline_env, monkeypatch):
    name = request.node.name.removeprefix("test_")
    tag = uuid.uuid4().hex[:8]
    broker = Kafka("kafka", service_port(19192), DRILLS_HOME, stack.s3)
    broker.bucket = f"tansu-drill-{tag}"  # a fresh log: only this drill's messages
    broker.start()
    creds = drill_s3.credentials()
    env = {**pipeline_env,
           "AVAX_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker.port}", "AVAX_KAFKA_TIMEOUT_S": "5",
           "AVAX_S3_ENDPOINT_URL": drill_s3.endpoint, "AVAX_S3_ACCESS_KEY_ID": creds["access_key_id"],
           "AVAX_S3_SECRET_ACCESS_KEY": creds["secret_access_key"], "AVAX_LAKE_ROOT": f"s3://drill-{tag}",
           "AVAX_CLICKHOUSE_DATABASE": f"drill_{tag}", "AVAX_RPC_MAX_ATTEMPTS": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield Drill(name, broker, drill_s3, env)
    broker.stop()
    if not drill_s3.pid():
        drill_s3.start()


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    header = "| drill | seconds to fail | message | state after the fault | messages per key after the re-run |"
    lines = [header, "|---|---|---|---|---|"]
    lines += [f"| {r['drill']} | {r['seconds']} | {r['message']} | {r['state']} | {r['per_key']} |" for r in ROWS]
    DRILLS_HOME.mkdir(parents=True, exist_ok=True)
    TABLE.write_text("\n".join(lines) + "\n")
    terminalreporter.write_sep("-", f"fault drills (also in {os.path.relpath(TABLE)})")
    for line in lines:
        terminalreporter.write_line(line)
