"""Each declared `Partitioning` as Dagster partitions, and how backfills split into runs."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from avax_assets.core.schema import Dataset, Partitioning
from avax_assets.core.settings import PARTITIONS, PartitionSettings


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


def backfill_policy(days_per_run: int) -> dg.BackfillPolicy:
    """How a backfill from the UI splits a date range into runs. A daemon-launched run costs about 8 s
    before its work starts (measured, README: Backfills): a day of mainnet blocks, receipts and traces
    takes minutes, so heavy datasets take one day per run (and a failure costs one day); a day of
    metrics takes well under a second, so those take many days per run."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days_per_run)
