"""Each declared `Partitioning` as Dagster partitions, and how backfills split into runs."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field, replace
from typing import Annotated, Optional

import dagster as dg

from avax_assets.core.config import Settings, rule, scoped, setting
from avax_assets.core.errors import SettingError
from avax_assets.core.schema import Dataset, Partitioning


def _day(text: str) -> None:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be a day as YYYY-MM-DD, not {text!r}") from None


Day = Annotated[str, rule(_day)]


class PartitionSettings(Settings):
    """The days of each partitioning: from its first day to the newest complete UTC day (yesterday), or to a
    last day when one is set (a local node's history ends: the local stack sets its last complete day)."""

    chain_start: Day = setting("2020-09-23", "AVAX_CHAIN_START_DATE", "The first day of the chain datasets "
                               "(C-Chain mainnet launch; later for a node whose history starts later).")
    chain_end: Optional[Day] = setting(None, "AVAX_CHAIN_END_DATE", "The last day of the chain datasets; unset: "
                                       "yesterday (UTC).")
    snapshot_start: Day = setting("2024-06-01", "AVAX_SNAPSHOT_START_DATE", "The first day of the snapshots (the "
                                  "API serves current state: history starts when collection does).")
    snapshot_end: Optional[Day] = setting(None, "AVAX_SNAPSHOT_END_DATE", "The last day of the snapshots; unset: "
                                          "yesterday (UTC).")


PARTITIONS = PartitionSettings()
# the variables that move each partitioning's first and last day
START_SETTINGS = {Partitioning.CHAIN_DAILY: "AVAX_CHAIN_START_DATE",
                  Partitioning.SNAPSHOT_DAILY: "AVAX_SNAPSHOT_START_DATE"}
END_SETTINGS = {Partitioning.CHAIN_DAILY: "AVAX_CHAIN_END_DATE", Partitioning.SNAPSHOT_DAILY: "AVAX_SNAPSHOT_END_DATE"}


def _day_after(day: str | None) -> str | None:
    """Dagster's end_date is the first day not offered."""
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat() if day else None


def _chain_days(settings: PartitionSettings) -> dg.DailyPartitionsDefinition:
    # end_offset=0: the current UTC day is never offered, it is not complete yet.
    return dg.DailyPartitionsDefinition(start_date=settings.chain_start, end_date=_day_after(settings.chain_end),
                                        timezone="UTC", end_offset=0)


@dataclass(frozen=True)
class Partitions:
    """The days of each partitioning; a configured chain's own days (AVAX_<CHAIN>_CHAIN_START_DATE, …) by its id."""

    by_partitioning: dict[Partitioning, dg.DailyPartitionsDefinition]
    by_chain: dict[int, tuple[str, dg.DailyPartitionsDefinition]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: PartitionSettings = PARTITIONS) -> Partitions:
        return cls({
            Partitioning.CHAIN_DAILY: _chain_days(settings),
            Partitioning.SNAPSHOT_DAILY: dg.DailyPartitionsDefinition(
                start_date=settings.snapshot_start, end_date=_day_after(settings.snapshot_end), timezone="UTC"),
        })

    def with_chain(self, chain_id: int, scope: str, settings: PartitionSettings) -> Partitions:
        """With a configured chain's own days (its settings read with its scope)."""
        return replace(self, by_chain={**self.by_chain, chain_id: (scope, _chain_days(settings))})

    def of(self, dataset: Dataset) -> dg.DailyPartitionsDefinition:
        if dataset.partitioning is Partitioning.CHAIN_DAILY and dataset.chain_id in self.by_chain:
            return self.by_chain[dataset.chain_id][1]
        return self.by_partitioning[dataset.partitioning]

    def check_key(self, asset: str, partitions: dg.PartitionsDefinition, key: str) -> None:
        """A SettingError naming the valid range and the variable that moves it, for a key outside it."""
        if partitions.has_partition_key(key):
            return
        start, end = self._variables(partitions)
        keys = partitions.get_partition_keys()
        valid = f"the days {keys[0]} to {keys[-1]} (UTC)" if keys else "no day yet"
        raise SettingError(f"partition {key!r} of {asset} is not one of {valid}; the first day is {start}, the last "
                           f"{end} (unset: the newest complete day)")

    def _variables(self, partitions: dg.PartitionsDefinition) -> tuple[str, str]:
        for scope, days in self.by_chain.values():
            if days == partitions:
                return tuple(scoped(v[Partitioning.CHAIN_DAILY], scope) for v in (START_SETTINGS, END_SETTINGS))
        partitioning = next(p for p, d in self.by_partitioning.items() if d == partitions)
        return START_SETTINGS[partitioning], END_SETTINGS[partitioning]


# Every daily dataset's assets set a backfill policy on purpose (days per run), a beta parameter: Dagster's
# notice of it would be printed once per asset by every `dagster` command loading the code location
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset` is currently in beta",
                        category=dg.BetaWarning)


def backfill_policy(days_per_run: int) -> dg.BackfillPolicy:
    """How a backfill from the UI splits a date range into runs. A daemon-launched run costs about 8 s
    before its work starts (measured, docs/operations.md: Backfills): a day of mainnet blocks, receipts and traces
    takes minutes, so heavy datasets take one day per run (and a failure costs one day); a day of
    metrics takes well under a second, so those take many days per run."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days_per_run)
