"""Fault drills on the real local services (Tansu, SeaweedFS, anvil, chDB): each fault ends the run
fast with a message naming its cause, leaves nothing half-done, and a clean re-run leaves ClickHouse
equal to the node (0 duplicates, 0 gaps), a complete Parquet object, and each key of the partition
exactly once for a read_committed consumer. FAKE only where a real server cannot misbehave on demand: a
trickled or padded node answer (FaultyNodeProxy). Durations are recorded for the table, never asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

import avax_assets.core.kafka as kafka
import avax_assets.orchestration.resources as resources_module
from avax_assets.catalogue import Catalogue
from avax_assets.chain.datasets import BLOCKS
from avax_assets.core.lake import Lake, LakePartition, candidate_path
from avax_assets.core.processes import process_alive
from avax_assets.core.lake import S3Settings
from avax_assets.catalogue import build_resources
from avax_assets.orchestration.factory import load_key
from avax_assets_tests.conftest import REPO
from avax_assets_tests.support import FaultyNodeProxy, committed_messages_per_key, rpc

DAY = "2024-06-03"
CHAIN = Catalogue().scope("chain")
SELECTION = [BLOCKS.name, load_key(BLOCKS).path[-1]]


@pytest.fixture(scope="module")
def node_blocks(stack, devchain):
    first, last = devchain.blocks_by_day[DAY]
    return [[n, rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(n), False])["hash"]] for n in range(first, last + 1)]


def materialize() -> tuple[dg.ExecuteInProcessResult, float]:
    started = time.monotonic()
    result = dg.materialize(CHAIN, selection=SELECTION, partition_key=DAY, resources=build_resources(),
                            raise_on_error=False)
    return result, round(time.monotonic() - started, 1)


def failure(result: dg.ExecuteInProcessResult) -> str:
    """The message a person sees for the failed step: the innermost cause's."""
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    error = event.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def lake_of(drill) -> Lake:
    env = drill.env
    return Lake(env["AVAX_LAKE_ROOT"], S3Settings(env["AVAX_S3_ENDPOINT_URL"], env["AVAX_S3_ACCESS_KEY_ID"],
                                                  env["AVAX_S3_SECRET_ACCESS_KEY"]))


def stored_rows(drill) -> int | None:
    lake = lake_of(drill)
    if not lake.fs.exists(lake.partition_path(BLOCKS.lake_folder, DAY)):
        return None
    return lake.open_partition(BLOCKS, DAY).num_rows


def clickhouse_rows(database: str) -> list[list]:
    warehouse = build_resources()["clickhouse"].warehouse()
    if not warehouse.client.query("SELECT count() FROM system.tables WHERE database = {db:String} AND name = 'blocks'",
                                  parameters={"db": database}).result_rows[0][0]:
        return []
    rows = warehouse.client.query(f"SELECT block_number, block_hash FROM {database}.blocks "
                                  "WHERE toDate(block_timestamp) = {day:Date} ORDER BY block_number",
                                  parameters={"day": DAY}).result_rows
    return [list(row) for row in rows]


def stored(drill) -> str:
    """The lake's object, or else a candidate awaiting its load (a run that loads stores one first)."""
    rows = stored_rows(drill)
    if rows is not None:
        return f"{rows} rows"
    lake = lake_of(drill)
    try:
        candidates = lake.fs.glob(candidate_path(lake.partition_path(BLOCKS.lake_folder, DAY), "*"))
    except FileNotFoundError:  # no bucket
        candidates = []
    return f"a candidate of {LakePartition(lake, candidates[0]).num_rows} rows" if candidates else "no object"


def state(drill) -> str:
    """What the fault left: the lake object, what Kafka committed, what ClickHouse holds."""
    committed = sum(committed_messages_per_key(drill.bootstrap, BLOCKS.topic, DAY).values())
    loaded = len(clickhouse_rows(drill.env["AVAX_CLICKHOUSE_DATABASE"]))
    return f"lake: {stored(drill)}; Kafka: {committed} committed; ClickHouse: {loaded} rows"


def assert_exact(drill, node_blocks, loaded: list[list] | None = None) -> str:
    """After the clean re-run: ClickHouse equals the node, the lake object is complete, each key once."""
    loaded = clickhouse_rows(drill.env["AVAX_CLICKHOUSE_DATABASE"]) if loaded is None else loaded
    assert loaded == node_blocks
    assert stored_rows(drill) == len(node_blocks)
    per_key = committed_messages_per_key(drill.bootstrap, BLOCKS.topic, DAY)
    assert len(per_key) == len(node_blocks) and set(per_key.values()) == {1}, per_key
    return f"1 for each of {len(per_key)} keys"


def rerun_exact(drill, node_blocks) -> str:
    result, _ = materialize()
    assert result.success, failure(result)
    return assert_exact(drill, node_blocks)


