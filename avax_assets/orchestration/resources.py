"""The sinks' Dagster resources (Kafka, ClickHouse, the lake IO manager): their fields are their settings
models' (core/kafka.py, core/clickhouse.py, core/lake.py); the code path is the same for the embedded
defaults (local files, chDB) and for production servers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from avax_assets.core.clickhouse import ClickHouseSettings, ClickHouseWarehouse
from avax_assets.core.config import HOME, PREFLIGHT_S
from avax_assets.core.delivery import deliver
from avax_assets.core.errors import PermanentError, SettingError, SinkUnavailable
from avax_assets.core.kafka import KafkaPublisher, KafkaSettings
from avax_assets.core.lake import Lake, LakeSettings
from avax_assets.core.spool import SpooledPartition
from avax_assets.orchestration.configured import SettingsIOManager, no_local_stack_hint, settings_resource
from avax_assets.orchestration.interrupts import interrupts_not_retried


class KafkaResource(settings_resource(KafkaSettings, "kafka")):
    def settings(self) -> KafkaSettings:
        return super().settings()

    def client_config(self) -> dict:
        return self.settings().client_config()

    def publisher(self) -> KafkaPublisher:
        return self.settings().publisher()


class ClickHouseResource(settings_resource(ClickHouseSettings, "clickhouse")):
    def settings(self) -> ClickHouseSettings:
        return super().settings()

    def warehouse(self) -> ClickHouseWarehouse:
        return self.settings().warehouse()

    def reach(self, timeout_s: float = PREFLIGHT_S) -> None:
        self.settings().reach(timeout_s)


# Output metadata of an extract whose run also loads the dataset: its objects are stored as the run's
# candidates, promoted by the load once their days pass the audits (the value names that load).
AWAITS_LOAD = "awaits_load"


class ParquetLakeIOManager(settings_resource(LakeSettings, "lake_io_manager", base=SettingsIOManager)):
    """Stores each dataset partition as one Parquet object, then publishes it to Kafka unless Kafka already
    holds that content (core/delivery.py); loads it back as streaming handles.

    Its one shape, whether a run covers one day or a backfill range: an asset returns
    {partition key: spooled partition}, and an input is {partition key: stored partition}. An output marked
    AWAITS_LOAD is stored as the run's candidates; an input is the candidate of the run that stored it
    while there is one (until its load promotes it), else the object."""

    kafka: KafkaResource

    def settings(self) -> LakeSettings:
        """With the roots left unset placed under the default home (resources from the environment have them)."""
        return super().settings().under(HOME)

    def lake(self) -> Lake:
        settings = self.settings()
        return Lake(settings.root, settings.s3())

    def spool_directory(self) -> str:
        return self.settings().spool_dir

    def sink_checks(self) -> dict[str, Callable[[], None]]:
        """What `reach_sinks` runs before an extraction: the lake's bucket and the Kafka brokers."""
        return {"lake": self.lake().reach, "kafka": self.kafka.publisher().reach}

    def handle_output(self, context: dg.OutputContext, obj: dict[str, SpooledPartition]) -> None:
        lake, publisher, done = self.lake(), self.kafka.publisher(), []
        as_candidate = AWAITS_LOAD in context.output_metadata
        try:
            with interrupts_not_retried():
                for spooled in obj.values():
                    done.append(deliver(lake, publisher, spooled, context.run_id, as_candidate))
        finally:
            for spooled in obj.values():
                spooled.discard()
        paths = [d.path for d in done]
        unchanged = [d.unchanged_since for d in done if d.unchanged_since]
        context.add_output_metadata({
            **({"dagster/uri": dg.MetadataValue.url(object_url(paths[0], self.s3_endpoint_url))} if len(paths) == 1
               else {}),
            "parquet_path": dg.MetadataValue.path(paths[0]) if len(paths) == 1 else dg.MetadataValue.json(paths),
            **({"parquet_candidate": dg.MetadataValue.path(done[0].candidate) if len(done) == 1 else
                dg.MetadataValue.json([d.candidate for d in done])} if as_candidate else {}),
            "parquet_rows": sum(d.rows for d in done),
            "kafka_messages": sum(d.messages for d in done),
            **({"kafka_unchanged_since_run": unchanged[0]} if unchanged else {}),
        })

    def load_input(self, context: dg.InputContext) -> dict:
        # asset_partition_keys, not partition_key: a backfill run over a one-day range has no partition_key
        name = lake_folder(context.upstream_output)
        lake, producer = self.lake(), producing_run(context)
        with interrupts_not_retried():
            return {key: lake.stored(name, key, candidate_of=producer) for key in context.asset_partition_keys}


# Definition metadata of an extract asset: its dataset's folder in the lake (Dataset.lake_folder)
LAKE_FOLDER = "parquet_folder"


def lake_folder(output: dg.OutputContext) -> str:
    """The stored dataset's folder in the lake, as its asset declares it."""
    return output.definition_metadata.get(LAKE_FOLDER) or output.asset_key.path[-1]


def producing_run(context: dg.InputContext) -> str | None:
    """The run that stored an input in this run's lineage (this run, or the run a re-execution continues);
    None when the input comes from an earlier run's stored objects."""
    try:
        return context.upstream_output.run_id
    except dg.DagsterInvariantViolationError:  # an input this run's lineage did not produce
        return None


def object_url(path: str, s3_endpoint_url: str | None) -> str:
    """A stored object as a link a browser opens: path-style on the S3 endpoint when one is set (MinIO,
    the local server), else as the lake names it."""
    if s3_endpoint_url and path.startswith("s3://"):
        return f"{s3_endpoint_url.rstrip('/')}/{path.removeprefix('s3://')}"
    return path


def reach_sinks(checks: dict[str, Callable[[], None]]) -> None:
    """Runs the sinks' reach checks side by side (each bounded by PREFLIGHT_S) and raises one error naming
    every sink that failed: a SettingError if any refused the settings, else SinkUnavailable."""
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = {name: pool.submit(check) for name, check in checks.items()}
    failures = [future.exception() for future in futures.values() if future.exception() is not None]
    if not failures:
        return
    message = "before extracting: " + "; ".join(str(failure) for failure in failures)
    if any(not isinstance(failure, (PermanentError, SinkUnavailable)) for failure in failures):
        raise next(f for f in failures if not isinstance(f, (PermanentError, SinkUnavailable)))
    raise (SettingError if any(isinstance(f, PermanentError) for f in failures) else SinkUnavailable)(
        message + no_local_stack_hint())
