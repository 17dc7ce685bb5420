"""`avax-assets sql` as a person uses it: full values, output formats, the project's database by default,
statements over several lines, a history, Ctrl-D. Run as the command itself (a process of its own: the
embedded engine is one per process) on a fresh embedded ClickHouse."""

import io
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from avax_assets.console import split_statements, statements

HASH = "0x" + "ab" * 32
MAX_U256 = 2**256 - 1
SETUP = ("CREATE DATABASE IF NOT EXISTS avax; "
         "CREATE TABLE avax.blocks (block_number UInt64, block_hash String, value UInt256) "
         "ENGINE = MergeTree ORDER BY block_number; "
         f"INSERT INTO avax.blocks VALUES (7, '{HASH}', {MAX_U256})")


def sql(home, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AVAX_CLICKHOUSE_CHDB_PATH": str(home / "chdb"), "AVAX_HOME": str(home),
           "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "avax_assets.cli", "sql", *args], env=env,
                          input=stdin.encode() if stdin is not None else None,
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("console")
    done = sql(home, SETUP)
    assert done.returncode == 0, done.stderr
    return home


def test_values_are_whole_and_the_database_is_the_projects(home):
    table = sql(home, "SELECT block_hash, value FROM blocks")
    assert table.returncode == 0, table.stderr
    assert HASH.encode() in table.stdout and str(MAX_U256).encode() in table.stdout
    csv = sql(home, "--format", "csv", "SELECT block_hash FROM blocks LIMIT 1")
    assert csv.stdout.decode().splitlines() == ['"block_hash"', f'"{HASH}"']


def test_json_keeps_256_bit_integers_exact_and_parquet_is_parquet(home):
    row = json.loads(sql(home, "--format", "json", "SELECT * FROM blocks").stdout)
    assert row["value"] == str(MAX_U256) and row["block_number"] == "7"
    table = pq.read_table(io.BytesIO(sql(home, "--format", "parquet", "SELECT block_number FROM blocks").stdout))
    assert table.column("block_number").to_pylist() == [7]


def test_the_prompt_reads_statements_over_lines_keeps_a_history_and_ends_with_ctrl_d(home):
    typed = "SELECT\n  count() AS n\nFROM blocks;\n-- the hash; with a comment first\nSELECT 'a;b' AS s;\n" \
            "SELECT no_such_column FROM blocks; SELECT 'not reached';\n"
    done = sql(home, stdin=typed)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert "a;b" in out and "│ 1 │" in out  # count() of the one row; the statement after a comment has its rows
    assert err.count("error:") == 1 and "no_such_column" in err and "Traceback" not in err
    # piped: no prompts in the answer, and the first failure ends it with status 1 (as clickhouse-client)
    assert "avax :)" not in out and "not reached" not in out and done.returncode == 1
    last = sql(home, stdin="SELECT 'no semicolon at the end'")
    assert last.returncode == 0 and "no semicolon at the end" in last.stdout.decode()


def test_an_error_is_one_line_and_fails_the_command(home):
    done = sql(home, "SELECT no_such_column FROM blocks")
    assert done.returncode == 1 and done.stderr.decode().count("\n") == 1


@pytest.mark.parametrize("text, done, rest", [
    ("SELECT 1", [], "SELECT 1"),
    ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"], ""),
    ("SELECT ';' AS s;\nSELECT", ["SELECT ';' AS s"], "SELECT"),
    (";;", [], ""),
    ("-- a; comment\nSELECT 1; /* b; */ SELECT 2;", ["-- a; comment\nSELECT 1", "/* b; */ SELECT 2"], ""),
    ("SELECT 1; -- the end", ["SELECT 1"], "-- the end"),
])
def test_statements_end_at_a_semicolon_outside_quotes(text, done, rest):
    assert split_statements(text) == (done, rest)
    assert list(statements("SELECT 1; SELECT 2")) == ["SELECT 1", "SELECT 2"]


def test_at_a_terminal_ctrl_c_cancels_a_statement_ctrl_d_quits_and_the_history_is_kept(home):
    import pty
    import select
    import signal
    import time

    leader, follower = pty.openpty()
    env = {**os.environ, "AVAX_CLICKHOUSE_CHDB_PATH": str(home / "chdb"), "AVAX_HOME": str(home),
           "PYTHONWARNINGS": "ignore", "TERM": "dumb"}

    def own_terminal() -> None:  # the pty is the prompt's controlling terminal: Ctrl-C there is a SIGINT
        import fcntl
        import termios

        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # as at a shell (a test runner may ignore it)

    prompt = subprocess.Popen([sys.executable, "-m", "avax_assets.cli", "sql"], env=env, stdin=follower,
                              stdout=follower, stderr=follower, close_fds=True, preexec_fn=own_terminal)
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, after: bytes = b"", timeout_s: float = 60) -> None:
        """Until `marker` shows (after the last `after`, when given)."""
        nonlocal seen

        def shown() -> bool:
            return after in seen and marker in seen.rpartition(after)[2] if after else marker in seen

        deadline = time.monotonic() + timeout_s
        while not shown() and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.5)[0]:
                seen += os.read(leader, 65536)
        assert shown(), seen.decode(errors="replace")

    try:
        read_until(b"avax :) ")
        os.write(leader, b"SELECT 'never' || 'run'\n")  # a statement begun over two lines
        read_until(b":-] ")
        seen = b""
        time.sleep(1)  # pacing, as a person types: readline is reading the next line
        os.write(leader, b"\x03")  # Ctrl-C: the statement is dropped, the prompt stays
        read_until(b"avax :) ", timeout_s=30)
        os.write(leader, b"SELECT 40 + 2 AS answer;\n")
        read_until(b"avax :) ", after=b"42")  # the answer, then the next prompt
        time.sleep(1)  # pacing, as a person types
        os.write(leader, b"\x04")  # Ctrl-D
        assert prompt.wait(timeout=60) == 0
    finally:
        prompt.kill()
        os.close(leader)
    assert b"neverrun" not in seen and b"Traceback" not in seen
    assert "SELECT 40 + 2 AS answer;" in (home / "sql_history").read_text()


def test_commands_find_the_local_stack_without_exports(home, tmp_path):
    """The local stack (or the demo) writes local.env under AVAX_HOME; a command reads it beneath its own
    environment, so nothing needs exporting after the demo."""
    (tmp_path / "local.env").write_text(f"# written by the local stack\nAVAX_CLICKHOUSE_CHDB_PATH={home / 'chdb'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVAX_")}
    done = subprocess.run([sys.executable, "-m", "avax_assets.cli", "sql", "--format", "tsv",
                           "SELECT block_number FROM blocks"], env={**env, "AVAX_HOME": str(tmp_path)},
                          capture_output=True, timeout=120, text=True)
    assert done.returncode == 0 and done.stdout.splitlines() == ["block_number", "7"], done.stderr


def test_a_variable_set_in_the_process_wins_over_the_env_file(tmp_path):
    from avax_assets.core.config import environment

    (tmp_path / "local.env").write_text("export AVAX_RPC_URL='http://from-file:1'\nAVAX_RPC_BATCH_SIZE=3\n# a note\n")
    found = environment({"AVAX_HOME": str(tmp_path), "AVAX_RPC_URL": "http://from-process:2"})
    assert found["AVAX_RPC_URL"] == "http://from-process:2" and found["AVAX_RPC_BATCH_SIZE"] == "3"
    assert "AVAX_RPC_BATCH_SIZE" not in environment({"AVAX_HOME": str(tmp_path), "AVAX_ENV_FILE": ""})