def short(message: str) -> str:
    return message.replace("|", "/").replace("\n", " ")[:230]


# --- sinks down or refusing ---------------------------------------------------------------------

def test_kafka_down_before_the_run(drill, node_blocks):
    drill.broker.stop()
    result, seconds = materialize()
    message = failure(result)
    assert not result.success
    assert f"Kafka at 127.0.0.1:{drill.broker.port} (AVAX_KAFKA_BOOTSTRAP_SERVERS) refused every connection" in message
    after = state_without_broker(drill)
    assert after.startswith("lake: no object")  # refused before extracting: nothing written anywhere
    drill.broker.start()
    drill.record(seconds=seconds, message=short(message), state=after, per_key=rerun_exact(drill, node_blocks))


def state_without_broker(drill) -> str:
    return f"lake: {stored(drill)}; Kafka: down"


def test_wrong_s3_credentials(drill, node_blocks, monkeypatch):
    wrong = "drill-wrong-secret-0123456789"
    monkeypatch.setenv("AVAX_S3_SECRET_ACCESS_KEY", wrong)
    result, seconds = materialize()
    message = failure(result)
    assert f"on {drill.s3.endpoint} (AVAX_S3_ENDPOINT_URL) refused to reach the bucket" in message
    assert "check AVAX_S3_ACCESS_KEY_ID / AVAX_S3_SECRET_ACCESS_KEY" in message and wrong not in message
    after = state(drill)
    assert after.startswith("lake: no object; Kafka: 0 committed")
    monkeypatch.setenv("AVAX_S3_SECRET_ACCESS_KEY", drill.env["AVAX_S3_SECRET_ACCESS_KEY"])
    drill.record(seconds=seconds, message=short(message), state=after, per_key=rerun_exact(drill, node_blocks))


def test_clickhouse_server_down_before_the_run(drill, node_blocks, monkeypatch):
    monkeypatch.setenv("AVAX_CLICKHOUSE_HOST", "127.0.0.1")
    monkeypatch.setenv("AVAX_CLICKHOUSE_PORT", "9")  # nothing listens there
    result, seconds = materialize()
    message = failure(result)
    assert "ClickHouse at http://127.0.0.1:9 (AVAX_CLICKHOUSE_HOST, AVAX_CLICKHOUSE_PORT) did not answer" in message
    monkeypatch.delenv("AVAX_CLICKHOUSE_HOST")
    monkeypatch.delenv("AVAX_CLICKHOUSE_PORT")
    after = state(drill)
    assert after.startswith("lake: no object; Kafka: 0 committed")
    drill.record(seconds=seconds, message=short(message), state=after, per_key=rerun_exact(drill, node_blocks))


def test_broker_killed_mid_publish(drill, node_blocks, monkeypatch):
    encode_batch = kafka.encode_batch

    def kill_broker_then_encode(*args):  # inside the open transaction, before its first message is sent
        if drill.broker.pid():
            os.killpg(drill.broker.pid(), signal.SIGKILL)
        return encode_batch(*args)

    monkeypatch.setattr(kafka, "encode_batch", kill_broker_then_encode)
    result, seconds = materialize()
    message = failure(result)
    assert f"Kafka topic {BLOCKS.topic}, partition {DAY}" in message and "AVAX_KAFKA_TIMEOUT_S" in message
    monkeypatch.undo()
    for key, value in drill.env.items():  # undo() restored the session's settings too
        monkeypatch.setenv(key, value)
    drill.broker.start()  # the same log: the broker kept what it had
    after = state(drill)
    assert after.startswith(f"lake: a candidate of {len(node_blocks)} rows; Kafka: 0 committed; ClickHouse: 0 rows")
    assert lake_of(drill).published(BLOCKS.lake_folder, DAY) is None  # so the re-run publishes the partition whole
    drill.record(seconds=seconds, message=short(message), state=after, per_key=rerun_exact(drill, node_blocks))


def test_s3_killed_after_extraction(drill, node_blocks, monkeypatch):
    deliver = resources_module.deliver

    def kill_s3_then_deliver(*args):
        os.killpg(drill.s3.pid(), signal.SIGKILL)
        return deliver(*args)

    monkeypatch.setattr(resources_module, "deliver", kill_s3_then_deliver)
    result, seconds = materialize()
    message = failure(result)
    assert (f"on {drill.s3.endpoint} (AVAX_S3_ENDPOINT_URL) did not answer (store blocks/chain_id=43114 partition "
            f"{DAY})") in message
    monkeypatch.setattr(resources_module, "deliver", deliver)
    drill.s3.start()
    after = state(drill)
    assert after == "lake: no object; Kafka: 0 committed; ClickHouse: 0 rows"
    drill.record(seconds=seconds, message=short(message), state=after, per_key=rerun_exact(drill, node_blocks))


