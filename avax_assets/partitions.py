"""Partitions shared by the datasets."""

import datetime as dt
import os

import dagster as dg

# C-Chain mainnet launched on 2020-09-23; override for a node whose history starts later.
CHAIN_START_DATE = os.environ.get("AVAX_CHAIN_START_DATE", "2020-09-23")

# end_offset=0: the current UTC day is never offered, it is not complete yet.
chain_daily_partitions = dg.DailyPartitionsDefinition(start_date=CHAIN_START_DATE, timezone="UTC", end_offset=0)


# Network snapshots: the API serves current state, so history starts when collection starts.
SNAPSHOT_START_DATE = os.environ.get("AVAX_SNAPSHOT_START_DATE", "2024-06-01")
snapshot_daily_partitions = dg.DailyPartitionsDefinition(start_date=SNAPSHOT_START_DATE, timezone="UTC")

PARTITIONS = {"chain_daily": chain_daily_partitions, "snapshot_daily": snapshot_daily_partitions}


def backfill_policy(days_per_run: int) -> dg.BackfillPolicy:
    """How a backfill from the UI splits a date range into runs. A daemon-launched run costs about 8 s
    before its work starts (measured, README: Backfills): a day of mainnet blocks, receipts and traces
    takes minutes, so heavy datasets take one day per run (and a failure costs one day); a day of
    metrics takes well under a second, so those take many days per run."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days_per_run)


def partition_day(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)
