"""The catalogue: the one module that reads every family's declarations, and what Dagster gets of them
(assets, the outside sources they read, daily jobs, schedules, sensors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from avax_assets.analytics.views import VIEWS
from avax_assets.avacloud.assets import BRIDGE_ASSETS, METRICS_ASSETS, SNAPSHOT_ASSETS
from avax_assets.avacloud.bridges import BRIDGES
from avax_assets.avacloud.metrics import METRICS
from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.avacloud.snapshots import VALIDATORS
from avax_assets.chain import assets as chain
from avax_assets.chain.datasets import BLOCKS
from avax_assets.chain.resources import ChainRpcResource
from avax_assets.core.schema import Dataset
from avax_assets.events import assets as events
from avax_assets.live.resources import LiveResource
from avax_assets.live.sensor import SENSORS as LIVE_SENSORS
from avax_assets.orchestration import configured
from avax_assets.orchestration.claims import dead_claims_sensor
from avax_assets.orchestration.factory import (
    DatasetAsset,
    JointAsset,
    SourceSystem,
    extract_assets,
    load_asset,
    load_key,
    view_asset,
)
from avax_assets.orchestration.partitions import Partitions
from avax_assets.orchestration.schedules import (
    catch_up_sensor,
    daily_schedule,
    transient_retry,
)
from avax_assets.subgraphs import assets as subgraphs
from avax_assets.orchestration.resources import ClickHouseResource, KafkaResource, ParquetLakeIOManager
from avax_assets.primary import assets as primary
from avax_assets.primary.datasets import P_CHAIN_BLOCKS
from avax_assets.primary.resources import PChainResource
from avax_assets.subgraphs.datasets import DEX_SWAPS
from avax_assets.subgraphs.resources import SubgraphResource
from avax_assets.tokens import assets as tokens

# Scopes: what each daily job materializes (its datasets' extract and load assets), by name. The chain scope
# takes the chain, tokens and events families and the C-Chain's atomic transactions (all read the C-Chain's days);
# tests and the demo use them too.
SCOPES: dict[str, tuple[DatasetAsset, ...]] = {
    "chain": (*chain.ASSETS, *tokens.ASSETS, *events.ASSETS, tokens.TOKENS_ASSET, *primary.ATOMIC_ASSETS),
    "network": SNAPSHOT_ASSETS,
    "bridges": BRIDGE_ASSETS,
    "metrics": METRICS_ASSETS,
    "subgraphs": subgraphs.ASSETS,
    "primary": primary.P_CHAIN_ASSETS,
}
# Families: the folder declaring each dataset (for the docs)
FAMILIES: dict[str, tuple[DatasetAsset, ...]] = {
    "chain": chain.ASSETS, "tokens": (*tokens.ASSETS, tokens.TOKENS_ASSET), "events": events.ASSETS,
    "avacloud": (*SNAPSHOT_ASSETS, *BRIDGE_ASSETS, *METRICS_ASSETS), "subgraphs": subgraphs.ASSETS,
    "primary": primary.ASSETS,
}
# Datasets a scope extracts together, in one step over one pass of their source
JOINTS: dict[str, tuple[JointAsset, ...]] = {"chain": chain.JOINTS, "primary": (primary.P_CHAIN_JOINT,)}
DATASETS: dict[str, Dataset] = {spec.dataset.name: spec.dataset for specs in SCOPES.values() for spec in specs}
SOURCES: tuple[SourceSystem, ...] = tuple(dict.fromkeys(spec.reads for specs in SCOPES.values() for spec in specs
                                                        if spec.reads))
# Every resource the assets, sensors and services use; its settings model declares its variables.
RESOURCES = (ChainRpcResource, AvaCloudResource, SubgraphResource, PChainResource, KafkaResource,
             ParquetLakeIOManager, ClickHouseResource, LiveResource)
# Every settings model: the resources' and the code location's own (docs/settings.md lists them all)
SETTINGS = (*(kind.model for kind in RESOURCES), *configured.LOCATION_SETTINGS)


def build_resources(environ: Mapping[str, str] | None = None) -> dict:
    """Every resource, configured from the process environment (unless given) when the code location loads."""
    return configured.build_resources(RESOURCES, environ)


@dataclass(frozen=True)
class DailyJob:
    """A job over one UTC day (or a backfill's range of days): its scope's extracts and loads.

    minute   when its schedule runs, after 00:00 UTC
    witness  the dataset whose ClickHouse load says which days the job has done (catch-up sensor)
    """

    name: str
    description: str
    scope: str
    minute: int
    witness: Dataset


# The chain day is complete once the node is past midnight; metrics and the subgraph get more slack
# (the API aggregates, the subgraph indexes with a lag). Each job's assets share one backfill policy
# (Dagster falls back to one day per run for a job whose assets differ): metrics 31 days, the rest one.
DAILY_JOBS = (
    DailyJob("chain_daily", "Every C-Chain dataset for one UTC day: RPC → Kafka → Parquet → ClickHouse.",
             "chain", minute=20, witness=BLOCKS),
    DailyJob("network_daily", "Snapshots of the Avalanche network from the AvaCloud Data API → Kafka → Parquet → "
             "ClickHouse.", "network", minute=5, witness=VALIDATORS),
    DailyJob("metrics_daily", "Metrics API series for one UTC day (backfills: 31 days per run) → Kafka → Parquet → "
             "ClickHouse.", "metrics", minute=40, witness=METRICS),
    DailyJob("bridges_daily", "ICM messages (bridges) of one UTC day from the AvaCloud Data API → Kafka → Parquet → "
             "ClickHouse.", "bridges", minute=45, witness=BRIDGES),
    DailyJob("primary_daily", "The P-Chain's blocks, transactions, UTXOs and rewards for one UTC day from the "
             "AvaCloud Data API (or a P-Chain node) → Kafka → Parquet → ClickHouse.", "primary", minute=30,
             witness=P_CHAIN_BLOCKS),
    DailyJob("subgraphs_daily", "Subgraph entities (DEX swaps) in one UTC day's block range from The Graph → Kafka → "
             "Parquet → ClickHouse.", "subgraphs", minute=50, witness=DEX_SWAPS),
)


class Catalogue:
    """Every asset, made once for a given partitioning."""

    def __init__(self, partitions: Partitions | None = None) -> None:
        partitions = partitions or Partitions.from_settings()
        self.extracts = {name: extract_assets(specs, JOINTS.get(name, ()), partitions)
                         for name, specs in SCOPES.items()}
        self.loads = {name: [load_asset(spec, partitions) for spec in specs] for name, specs in SCOPES.items()}
        self.analytics = [view_asset(view) for view in VIEWS]

    def scope(self, name: str) -> list[dg.AssetsDefinition]:
        """A scope's extract and load assets."""
        return [*self.extracts[name], *self.loads[name]]

    def load_of(self, dataset: Dataset) -> dg.AssetsDefinition:
        return next(a for loads in self.loads.values() for a in loads if a.key == load_key(dataset))

    def job(self, job: DailyJob, retry: dg.RetryPolicy | None = None) -> dg.UnresolvedAssetJobDefinition:
        assets = self.scope(job.scope)
        # the step RetryPolicy retries transient failures; a run retry (instance run_retries) is for a crashed
        # run worker only, on every deployment, whatever its instance config says
        return dg.define_asset_job(job.name, op_retry_policy=retry or transient_retry(),
                                   selection=dg.AssetSelection.assets(*assets), description=job.description,
                                   tags={"dagster/retry_on_asset_or_op_failure": "false"})

    def definitions(self, resources: dict, executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
        jobs = {job.name: self.job(job) for job in DAILY_JOBS}
        analytics = dg.define_asset_job("analytics", selection=dg.AssetSelection.assets(*self.analytics),
                                        description="(Re)create the ClickHouse analytics views over the loaded tables.")
        sensors = [*(catch_up_sensor(jobs[job.name], self.load_of(job.witness)) for job in DAILY_JOBS), *LIVE_SENSORS,
                   dead_claims_sensor]
        return dg.Definitions(
            assets=[*(source.spec() for source in SOURCES), *(a for name in SCOPES for a in self.scope(name)),
                    *self.analytics],
            jobs=[*jobs.values(), analytics], sensors=sensors,
            schedules=[daily_schedule(jobs[job.name], job.minute) for job in DAILY_JOBS], resources=resources,
            executor=executor)