# --- a node that misbehaves (FAKE: FaultyNodeProxy) ----------------------------------------------

@pytest.fixture
def proxy(stack):
    proxy = FaultyNodeProxy(stack.anvil.url)
    yield proxy
    proxy.close()


def test_trickling_rpc_answer(drill, node_blocks, proxy, monkeypatch):
    proxy.mode = "trickle"
    monkeypatch.setenv("AVAX_RPC_URL", proxy.url)
    monkeypatch.setenv("AVAX_RPC_DEADLINE_S", "2")
    result, seconds = materialize()
    message = failure(result)
    assert "gave up after 2 attempts (last: DeadlineExceeded: no complete answer within the 2 s deadline)" in message
    assert "AVAX_RPC_DEADLINE_S" in message
    after = state(drill)
    assert after == "lake: no object; Kafka: 0 committed; ClickHouse: 0 rows"
    monkeypatch.setenv("AVAX_RPC_URL", drill.env["AVAX_RPC_URL"])
    drill.record(seconds=seconds, message=short(message), state=after, per_key=rerun_exact(drill, node_blocks))


def test_oversized_rpc_answer(drill, node_blocks, proxy, monkeypatch):
    proxy.mode = "huge"  # 60 MiB of junk in one field
    monkeypatch.setenv("AVAX_RPC_URL", proxy.url)
    result, seconds = materialize()
    message = failure(result)
    assert "over the maximum response size of 32 MiB" in message and "AVAX_RPC_MAX_RESPONSE_MB" in message
    after = state(drill)
    assert after == "lake: no object; Kafka: 0 committed; ClickHouse: 0 rows"
    monkeypatch.setenv("AVAX_RPC_URL", drill.env["AVAX_RPC_URL"])
    drill.record(seconds=seconds, message=short(message), state=after, per_key=rerun_exact(drill, node_blocks))


# --- the run SIGKILLed (a run worker on the multiprocess executor, a step per process) ---------

def victim(mode: str, env: dict, log: Path, pause_at: str | None = None) -> subprocess.Popen:
    """The victim process; its log (Dagster's, on stderr) goes to a file, so a full pipe cannot stall it."""
    env = {key: value for key, value in env.items() if key != "DRILL_PAUSE_AT"}
    if pause_at:
        env["DRILL_PAUSE_AT"] = pause_at
    with open(log, "ab") as stderr:
        return subprocess.Popen([sys.executable, "-m", "avax_assets_tests.faults.victim", mode, DAY], cwd=REPO,
                                env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)


@pytest.mark.parametrize("stage", ["extract", "publish", "load"])
def test_run_killed(drill, node_blocks, stage, tmp_path):
    env = {**os.environ, "AVAX_CLICKHOUSE_CHDB_PATH": str(tmp_path / "chdb")}  # the victim's own engine
    log = tmp_path / "victim.log"
    worker = victim("multiprocess", env, log, pause_at=stage)
    line = worker.stdout.readline().split()
    if line[:2] != ["at", stage]:
        worker.kill()
        pytest.fail(f"the victim did not reach {stage}: {log.read_text()[-3000:]}")
    step_pid = int(line[2])
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed = time.monotonic()
    while process_alive(step_pid) and time.monotonic() - killed < 60:  # a guard against a hang, not a timing
        time.sleep(0.2)
    assert not process_alive(step_pid), "the step process outlived its killed run worker"
    orphan_s = round(time.monotonic() - killed, 1)
    debris = sorted(p.name for p in (REPO / ".avax-assets" / "spool").glob(f"*-{step_pid}-p*"))
    after = f"{state(drill).split('; ClickHouse')[0]}; step process gone after {orphan_s} s; spools left: {len(debris)}"
    rows = len(node_blocks)
    expected = {"extract": "lake: no object; Kafka: 0 committed",  # the spool is swept by the next run
                "publish": f"lake: a candidate of {rows} rows; Kafka: 0 committed",  # the transaction is fenced
                "load": f"lake: a candidate of {rows} rows; Kafka: {rows} committed"}  # staging table replaced
    assert after.startswith(expected[stage])
    rerun = victim("report", env, log)
    out, _ = rerun.communicate(timeout=600)
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else pytest.fail(log.read_text()[-3000:])
    assert report["success"] and report["tables"] == ["blocks"]  # no staging table left behind
    if stage == "load":
        assert report["tables_before"] == ["blocks", f"blocks__staging_43114_{DAY.replace('-', '')}"]
        after += f"; ClickHouse: {report['tables_before'][1]} left"
    assert not [p for p in (REPO / ".avax-assets" / "spool").glob(f"*-{step_pid}-p*")]  # swept
    drill.record(seconds=f"killed in {stage}", message="(SIGKILL)", state=after,
                 per_key=assert_exact(drill, node_blocks, loaded=report["rows"]))
