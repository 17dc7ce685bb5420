"""The asset factory: the only place `@dg.asset` is written.

A family describes each dataset with a `DatasetAsset` (what it reads, how a partition is read from its
source); the factory makes of it the extract asset and its ClickHouse load asset, with the same
decorator block, the same stage order and the same one-day-or-range shape for every dataset:

    source → local Parquet spool → the lake IO manager: Parquet on S3 (a candidate when the run loads
           the dataset), then Kafka (core/delivery.py) → ClickHouse load: staged, audited, swapped in,
           the candidate promoted

A run covers one day or, in a backfill, a range of days: the asset always hands the IO manager a spool
per partition key and always receives stored inputs per partition key. A PermanentError fails the step
without retries (Dagster's RetryPolicy then retries transient failures only).
"""

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import dagster as dg
import pyarrow as pa

from avax_assets.core.audits import AuditResult, Loaded, audits_for, gate
from avax_assets.core.chart import markdown_image
from avax_assets.core.clickhouse import BeforeSwap, ClickHouseWarehouse
from avax_assets.core.days import partition_day
from avax_assets.core.errors import AuditFailed, PermanentError
from avax_assets.core.lake import LakePartition
from avax_assets.core.processes import (bound_the_allocators, collecting_less_often, end_with_parent,
                                        hand_back_freed_memory)
from avax_assets.core.schema import Dataset, View
from avax_assets.core.spool import SpooledPartition, spool_together, sweep_stale_spools
from avax_assets.orchestration import pools
from avax_assets.orchestration.configured import SettingsResource, chain_key, lean_memory
from avax_assets.orchestration.interrupts import interrupts_not_retried
from avax_assets.orchestration.partitions import Partitions, backfill_policy
from avax_assets.orchestration.resources import AWAITS_LOAD, LAKE_FOLDER, reach_sinks

PREVIEW_ROWS = 5
OWNERS = ("team:avax-assets",)
# A ClickHouse load is fresh when the newest complete day is in by 03:00 UTC (the schedules run 00:05-00:50).
FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 3 * * *", lower_bound_delta=dt.timedelta(hours=3))

# partition key → that partition's batches; a family's source yields one of these per run
PartitionReader = Callable[[str], Iterable[pa.RecordBatch]]
# partition key → that partition's chunks of datasets extracted together, {dataset name: batch} each
JointReader = Callable[[str], Iterable[dict[str, pa.RecordBatch]]]


@dataclass(frozen=True)
class ExtractCheck:
    """A check the source evaluates while it extracts (it calls `Run.check` for every partition)."""

    name: str
    description: str
    warn_only: bool = False


R = TypeVar("R", bound=SettingsResource)


@dataclass
class Run:
    """What a source sees of its Dagster run."""

    resources: object  # the run's resources (Dagster's): a source asks for its own by kind, `resource(kind)`
    log: dg.DagsterLogManager  # the run's logger
    run_id: str
    partition_keys: list[str]
    inputs: dict[str, dict[str, LakePartition]]  # input dataset name → partition key → stored partition
    metadata: dict = field(default_factory=dict)  # for the whole run
    notes: dict[str, dict] = field(default_factory=dict)  # per partition
    # (dataset, check) → partition → result; dataset None: the asset's own (see `check`)
    outcomes: dict[tuple[str | None, str], dict[str, AuditResult]] = field(default_factory=dict)
    chain: str | None = None  # the configured chain the asset is of (None: the home chain)
    chain_id: int | None = None  # its dataset's chain id, for a chain's dataset

    def resource(self, kind: type[R]) -> R:
        """The run's resource of this kind (one the asset declared in `DatasetAsset.resources`; a per-chain
        kind's, the asset's chain's)."""
        found = getattr(self.resources, chain_key(kind, self.chain))
        if not isinstance(found, kind):
            raise TypeError(f"the resource {kind.key!r} is a {type(found).__name__}, not a {kind.__name__}")
        return found

    def note(self, partition: str, **metadata: Any) -> None:
        self.notes.setdefault(partition, {}).update(metadata)

    def check(self, name: str, partition: str, result: AuditResult, dataset: str | None = None) -> None:
        """A check's result for a partition. `dataset` says whose check it is where one step extracts several
        datasets (a joint step); None: the asset's own."""
        self.outcomes.setdefault((dataset, name), {})[partition] = result

    def outcomes_of(self, dataset: str, name: str) -> dict[str, AuditResult]:
        return self.outcomes.get((dataset, name)) or self.outcomes[(None, name)]


