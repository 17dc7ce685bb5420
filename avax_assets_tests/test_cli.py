"""`avax-assets sql`: aligned tables, and a polite refusal while another process holds the embedded engine."""

import os
import subprocess
import sys

from avax_assets.cli import render


def test_tables_are_aligned_numbers_right_text_left_and_long_values_cut():
    text = render(["day", "transactions", "hash"], [("2024-06-01", 7, "0x" + "a" * 70), ("2024-06-02", 1234, None)])
    lines = text.splitlines()
    assert lines[0].split() == ["day", "transactions", "hash"]
    assert lines[2].index("7") == lines[3].index("1234") + 3  # right-aligned
    assert lines[2].endswith("…") and "NULL" in lines[3] and lines[-1] == "(2 rows)"


def test_a_held_engine_is_refused_in_one_line(tmp_path):
    path = str(tmp_path / "chdb")
    # another process holds the directory, as a running materialization would (one engine per process)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        env = {**os.environ, "AVAX_CLICKHOUSE_CHDB_PATH": path, "PYTHONWARNINGS": "ignore"}
        done = subprocess.run([sys.executable, "-m", "avax_assets.cli", "sql", "SELECT 1"], env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes its pipe
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "held by another process" in done.stderr, done.stderr


HOLD = """
import sys, time
from avax_assets.core.chdb import held_engine
with held_engine(sys.argv[1]):
    print("held", flush=True)
    time.sleep(300)
"""


def test_materialize_names_the_valid_range_and_the_setting_for_a_day_outside_it(capsys, monkeypatch):
    from avax_assets.cli import materialize

    monkeypatch.setenv("AVAX_CHAIN_START_DATE", "2024-06-01")
    assert materialize("blocks,clickhouse_blocks", "2024-13-45") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "'2024-13-45'" in error and "2024-06-01 to " in error
    assert "AVAX_CHAIN_START_DATE" in error
    assert materialize("blocks", None) == 2 and "--partition" in capsys.readouterr().err
    assert materialize("no_such_asset", "2024-06-02") == 2 and "no asset named no_such_asset" in capsys.readouterr().err


def test_a_failing_run_says_why_in_one_line_naming_the_setting(tmp_path):
    """A run whose broker is not there: the cause and the variable in one line, no traceback, no event log."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AVAX_", "DAGSTER_"))},
           "DAGSTER_HOME": str(tmp_path), "AVAX_HOME": str(tmp_path / "home"), "AVAX_ENV_FILE": "",
           "AVAX_CHAIN_START_DATE": "2024-06-01", "AVAX_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
           "AVAX_RPC_URL": "http://127.0.0.1:9", "PYTHONWARNINGS": "ignore"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run([sys.executable, "-m", "avax_assets.cli", "materialize", "--select", "blocks",
                           "--partition", "2024-06-02"], env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "AVAX_KAFKA_BOOTSTRAP_SERVERS" in output and "Traceback" not in output
    assert len(output.strip().splitlines()) <= 10, output


def test_backfill_queues_a_jobs_days_on_the_instance_found_without_exports(tmp_path):
    """No DAGSTER_HOME exported: the instance is the directory's dagster.yaml (as after the demo); a wrong job
    or day is one line naming the valid ones; with no daemon the runs wait queued, and the command says so."""
    import dagster as dg

    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AVAX_", "DAGSTER_"))},
           "AVAX_HOME": str(tmp_path / "home"), "AVAX_ENV_FILE": "", "AVAX_CHAIN_START_DATE": "2024-06-01",
           "AVAX_CHAIN_END_DATE": "2024-06-05", "PYTHONWARNINGS": "ignore"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_coordinator:\n  module: "
                                           "dagster._core.run_coordinator\n  class: QueuedRunCoordinator\n")

    def backfill(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "avax_assets.cli", "backfill", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    wrong = backfill("--job", "chain_dayly", "--from", "2024-06-02", "--to", "2024-06-03")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "chain_daily" in wrong.stderr
    outside = backfill("--job", "chain_daily", "--from", "2024-06-02", "--to", "2024-07-03")
    assert outside.returncode == 2 and "AVAX_CHAIN_END_DATE" in outside.stderr, outside.stderr
    done = backfill("--job", "chain_daily", "--from", "2024-06-02", "--to", "2024-06-03")
    assert done.returncode == 0, done.stderr
    assert "no Dagster daemon is running" in done.stderr and "Traceback" not in done.stderr
    backfill_id = done.stdout.split("backfill ")[1].split(":")[0]
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    assert sorted((r.job_name, r.tags["dagster/partition"], r.status) for r in runs) == [
        ("chain_daily", day, dg.DagsterRunStatus.QUEUED) for day in ("2024-06-02", "2024-06-03")]

    # the same command again: both days are queued already, nothing more is
    again = backfill("--job", "chain_daily", "--from", "2024-06-02", "--to", "2024-06-03")
    assert again.returncode == 0 and "nothing to queue, 2 days queued or running already" in again.stdout, again

    # 06-02 done (every asset of the job materialized), 06-03 killed at work, 06-04 never queued: the days
    # that did not finish are queued, and only they
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        for run in runs:
            instance.report_run_failed(run, "killed at work")
        for key in chain_job_asset_keys(env):
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="2024-06-02"))
        instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey("blocks"), partition="2024-06-03"))
    resumed = backfill("--job", "chain_daily", "--from", "2024-06-02", "--to", "2024-06-04")
    assert resumed.returncode == 0 and "2 days queued (1 day done)" in resumed.stdout, resumed
    assert queued_days(tmp_path, resumed.stdout) == ["2024-06-03", "2024-06-04"]
    everything = backfill("--job", "chain_daily", "--from", "2024-06-02", "--to", "2024-06-04", "--again")
    assert queued_days(tmp_path, everything.stdout) == ["2024-06-02", "2024-06-03", "2024-06-04"]


def chain_job_asset_keys(env: dict[str, str]) -> list:
    """The chain job's asset keys under the settings `env` gives (its own process: the settings are read once)."""
    import dagster as dg

    listed = subprocess.run([sys.executable, "-c", "from avax_assets.catalogue import Catalogue\n"
                             "for a in Catalogue().scope('chain'):\n    for k in a.keys: print(k.to_user_string())"],
                            env=env, capture_output=True, text=True, timeout=300, check=True)
    return [dg.AssetKey.from_user_string(line) for line in listed.stdout.split()]


def queued_days(dagster_home, said: str) -> list[str]:
    import dagster as dg

    backfill_id = said.split("backfill ")[1].split(":")[0]
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    return sorted(r.tags["dagster/partition"] for r in runs)


def test_sinks_out_of_reach_on_a_fresh_clone_say_how_to_start_the_local_stack(tmp_path, monkeypatch):
    from avax_assets.orchestration.configured import no_local_stack_hint

    for name in ("AVAX_ENV_FILE", "AVAX_KAFKA_BOOTSTRAP_SERVERS", "AVAX_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AVAX_HOME", str(tmp_path))
    assert "bash deployments/local/services.sh up" in no_local_stack_hint()
    (tmp_path / "local.env").write_text("AVAX_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9\n")
    assert no_local_stack_hint() == ""  # a stack was started here: its addresses are what failed
    (tmp_path / "local.env").unlink()
    monkeypatch.setenv("AVAX_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    assert no_local_stack_hint() == ""  # pointed elsewhere on purpose


def test_a_run_whose_node_is_not_there_says_so_in_a_few_lines_naming_the_url_setting(pipeline_env, tmp_path):
    """The local stack up (its broker and object store reached), the node's URL wrong: the failure names
    AVAX_RPC_URL in at most 10 lines, no traceback."""
    env = {**os.environ, "AVAX_RPC_URL": "http://127.0.0.1:9", "DAGSTER_HOME": str(tmp_path), "AVAX_ENV_FILE": "",
           "AVAX_HOME": str(tmp_path / "home"), "AVAX_CHAIN_START_DATE": "2024-06-01",
           "AVAX_RPC_MAX_ATTEMPTS": "2", "PYTHONWARNINGS": "ignore"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run([sys.executable, "-m", "avax_assets.cli", "materialize", "--select", "blocks",
                           "--partition", "2024-06-02"], env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "AVAX_RPC_URL" in output and "Traceback" not in output, output
    assert len(output.strip().splitlines()) <= 10, output
