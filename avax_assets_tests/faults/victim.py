"""A run of one day's blocks (extract, then ClickHouse load) in a process of its own, for the drills that
SIGKILL a run. With DRILL_PAUSE_AT=extract|publish|load it stops in that stage — after the first chunk
is spooled, inside the open Kafka transaction, after the staging table is filled — prints
`at <stage> <pid>` and waits to be killed. The pause is the only staged thing; the kill is real.

    DRILL_PAUSE_AT=load python -m avax_assets_tests.faults.victim multiprocess 2024-06-02
    python -m avax_assets_tests.faults.victim report 2024-06-02    # a clean re-run; prints its state as JSON

The patches are applied when this module is imported, so a multiprocess run's step processes (which import
it to rebuild the job) pause too.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import dagster as dg

import avax_assets.core.kafka as kafka
import avax_assets.orchestration.factory as factory
from avax_assets.catalogue import Catalogue
from avax_assets.chain.datasets import BLOCKS
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.catalogue import build_resources
from avax_assets.orchestration.factory import load_key

PAUSE_AT = os.environ.get("DRILL_PAUSE_AT")


def pause(stage: str) -> None:
    print(f"at {stage} {os.getpid()}", flush=True)
    time.sleep(600)


def _pause_in_extract() -> None:
    spool_together = factory.spool_together

    def first_chunk_then_pause(datasets, partition, chunks, *args):
        def paused():
            iterator = iter(chunks)
            yield next(iterator)
            pause("extract")
            yield from iterator
        return spool_together(datasets, partition, paused(), *args)

    factory.spool_together = first_chunk_then_pause


def _pause_in_publish() -> None:
    def encode_batch(*args):
        pause("publish")
    kafka.encode_batch = encode_batch


def _pause_in_load() -> None:
    def check_staging(self, *args):  # called once the staging table is filled
        pause("load")
    ClickHouseWarehouse._staged_rows = check_staging


PAUSES = {"extract": _pause_in_extract, "publish": _pause_in_publish, "load": _pause_in_load}
if PAUSE_AT:
    PAUSES[PAUSE_AT]()


def blocks_job() -> dg.JobDefinition:
    """The day's blocks and their load, on the multiprocess executor (a step per process)."""
    catalogue = Catalogue()
    job = dg.define_asset_job("drill_blocks", selection=[BLOCKS.name, load_key(BLOCKS).path[-1]],
                              executor_def=dg.multiprocess_executor)
    return dg.Definitions(assets=catalogue.scope("chain"), jobs=[job],
                          resources=build_resources()).resolve_job_def("drill_blocks")


def run_multiprocess(day: str) -> None:
    with tempfile.TemporaryDirectory() as home, dg.instance_for_test(temp_dir=home) as instance:
        dg.execute_job(dg.reconstructable(blocks_job), instance=instance, tags={"dagster/partition": day})


def report(day: str) -> dict:
    """The ClickHouse tables a killed run left, a clean in-process re-run of the day, then what ClickHouse
    holds of it."""
    before = tables(build_resources()["clickhouse"].warehouse())
    result = dg.materialize(Catalogue().scope("chain"), selection=[BLOCKS.name, load_key(BLOCKS).path[-1]],
                            partition_key=day, resources=build_resources(), raise_on_error=False)
    warehouse = build_resources()["clickhouse"].warehouse()
    rows = warehouse.client.query(
        f"SELECT block_number, block_hash FROM {warehouse.qualified(BLOCKS.table)} "
        "WHERE toDate(block_timestamp) = {day:Date} ORDER BY block_number", parameters={"day": day}).result_rows
    return {"success": result.success, "rows": [list(row) for row in rows], "tables_before": before,
            "tables": tables(warehouse)}


def tables(warehouse: ClickHouseWarehouse) -> list[str]:
    rows = warehouse.client.query("SELECT name FROM system.tables WHERE database = {db:String}",
                                  parameters={"db": warehouse.database}).result_rows
    return sorted(row[0] for row in rows)


if __name__ == "__main__":
    mode, day = sys.argv[1], sys.argv[2]
    if mode == "multiprocess":
        run_multiprocess(day)
    else:
        print(json.dumps(report(day)), flush=True)