@dataclass(frozen=True)
class SourceSystem:
    """An outside system a family reads: an external asset upstream of its extracts in the lineage."""

    name: str
    description: str
    kinds: tuple[str, ...] = ()
    per_chain: str | None = None  # each configured chain has its own (a chain's node), named so: "{chain}_rpc"

    def of_chain(self, chain: str | None) -> "SourceSystem":
        if not (chain and self.per_chain):
            return self
        return replace(self, name=self.per_chain.format(chain=chain),
                       description=f"{self.description} Chain {chain}: its AVAX_{chain.upper()}_… variables.")

    def spec(self) -> dg.AssetSpec:
        return dg.AssetSpec(self.name, description=self.description, group_name="sources", kinds=set(self.kinds),
                            owners=list(OWNERS))


@dataclass(frozen=True)
class DatasetAsset:
    """What a family tells the factory about one dataset's asset.

    origin     how the data is made, for the asset's description ("Extracted over JSON-RPC")
    source     opened once per run; gives the reader of each partition of the run
    resources  the resources the source uses (Kafka and the lake are the factory's)
    inputs     datasets whose stored partitions the source reads (`Run.inputs`)
    reads      the outside system it extracts from (none when it only reads stored inputs)
    group      the domain: a dataset's extract and load assets share it
    """

    dataset: Dataset
    group: str
    origin: str
    source: Callable[[Run], AbstractContextManager[PartitionReader]]
    resources: tuple[type[SettingsResource], ...] = ()
    inputs: tuple[Dataset, ...] = ()
    pool: str | None = None
    kinds: tuple[str, ...] = ("python",)
    checks: tuple[ExtractCheck, ...] = ()
    reads: SourceSystem | None = None
    chain: str | None = None  # the configured chain it is of (None: the home chain)

    def on_chain(self, chain: "OnChain") -> "DatasetAsset":
        """The same asset for a configured chain: its datasets bound to the chain, its key prefix, group, RPC
        pool, source system and resources the chain's."""
        return replace(self, dataset=chain.bind(self.dataset), inputs=tuple(chain.bind(d) for d in self.inputs),
                       group=f"{chain.name}_{self.group}" if chain.name else self.group,
                       pool=pools.of_chain(self.pool, chain.name), reads=self.reads and self.reads.of_chain(chain.name),
                       chain=chain.name)


@dataclass(frozen=True)
class OnChain:
    """A configured EVM chain, as the factory makes its assets: its name (None for the home chain, whose assets
    keep unprefixed keys) and chain id."""

    name: str | None
    chain_id: int

    @property
    def prefix(self) -> tuple[str, ...]:
        return (self.name,) if self.name else ()

    def bind(self, dataset: Dataset) -> Dataset:
        return dataset if dataset.chain_id is None else dataset.on(self.chain_id, self.prefix)


@dataclass(frozen=True)
class JointAsset:
    """Datasets one pass over their source gives together (the C-Chain's full blocks and receipts hold the
    blocks, the transactions and the logs). One Dagster step extracts any selection of them; each stays an
    asset of its own, with its description, topic, table and load (a multi-asset that can be subset).

    name     the step's name
    members  the datasets' DatasetAssets: one partitioning, pool and source system, no inputs; each member's
             checks are the step's, evaluated by the source for that member (`Run.check(..., dataset=)`)
    source   opened once per run for the selected members' datasets; gives the reader of each partition
    """

    name: str
    members: tuple[DatasetAsset, ...]
    source: Callable[[Run, tuple[Dataset, ...]], AbstractContextManager[JointReader]]

    def on_chain(self, chain: "OnChain") -> "JointAsset":
        return replace(self, members=tuple(m.on_chain(chain) for m in self.members))

    @property
    def op_name(self) -> str:
        return "__".join([*self.members[0].dataset.asset_prefix, self.name])

    def __post_init__(self) -> None:
        first = self.members[0]
        for member in self.members:
            if member.inputs:
                raise ValueError(f"{self.name}: {member.dataset.name} has inputs, which a joint step does not take")
            if (member.pool, member.reads, member.group, member.dataset.days_per_backfill_run) != \
                    (first.pool, first.reads, first.group, first.dataset.days_per_backfill_run):
                raise ValueError(f"{self.name}: {member.dataset.name} differs from {first.dataset.name} in pool, "
                                 "source system, group or backfill size")


