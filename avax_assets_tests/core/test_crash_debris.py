"""What a crash leaves behind is cleared or waited out: a killed process's spools are swept, a killed load's
staging tables are dropped, a load waits for another process to release the embedded ClickHouse, and the
local instance monitors runs (a killed run is marked failed and frees its pool slots)."""

import datetime as dt
import os
import subprocess
import sys
import textwrap

import dagster as dg
import pyarrow as pa

from avax_assets.chain.datasets import BLOCKS
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.core.spool import PartitionSpool, sweep_stale_spools
from avax_assets_tests.conftest import REPO


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_spools_of_a_process_that_is_gone_are_swept_and_live_ones_kept(tmp_path):
    with PartitionSpool(BLOCKS, "2024-06-01", str(tmp_path)) as live:
        live.write(pa.RecordBatch.from_pylist([], schema=BLOCKS.arrow_schema))
    orphan = tmp_path / f"blocks-2024-06-02-{dead_pid()}-p-abc.parquet"
    orphan.write_bytes(b"half a spool")
    its_keys = orphan.with_name(f"{orphan.name}.keys07")  # the key hashes it had spilled (PartitionKeys)
    its_keys.write_bytes(b"\0" * 8)
    assert sorted(sweep_stale_spools(str(tmp_path))) == [orphan, its_keys]
    assert not orphan.exists() and not its_keys.exists() and live.result.path.exists()
    assert str(os.getpid()) in live.result.path.name


def test_a_staging_table_left_by_a_killed_load_is_dropped(resources):
    warehouse = ClickHouseWarehouse(resources["clickhouse"].warehouse().client, "debris", stale_staging_s=0)
    warehouse.ensure_table(BLOCKS)
    warehouse.client.command("CREATE TABLE debris.blocks__staging_20240601 AS debris.blocks")  # what a kill leaves
    assert warehouse.drop_stale_staging(BLOCKS) == ["blocks__staging_20240601"]
    tables = warehouse.client.query("SELECT name FROM system.tables WHERE database = 'debris'").result_rows
    assert [row[0] for row in tables] == ["blocks"]
    assert warehouse.replace_partition(BLOCKS, dt.date(2024, 6, 1), []) == 0  # and loading still works


# chDB opens one data directory per process, and this one already has the session's: the holder and the
# waiter are processes of their own.
HOLDER = textwrap.dedent("""
    import sys, time
    import clickhouse_connect
    client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])  # held while the client lives
    client.command("SELECT 1")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
""")
WAITER = textwrap.dedent("""
    import sys
    from avax_assets.core.chdb import chdb_client
    from avax_assets.core.errors import ClickHouseBusy
    try:
        print(chdb_client(sys.argv[1], lock_wait_s=float(sys.argv[2]), poll_s=0.1).query("SELECT 1").result_rows)
    except ClickHouseBusy as exc:
        print(f"busy: {exc}")
""")


def hold(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def wait_for(path, lock_wait_s: float) -> str:
    return subprocess.run([sys.executable, "-c", WAITER, str(path), str(lock_wait_s)], capture_output=True, text=True,
                          cwd=REPO, timeout=120).stdout.strip()


def test_a_load_waits_for_another_process_to_release_the_embedded_engine(tmp_path):
    holder = hold(tmp_path / "held", 2)
    assert wait_for(tmp_path / "held", 60) == "[(1,)]"
    holder.communicate()  # waits, and closes its pipe
    assert holder.returncode == 0


def test_a_load_that_waited_long_enough_says_who_holds_what(tmp_path):
    holder = hold(tmp_path / "busy", 60)
    try:
        answer = wait_for(tmp_path / "busy", 0.5)
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes its pipe
    assert answer.startswith(f"busy: the embedded ClickHouse at {tmp_path / 'busy'} is held by another process; "
                             "waited 0.5 s (AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S)")


def test_a_load_kept_waiting_by_a_process_of_this_project_names_its_pid(tmp_path):
    path = str(tmp_path / "ours")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom avax_assets.core.chdb import "
                               "held_engine\nwith held_engine(sys.argv[1]):\n    print('holding', flush=True)\n"
                               "    time.sleep(60)", path], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "holding"
        answer = wait_for(path, 0.5)
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes its pipe
    assert f"waited 0.5 s (AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S). Held by: process {holder.pid} " in answer, answer
    assert wait_for(path, 5) == "[(1,)]"  # a killed holder's lock goes with it


def test_the_local_instance_monitors_runs_and_frees_their_slots(tmp_path):
    config = (REPO / "dagster.yaml").read_text().replace(".avax-assets/dagster", str(tmp_path / "storage"))
    (tmp_path / "dagster.yaml").write_text(config)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
