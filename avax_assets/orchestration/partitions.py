"""Each declared `Partitioning` as Dagster partitions, and how backfills split into runs."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from avax_assets.core.errors import SettingError
from avax_assets.core.schema import Dataset, Partitioning
from avax_assets.core.settings import PARTITIONS, PartitionSettings

# the variable that moves each partitioning's first day (orchestration/environment.py reads them)
START_SETTINGS = {Partitioning.CHAIN_DAILY: "AVAX_CHAIN_START_DATE",
                  Partitioning.SNAPSHOT_DAILY: "AVAX_SNAPSHOT_START_DATE"}


@dataclass(frozen=True)
class Partitions:
    by_partitioning: dict[Partitioning, dg.DailyPartitionsDefinition]

    @classmethod
    def from_settings(cls, settings: PartitionSettings = PARTITIONS) -> Partitions:
        return cls({
            # end_offset=0: the current UTC day is never offered, it is not complete yet.
            Partitioning.CHAIN_DAILY: dg.DailyPartitionsDefinition(start_date=settings.chain_start, timezone="UTC",
                                                                   end_offset=0),
            Partitioning.SNAPSHOT_DAILY: dg.DailyPartitionsDefinition(start_date=settings.snapshot_start,
                                                                      timezone="UTC"),
        })

    def of(self, dataset: Dataset) -> dg.DailyPartitionsDefinition:
        return self.by_partitioning[dataset.partitioning]

    def check_key(self, asset: str, partitions: dg.PartitionsDefinition, key: str) -> None:
        """A SettingError naming the valid range and the variable that moves it, for a key outside it."""
        if partitions.has_partition_key(key):
            return
        partitioning = next(p for p, d in self.by_partitioning.items() if d == partitions)
        keys = partitions.get_partition_keys()
        valid = f"the days {keys[0]} to {keys[-1]} (UTC)" if keys else "no day yet"
        raise SettingError(f"partition {key!r} of {asset} is not one of {valid}; the first day is "
                           f"{START_SETTINGS[partitioning]}, the last is the newest complete day")


def backfill_policy(days_per_run: int) -> dg.BackfillPolicy:
    """How a backfill from the UI splits a date range into runs. A daemon-launched run costs about 8 s
    before its work starts (measured, docs/operations.md: Backfills): a day of mainnet blocks, receipts and traces
    takes minutes, so heavy datasets take one day per run (and a failure costs one day); a day of
    metrics takes well under a second, so those take many days per run."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days_per_run)