PartitionSource = Callable[[Run], AbstractContextManager[PartitionReader]]


def stateless(read: Callable[[Run, str], Iterable[pa.RecordBatch]]) -> PartitionSource:
    """A source that needs nothing opened for the run."""

    @contextmanager
    def source(run: Run) -> Iterator[PartitionReader]:
        yield lambda partition: read(run, partition)

    return source


# --- metadata -----------------------------------------------------------------------------------

def column_schema(dataset: Dataset) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.clickhouse_type, description=c.meaning or None) for c in dataset.columns
    ])


def code_version(dataset: Dataset) -> str:
    """Changes exactly when what the dataset stores changes (its columns, key, topic or table)."""
    shape = [dataset.name, dataset.topic, dataset.table, list(dataset.key),
             [(c.name, c.clickhouse_type) for c in dataset.columns]]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:12]


def declaration_metadata(dataset: Dataset) -> dict:
    return {
        "kafka_topic": dataset.topic,
        LAKE_FOLDER: dataset.lake_folder,
        "natural_key": ", ".join(dataset.key),
        "clickhouse_table": dataset.table,
        "dagster/column_schema": column_schema(dataset),
    }


def _cell(value: Any) -> str | int | float | bool | None:
    """A preview cell the UI shows as it is: integers past 2^53 (JavaScript's exact limit) as text."""
    if value is None or isinstance(value, (bool, float, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return json.dumps(value, default=str)


def preview_metadata(spooled: SpooledPartition) -> dg.MetadataValue:
    """The partition's first rows as a table the UI renders (scrolls, not cut off)."""
    batch = next(spooled.iter_batches(PREVIEW_ROWS), None)
    rows = [] if batch is None else batch.slice(0, PREVIEW_ROWS).to_pylist()
    return dg.MetadataValue.table([dg.TableRecord({k: _cell(v) for k, v in row.items()}) for row in rows],
                                  schema=column_schema(spooled.dataset))


def _partition_metadata(notes: dict[str, dict]) -> dict:
    """A one-day run shows its partition's notes as they are; a range run lists them per day."""
    if len(notes) == 1:
        return next(iter(notes.values()))
    return {"partition_details": dg.MetadataValue.json(notes)} if notes else {}


def check_result(name: str, outcomes: dict[str, AuditResult], warn_only: bool = False,
                 asset: str | None = None) -> dg.AssetCheckResult:
    """One check over the run's partitions: it passes when every partition passes, and shows the
    first failing partition's details (or the only partition's). `asset`: whose, in a step of several."""
    failed = [partition for partition, outcome in outcomes.items() if not outcome.passed]
    shown = outcomes[failed[0]] if failed else next(iter(outcomes.values()))
    metadata = dict(shown.metadata)
    if len(outcomes) > 1:
        metadata.update({"partitions": len(outcomes), "failed_partitions": dg.MetadataValue.json(failed)})
    severity = dg.AssetCheckSeverity.WARN if warn_only else dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(check_name=name, passed=not failed, metadata=metadata, severity=severity,
                               asset_key=dg.AssetKey(asset) if asset else None)


@contextmanager
def step() -> Iterator[None]:
    """Every asset body runs inside this. A permanent failure ends the step for good (anything else stays
    retryable by the job's policy), and a step process ends with its run worker if that is killed."""
    if lean_memory():
        bound_the_allocators()
    end_with_parent()
    try:
        with interrupts_not_retried(), collecting_less_often():
            yield
    except PermanentError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    finally:
        hand_back_freed_memory()


# --- the stages ---------------------------------------------------------------------------------

def discard(spools: dict[str, SpooledPartition]) -> None:
    for spooled in spools.values():
        spooled.discard()


def extract(spec: DatasetAsset, run: Run, spool_dir: str) -> dict[str, SpooledPartition]:
    """Every partition of the run read from the source into its own spool."""
    @contextmanager
    def chunks() -> Iterator[JointReader]:
        with spec.source(run) as read:
            yield lambda partition: ({spec.dataset.name: batch} for batch in read(partition))

    return spool_partitions((spec.dataset,), chunks(), run, spool_dir)[spec.dataset.name]


def spool_partitions(datasets: tuple[Dataset, ...], source: AbstractContextManager[JointReader], run: Run,
                     spool_dir: str) -> dict[str, dict[str, SpooledPartition]]:
    """Every partition of the run read from the source into one spool per dataset: dataset name →
    partition key → spool. On any failure, nothing is left behind."""
    for stale in sweep_stale_spools(spool_dir):
        run.log.info(f"removed the spool of a process that is gone: {stale.name}")
    spools: dict[str, dict[str, SpooledPartition]] = {dataset.name: {} for dataset in datasets}
    try:
        with source as read:
            for partition in run.partition_keys:
                for name, spooled in spool_together(datasets, partition, read(partition), run.log, spool_dir).items():
                    spools[name][partition] = spooled
    except BaseException:
        for by_partition in spools.values():
            discard(by_partition)
        raise
    return spools


def extract_metadata(spools: dict[str, SpooledPartition], run: Run) -> dict:
    return {"dagster/row_count": sum(s.rows for s in spools.values()),
            **({"partitions": len(spools)} if len(spools) > 1 else {}),
            **run.metadata, **_partition_metadata(run.notes), "preview": preview_metadata(next(iter(spools.values())))}


def loads_in_run(context: dg.AssetExecutionContext, dataset: Dataset) -> bool:
    return load_key(dataset) in context.job_def.asset_layer.selected_asset_keys


def reach_sinks_of(context: dg.AssetExecutionContext, *datasets: Dataset) -> None:
    """Fail in seconds, not after a day's extraction: the lake and Kafka, and ClickHouse when this run
    also loads one of the datasets, must answer first."""
    checks = context.resources.lake_io_manager.sink_checks()
    if any(loads_in_run(context, dataset) for dataset in datasets):
        checks["clickhouse"] = context.resources.clickhouse.reach
    reach_sinks(checks)


def storing(context: dg.AssetExecutionContext, dataset: Dataset) -> dict:
    """How the lake stores the output: as the run's candidates when the run also loads the dataset (its load
    promotes each day that passes the audits), else as the objects themselves."""
    return {AWAITS_LOAD: load_key(dataset).to_user_string()} if loads_in_run(context, dataset) else {}


# --- the assets ---------------------------------------------------------------------------------

def extract_asset(spec: DatasetAsset, partitions: Partitions) -> dg.AssetsDefinition:
    dataset = spec.dataset
    inputs = {source.name: source for source in spec.inputs}

    @dg.asset(
        name=dataset.name,
        key_prefix=list(dataset.asset_prefix) or None,
        ins={name: dg.AssetIn(key=extract_key(source)) for name, source in inputs.items()},
        **extract_step_attributes(spec, partitions),
        **extract_asset_attributes(spec),
        required_resource_keys={"lake_io_manager", "clickhouse", *resource_keys(spec)},
        check_specs=[dg.AssetCheckSpec(check.name, asset=extract_key(dataset), description=check.description)
                     for check in spec.checks],
    )
    def _extract(context: dg.AssetExecutionContext, **stored):
        with step():
            run = Run(context.resources, context.log, context.run.run_id, list(context.partition_keys),
                      {name: {key: part.conformed_to(inputs[name]) for key, part in parts.items()}
                       for name, parts in stored.items()}, chain=spec.chain, chain_id=dataset.chain_id)
            reach_sinks_of(context, dataset)
            spools = extract(spec, run, context.resources.lake_io_manager.spool_directory())
            metadata = {**extract_metadata(spools, run), **storing(context, dataset)}
            checks = [check_result(check.name, run.outcomes_of(dataset.name, check.name), check.warn_only)
                      for check in spec.checks]
        yield dg.Output(spools, metadata=metadata)
        yield from checks

    return _extract


def resource_keys(spec: DatasetAsset) -> set[str]:
    """The keys of the resources a spec's source uses (a per-chain kind's: its chain's)."""
    return {chain_key(kind, spec.chain) for kind in spec.resources}


def extract_key(dataset: Dataset) -> dg.AssetKey:
    """The key of a dataset's extract asset."""
    return dg.AssetKey([*dataset.asset_prefix, dataset.name])


def extract_asset_attributes(spec: DatasetAsset) -> dict:
    """What an extract asset shows of its dataset, alone or as a member of a joint step."""
    dataset = spec.dataset
    return {"description": f"{dataset.description} {spec.origin}, published to Kafka `{dataset.topic}`, stored as "
                           "Parquet.",
            "io_manager_key": "lake_io_manager", "group_name": spec.group, "kinds": {*spec.kinds, "kafka", "parquet"},
            "owners": list(OWNERS), "code_version": code_version(dataset), "metadata": declaration_metadata(dataset)}


def extract_step_attributes(spec: DatasetAsset, partitions: Partitions) -> dict:
    """How the step extracting the dataset runs (a joint step's members agree on these). Its stored inputs
    are read once their loads (when in the run) have audited and promoted them: never a refused day."""
    deps = [*([spec.reads.name] if spec.reads else []), *(load_key(source) for source in spec.inputs)]
    return {"deps": deps, "partitions_def": partitions.of(spec.dataset),
            "backfill_policy": backfill_policy(spec.dataset.days_per_backfill_run), "pool": spec.pool}


def joint_extract_asset(joint: JointAsset, partitions: Partitions) -> dg.AssetsDefinition:
    """One step extracting the selected members of a joint (a multi-asset: any subset can be materialized)."""
    first = joint.members[0]

    @dg.multi_asset(
        name=joint.op_name,
        description=f"{', '.join(m.dataset.name for m in joint.members)}: extracted together, in one pass over "
                    "their source.",
        outs={m.dataset.name: dg.AssetOut(key=extract_key(m.dataset), is_required=False,
                                          **extract_asset_attributes(m))
              for m in joint.members},
        **extract_step_attributes(first, partitions),
        can_subset=True,
        required_resource_keys={"lake_io_manager", "clickhouse", *(k for m in joint.members for k in resource_keys(m))},
        check_specs=[dg.AssetCheckSpec(check.name, asset=extract_key(m.dataset), description=check.description)
                     for m in joint.members for check in m.checks],
    )
    def _extract(context: dg.AssetExecutionContext):
        with step():
            selected = context.selected_asset_keys
            datasets = tuple(m.dataset for m in joint.members if extract_key(m.dataset) in selected)
            run = Run(context.resources, context.log, context.run.run_id, list(context.partition_keys), {},
                      chain=first.chain, chain_id=first.dataset.chain_id)
            reach_sinks_of(context, *datasets)
            spools = spool_partitions(datasets, joint.source(run, datasets), run,
                                      context.resources.lake_io_manager.spool_directory())
            members = {dataset.name: dataset for dataset in datasets}
            outputs = [(name, by_partition, {**extract_metadata(by_partition, run), **storing(context, members[name])})
                       for name, by_partition in spools.items()]
        try:
            checks = [check_result(check.name, run.outcomes_of(m.dataset.name, check.name), check.warn_only,
                                   m.dataset.name) for m in joint.members if m.dataset in datasets for check in m.checks
                      if dg.AssetCheckKey(dg.AssetKey(m.dataset.name), check.name) in context.selected_asset_check_keys]
            for name, by_partition, metadata in outputs:
                yield dg.Output(by_partition, output_name=name, metadata=metadata)
            yield from checks
        finally:  # a member not stored (the step failed storing another) leaves no spool behind
            for by_partition in spools.values():
                discard(by_partition)

    return _extract


def extract_assets(specs: Iterable[DatasetAsset], joints: Iterable[JointAsset],
                   partitions: Partitions) -> list[dg.AssetsDefinition]:
    """A family's extract assets: one step per joint, one asset for every other dataset."""
    joints = tuple(joints)
    together = {m.dataset.name for joint in joints for m in joint.members}
    return [*(joint_extract_asset(joint, partitions) for joint in joints),
            *(extract_asset(spec, partitions) for spec in specs if spec.dataset.name not in together)]


def load_key(dataset: Dataset) -> dg.AssetKey:
    """The key of a dataset's ClickHouse load asset."""
    return dg.AssetKey([*dataset.asset_prefix, f"clickhouse_{dataset.name}"])


def load_asset(spec: DatasetAsset, partitions: Partitions) -> dg.AssetsDefinition:
    """The dataset's ClickHouse table: each stored partition staged, audited there (blocking), and swapped in
    whole only when every audit passes; then its lake candidate, if it is one, is promoted."""
    dataset = spec.dataset
    audits = audits_for(dataset)
    asset_key = load_key(dataset)

    @dg.asset(
        key=asset_key,
        description=f"`{dataset.table}` in ClickHouse: the `{dataset.name}` Parquet partition swapped in whole, "
                    "once it passes its audits" + (f" (the rows of chain {dataset.chain_id})." if dataset.chain_id
                                                   is not None else "."),
        ins={"stored": dg.AssetIn(key=extract_key(dataset))},
        deps=[load_key(dataset.parent.dataset)] if dataset.parent else [],
        partitions_def=partitions.of(dataset),
        backfill_policy=backfill_policy(dataset.days_per_backfill_run),
        group_name=spec.group,
        pool=pools.CLICKHOUSE,
        kinds={"clickhouse"},
        owners=list(OWNERS),
        code_version=code_version(dataset),
        freshness_policy=FRESHNESS,
        metadata={"clickhouse_table": dataset.table, "dagster/column_schema": column_schema(dataset)},
        required_resource_keys={"clickhouse"},
        check_specs=[dg.AssetCheckSpec(name, asset=asset_key, blocking=True, description=audit.__doc__)
                     for name, audit in audits.items()],
    )
    def _load(context: dg.AssetExecutionContext, stored: dict[str, LakePartition]):
        with step():
            warehouse = context.resources.clickhouse.warehouse()
            outcomes: dict[str, dict[str, AuditResult]] = {name: {} for name in audits}
            rows, paths, refused = 0, [], []
            for partition, part in stored.items():
                part, day, results = part.conformed_to(dataset), partition_day(partition), {}
                try:
                    rows += load_partition(warehouse, dataset, day, part,
                                           gate(audits, Loaded(warehouse, dataset, day, part.num_rows), results))
                except AuditFailed as failed:
                    refused.append(f"{failed}{'; the refused object stays at ' + part.path if part.canonical else ''}")
                else:
                    paths.append(part.promote().path)
                finally:
                    for name, result in results.items():
                        outcomes[name][partition] = result
        checks = [check_result(name, by_partition) for name, by_partition in outcomes.items() if by_partition]
        if refused:  # the checks say what failed; the step fails with it in one line
            yield from checks
            raise dg.Failure(description=f"{warehouse.qualified(dataset.table)} refused before the swap (the table "
                                         "and the lake object keep the partition they had): " + " | ".join(refused),
                             allow_retries=False)
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": rows,
            "dagster/table_name": f"{warehouse.database}.{dataset.table}",
            "source": dg.MetadataValue.path(paths[0]) if len(paths) == 1 else dg.MetadataValue.json(paths),
        }, check_results=checks)

    return _load


