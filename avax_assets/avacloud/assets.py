"""The AvaCloud family's assets: network snapshots and bridges (Data API) and metrics (Metrics API).
One client per run: its compute units and the run's `fetched_at` cover every day of a range run. The
pool `avacloud` limits concurrent use of the API across runs, the client's budget within a process."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
import pyarrow as pa

from avax_assets.avacloud.bridges import BRIDGES, extract_bridges
from avax_assets.avacloud.client import AvaCloudClient
from avax_assets.avacloud.metrics import METRIC_GROUPS, METRICS, METRICS_BY_GROUP, extract_metrics
from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.avacloud.settings import AvaCloudNetwork, AvaCloudSettings
from avax_assets.avacloud.snapshots import SNAPSHOTS, Snapshot, extract_snapshot
from avax_assets.core.audits import AuditResult
from avax_assets.core.schema import CHAIN_ID, Dataset
from avax_assets.orchestration import pools
from avax_assets.orchestration.factory import DatasetAsset, ExtractCheck, PartitionReader, Run, SourceSystem, stateless

DATA_API = SourceSystem("avacloud_data_api", "The AvaCloud Data API (AVAX_AVACLOUD_DATA_URL): the network's "
                        "chains, subnets, blockchains, validators, delegators and ICM messages.", kinds=("rest",))
METRICS_API = SourceSystem("avacloud_metrics_api", "The AvaCloud Metrics API (AVAX_AVACLOUD_METRICS_URL): daily and "
                           "hourly chain metrics.", kinds=("rest",))

# (client, the avacloud resource, partition, fetched_at, run) → the partition's batches
# (client, settings, partition, fetched at, run) → the partition's batches
Extraction = Callable[[AvaCloudClient, AvaCloudSettings, str, int, Run], Iterator[pa.RecordBatch]]
POINTS_IN_DAY = "points_in_the_day"


def avacloud_asset(dataset: Dataset, extract: Extraction, group: str, reads: SourceSystem,
                   snapshot: bool = False, checks: tuple[ExtractCheck, ...] = ()) -> DatasetAsset:
    @contextmanager
    def source(run: Run) -> Iterator[PartitionReader]:
        avacloud = run.resource(AvaCloudResource)
        settings = avacloud.settings()
        fetched_at = int(time.time())
        with avacloud.client() as client:
            spent_before = client.budget.spent
            yield lambda partition: extract(client, settings, partition, fetched_at, run)
            run.metadata.update(compute_units=client.budget.spent - spent_before,
                                fetched_at=dg.MetadataValue.timestamp(float(fetched_at)))
        if snapshot:
            run.metadata["state_as_of"] = _snapshot_note(run, dataset, run.partition_keys[0], fetched_at)

    return DatasetAsset(dataset=dataset, group=group, origin="From AvaCloud", source=source,
                        resources=(AvaCloudResource,), pool=pools.AVACLOUD, reads=reads, checks=checks)


def _snapshot_note(run: Run, dataset: Dataset, partition: str, fetched_at: int) -> str:
    fetched_day = dt.datetime.fromtimestamp(fetched_at, dt.timezone.utc).date().isoformat()
    if fetched_day == partition:
        return "state of the partition's day"
    note = f"the API serves current state only: this is the state of {fetched_day}, filed under {partition}"
    run.log.warning(f"{dataset.name} {partition}: {note}")
    return note


def snapshot_asset(snapshot: Snapshot) -> DatasetAsset:
    def extract(client, settings, partition, fetched_at, run):
        return extract_snapshot(client, snapshot, AvaCloudNetwork(settings.network).value, partition, fetched_at)

    return avacloud_asset(snapshot.dataset, extract, "network", DATA_API, snapshot=True)


def metrics_asset(dataset: Dataset, metrics: tuple[str, ...]) -> DatasetAsset:
    def extract(client, settings, partition, fetched_at, run):
        counted = {"in": 0, "outside": 0}

        def outside(count: int) -> None:
            counted["outside"] += count

        # unset outside the catalogue's resources (which derive it from the configured chains): the C-Chain's
        chain_ids = tuple(settings.metric_chain_ids or (str(CHAIN_ID), "total"))
        for batch in extract_metrics(client, dataset, metrics, chain_ids, partition,
                                     fetched_at, outside):
            counted["in"] += batch.num_rows
            yield batch
        run.note(partition, points_outside_the_day=counted["outside"])
        run.check(POINTS_IN_DAY, partition, AuditResult(  # points, but none of them in the day: a warning
            counted["in"] > 0 or counted["outside"] == 0,
            {"points_in_the_day": counted["in"], "points_outside_the_day": counted["outside"]}))

    return avacloud_asset(dataset, extract, "metrics", METRICS_API, checks=(ExtractCheck(
        POINTS_IN_DAY, "The API's points for the partition include some of its own UTC day (not only points "
        "around it, which are left out and counted)", warn_only=True),))


def union_asset(dataset: Dataset, sources: tuple[Dataset, ...], group: str) -> DatasetAsset:
    """A dataset that is the union of other datasets' stored partitions (same schema): no API calls."""

    def read(run: Run, partition: str) -> Iterator[pa.RecordBatch]:
        for source in sources:
            yield from run.inputs[source.name][partition].iter_batches()

    return DatasetAsset(dataset=dataset, group=group, origin=f"The union of {', '.join(s.name for s in sources)}",
                        source=stateless(read), inputs=sources)


SNAPSHOT_ASSETS = tuple(snapshot_asset(snapshot) for snapshot in SNAPSHOTS)
BRIDGE_ASSETS = (avacloud_asset(BRIDGES, lambda client, settings, partition, fetched_at, run: extract_bridges(
    client, AvaCloudNetwork(settings.network).value, partition, fetched_at), "network", DATA_API),)
METRICS_ASSETS = (
    *(metrics_asset(METRICS_BY_GROUP[group], names) for group, names in METRIC_GROUPS.items()),
    union_asset(METRICS, tuple(METRICS_BY_GROUP.values()), "metrics"),
)
