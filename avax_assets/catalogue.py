"""The catalogue: the one module that reads every family's declarations, and what Dagster gets of them
(assets, the outside sources they read, daily jobs, schedules, sensors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import dagster as dg

from avax_assets.analytics.views import VIEWS
from avax_assets.avacloud.assets import BRIDGE_ASSETS, METRICS_ASSETS, SNAPSHOT_ASSETS
from avax_assets.avacloud.bridges import BRIDGES
from avax_assets.avacloud.metrics import METRICS
from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.avacloud.snapshots import VALIDATORS
from avax_assets.chain import assets as chain_family
from avax_assets.chain.datasets import BLOCKS, INTERNAL_TRANSACTIONS
from avax_assets.chain.resources import ChainRpcResource
from avax_assets.chain.settings import ChainsSettings, RpcSettings, Vm
from avax_assets.core.clickhouse import quoted
from avax_assets.core.errors import SettingError
from avax_assets.core.schema import CHAIN_ID, Dataset, View
from avax_assets.events import assets as events
from avax_assets.events.datasets import WAVAX, WRAPPED_NATIVE_EVENTS
from avax_assets.live.resources import LiveResource
from avax_assets.live.sensor import live_sensor
from avax_assets.orchestration import configured
from avax_assets.orchestration.claims import dead_claims_sensor
from avax_assets.orchestration.factory import (
    DatasetAsset,
    JointAsset,
    OnChain,
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
    job_day_config,
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
    "chain": (*chain_family.ASSETS, *tokens.ASSETS, *events.ASSETS, tokens.TOKENS_ASSET, *primary.ATOMIC_ASSETS),
    "network": SNAPSHOT_ASSETS,
    "bridges": BRIDGE_ASSETS,
    "metrics": METRICS_ASSETS,
    "subgraphs": subgraphs.ASSETS,
    "primary": primary.P_CHAIN_ASSETS,
}
# Families: the folder declaring each dataset (for the docs)
FAMILIES: dict[str, tuple[DatasetAsset, ...]] = {
    "chain": chain_family.ASSETS, "tokens": (*tokens.ASSETS, tokens.TOKENS_ASSET), "events": events.ASSETS,
    "avacloud": (*SNAPSHOT_ASSETS, *BRIDGE_ASSETS, *METRICS_ASSETS), "subgraphs": subgraphs.ASSETS,
    "primary": primary.ASSETS,
}
# Datasets a scope extracts together, in one step over one pass of their source
JOINTS: dict[str, tuple[JointAsset, ...]] = {"chain": chain_family.JOINTS, "primary": (primary.P_CHAIN_JOINT,)}
DATASETS: dict[str, Dataset] = {spec.dataset.name: spec.dataset for specs in SCOPES.values() for spec in specs}
SOURCES: tuple[SourceSystem, ...] = tuple(dict.fromkeys(spec.reads for specs in SCOPES.values() for spec in specs
                                                        if spec.reads))
# Every resource the assets, sensors and services use; its settings model declares its variables.
RESOURCES = (ChainRpcResource, AvaCloudResource, SubgraphResource, PChainResource, KafkaResource,
             ParquetLakeIOManager, ClickHouseResource, LiveResource)
# Every settings model: the resources' and the code location's own (docs/settings.md lists them all)
SETTINGS = (*(kind.model for kind in RESOURCES), ChainsSettings, *configured.LOCATION_SETTINGS)


def configured_chains(environ: Mapping[str, str] | None = None) -> tuple[RpcSettings, ...]:
    """The home chain, then each chain named in AVAX_CHAINS, each from its own variables. Two chains with one
    chain id (or one name twice) are refused naming them: their rows, topics and tables would collide."""
    environ = configured.environ(environ)
    names = ChainsSettings.from_environ(environ).others
    if len(set(names)) != len(names):
        raise SettingError(f"AVAX_CHAINS names a chain twice: {','.join(names)}")
    chains = (RpcSettings.from_environ(environ), *(RpcSettings.from_environ(environ, scope=name) for name in names))
    by_id: dict[int, RpcSettings] = {}
    for chain in chains:
        if chain.chain_id in by_id:
            raise SettingError(f"chains {by_id[chain.chain_id].name} and {chain.name} both have chain id "
                               f"{chain.chain_id}; set {chain.variable('chain_id')} to the chain's own id")
        by_id[chain.chain_id] = chain
    return chains


def build_resources(environ: Mapping[str, str] | None = None) -> dict:
    """Every resource, configured from the process environment (unless given) when the code location loads; a
    per-chain resource (the chain's node) once for each configured chain."""
    chains = configured_chains(environ)
    metrics = {"metric_chain_ids": [*(str(chain.chain_id) for chain in chains), "total"]}
    return configured.build_resources(RESOURCES, environ, chains=[chain.scope for chain in chains[1:]],
                                      derived={AvaCloudResource.key: metrics})


def chain_assets(chain: RpcSettings) -> tuple[tuple[DatasetAsset, ...], tuple[JointAsset, ...]]:
    """A configured chain's assets (the chain scope's, bound to it): internal transactions only from a node that
    traces, atomic transactions only on a C-Chain (coreth), the wrapped native token's events from the chain's
    own (its setting; the C-Chain's WAVAX on chain 43114), none without one."""
    on = OnChain(chain.scope, chain.chain_id)
    wrapped = chain.wrapped_native or (WAVAX if chain.chain_id == CHAIN_ID else None)
    left_out = {*([] if chain.serves_traces else [INTERNAL_TRANSACTIONS.name]),
                *([] if chain.vm is Vm.coreth else [a.dataset.name for a in primary.ATOMIC_ASSETS]),
                *([] if wrapped else [e.dataset.name for e in WRAPPED_NATIVE_EVENTS])}
    own = {e.dataset.name: events.event_asset(e.emitted_by((wrapped,))) for e in WRAPPED_NATIVE_EVENTS} \
        if wrapped else {}
    specs = tuple(without_inputs(own.get(spec.dataset.name, spec), left_out).on_chain(on) for spec in SCOPES["chain"]
                  if spec.dataset.name not in left_out)
    return specs, tuple(joint.on_chain(on) for joint in JOINTS["chain"])


def without_inputs(spec: DatasetAsset, left_out: set[str]) -> DatasetAsset:
    """The asset without the inputs a chain does not have (tokens read what the chain's datasets hold)."""
    kept = tuple(d for d in spec.inputs if d.name not in left_out)
    return spec if kept == spec.inputs else replace(spec, inputs=kept)


def chain_scope(chain: RpcSettings) -> str:
    """The name of a configured chain's scope (its job is `<scope>_daily`)."""
    return f"{chain.scope}_chain" if chain.scope else "chain"


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


def configured_chains_view(chains: tuple[RpcSettings, ...]) -> View:
    """The configured chains as a view (their settings, no secret): what each chain_id in the tables is."""
    rows = ", ".join(
        f"({chain.chain_id}, {quoted(chain.scope or 'home')}, {quoted(chain.network.value)}, {quoted(chain.vm.value)}, "
        f"{quoted(chain.blockchain_id) if chain.blockchain_id else 'NULL'}, {quoted(chain.native_symbol)}, "
        f"{chain.native_decimals}, {'true' if chain.serves_traces else 'false'})" for chain in chains)
    columns = ("chain_id UInt64, name String, network String, vm String, blockchain_id Nullable(String), "
               "native_symbol String, native_decimals UInt8, serves_traces Bool")
    return View("configured_chains", "The EVM chains this deployment ingests, from their settings (AVAX_CHAINS and "
                "each chain's AVAX_<NAME>_… variables): chain id, name (the home chain: home), network, VM, blockchain "
                "id, native token and whether internal transactions are extracted.", (),
                f"SELECT * FROM values({quoted(columns)}, {rows})")


def chain_job(chain: RpcSettings) -> DailyJob:
    """A configured chain's daily job, beside the home chain's chain_daily."""
    left_out = [] if chain.serves_traces else [f"no internal transactions ({chain.variable('serves_traces')} is false)"]
    left_out += [] if chain.vm is Vm.coreth else ["no atomic transactions (an L1's EVM has none)"]
    return DailyJob(f"{chain_scope(chain)}_daily", f"Every dataset of chain {chain.scope} (chain id {chain.chain_id}) "
                    f"for one UTC day: RPC → Kafka → Parquet → ClickHouse{'; ' if left_out else ''}"
                    f"{'; '.join(left_out)}.", chain_scope(chain), minute=20,
                    witness=BLOCKS.on(chain.chain_id, (chain.scope,)))


class Catalogue:
    """Every asset, made once for a given partitioning and the configured chains (home first)."""

    def __init__(self, partitions: Partitions | None = None, chains: tuple[RpcSettings, ...] | None = None) -> None:
        partitions = partitions or Partitions.from_settings()
        self.chains = chains = chains or configured_chains()
        self.scopes, joints = dict(SCOPES), dict(JOINTS)
        for chain in chains:
            self.scopes[chain_scope(chain)], joints[chain_scope(chain)] = chain_assets(chain)
        for chain in chains[1:]:
            partitions = partitions.with_chain(chain.chain_id, chain.scope,
                                               configured.partition_settings(scope=chain.scope))
        self.jobs = (*DAILY_JOBS, *(chain_job(chain) for chain in chains[1:]))
        self.sources = tuple(dict.fromkeys(spec.reads for specs in self.scopes.values() for spec in specs
                                           if spec.reads))
        self.extracts = {name: extract_assets(specs, joints.get(name, ()), partitions)
                         for name, specs in self.scopes.items()}
        self.loads = {name: [load_asset(spec, partitions) for spec in specs] for name, specs in self.scopes.items()}
        self.analytics = [view_asset(view) for view in (*VIEWS, configured_chains_view(chains))]

    def scope(self, name: str) -> list[dg.AssetsDefinition]:
        """A scope's extract and load assets."""
        return [*self.extracts[name], *self.loads[name]]

    def load_of(self, dataset: Dataset) -> dg.AssetsDefinition:
        return next(a for loads in self.loads.values() for a in loads if a.key == load_key(dataset))

    def days_of(self, job: DailyJob) -> dg.PartitionsDefinition:
        """The days a daily job's assets are partitioned by (one partitioning per job)."""
        return next(a.partitions_def for a in self.scope(job.scope) if a.partitions_def is not None)

    def job(self, job: DailyJob, retry: dg.RetryPolicy | None = None) -> dg.UnresolvedAssetJobDefinition:
        assets = self.scope(job.scope)
        # the step RetryPolicy retries transient failures; a run retry (instance run_retries) is for a crashed
        # run worker only, on every deployment, whatever its instance config says
        # a run of several days (metrics' backfill policy) has no one day to tag, and Dagster takes no
        # partitioned config for its job
        one_day_runs = all(a.backfill_policy is None or a.backfill_policy.max_partitions_per_run == 1 for a in assets)
        return dg.define_asset_job(job.name, op_retry_policy=retry or transient_retry(),
                                   selection=dg.AssetSelection.assets(*assets), description=job.description,
                                   config=job_day_config(job.name, self.days_of(job)) if one_day_runs else None,
                                   tags={"dagster/retry_on_asset_or_op_failure": "false"})

    def definitions(self, resources: dict, executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
        jobs = {job.name: self.job(job) for job in self.jobs}
        analytics = dg.define_asset_job("analytics", selection=dg.AssetSelection.assets(*self.analytics),
                                        description="(Re)create the ClickHouse analytics views over the loaded tables.")
        sensors = [*(catch_up_sensor(jobs[job.name], self.load_of(job.witness)) for job in self.jobs),
                   *(live_sensor(chain) for chain in self.chains), dead_claims_sensor]
        return dg.Definitions(
            assets=[*(source.spec() for source in self.sources), *(a for name in self.scopes for a in self.scope(name)),
                    *self.analytics],
            jobs=[*jobs.values(), analytics], sensors=sensors,
            schedules=[daily_schedule(jobs[job.name], job.minute) for job in self.jobs], resources=resources,
            executor=executor)