def load_partition(warehouse: ClickHouseWarehouse, dataset: Dataset, day: dt.date, part: LakePartition,
                   before_swap: BeforeSwap) -> int:
    """One stored partition into the table through its staging table, swapped in only if `before_swap` lets it;
    the embedded engine held for the day (the live consumer goes between days)."""
    with warehouse.session():
        if warehouse.reads_lake and part.stored_as(dataset):  # the engine reads the object itself
            return warehouse.replace_partition_from(dataset, day, part.parquet_source(), before_swap)
        return warehouse.replace_partition(dataset, day, part.iter_batches(), before_swap)


def dataset_assets(spec: DatasetAsset, partitions: Partitions) -> list[dg.AssetsDefinition]:
    """The extract asset of a dataset and its ClickHouse load."""
    return [extract_asset(spec, partitions), load_asset(spec, partitions)]


# --- views --------------------------------------------------------------------------------------

def view_asset(view: View) -> dg.AssetsDefinition:
    @dg.asset(name=view.name, description=view.description, deps=[load_key(d) for d in view.reads],
              group_name="analytics", pool=pools.CLICKHOUSE, kinds={"clickhouse"}, owners=list(OWNERS),
              required_resource_keys={"clickhouse"})
    def _view(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with step():
            warehouse = context.resources.clickhouse.warehouse()
            sql = view.select.format(db=warehouse.database)
            with warehouse.session():
                rows, chart = _create_view(warehouse, view, sql)
        return dg.MaterializeResult(metadata={"dagster/row_count": rows,
                                              "dagster/table_name": warehouse.qualified(view.name), **chart,
                                              "sql": dg.MetadataValue.md(f"```sql\n{sql.strip()}\n```")})

    return _view


def _create_view(warehouse, view: View, sql: str) -> tuple[int, dict]:
    """(Re)create the view (over empty tables for datasets no day of which is loaded yet); its row count and,
    when it has one, its chart."""
    for dataset in view.reads:
        warehouse.ensure_table(dataset)
    rows = warehouse.create_view(view.name, sql)
    if not view.chart:
        return rows, {}
    points = warehouse.client.query(view.chart.query(warehouse.qualified(view.name))).result_rows
    return rows, {"chart": dg.MetadataValue.md(markdown_image(view.chart.png(points), view.chart.title))}
