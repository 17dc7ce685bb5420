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


def partition_day(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)
