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
