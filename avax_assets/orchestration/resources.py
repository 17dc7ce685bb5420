"""Dagster resources: every endpoint and secret comes from configuration, the code path is the same for
the embedded defaults (local files, chDB) and for production servers. Defaults come from
core/settings.py; enumerated settings are Enums, checked when the resource is built."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Optional

import dagster as dg

from avax_assets.avacloud.client import AvaCloudClient
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.clickhouse import ClickHouseWarehouse, chdb_client
from avax_assets.core.delivery import deliver
from avax_assets.core.errors import PermanentError, SettingError, SinkUnavailable
from avax_assets.core.kafka import KafkaPublisher
from avax_assets.core.lake import Lake
from avax_assets.core.schema import checked_identifier
from avax_assets.core.settings import (AVACLOUD, CLICKHOUSE, GRAPH_GATEWAY_URL, KAFKA, LAKE, LIVE, PREFLIGHT_S, RPC,
                                       SUBGRAPH, LiveSettings,
                                       AvaCloudNetwork, AvaCloudSettings, BlocksSource, KafkaSecurityProtocol,
                                       ReceiptsMethod, RpcSettings, S3Settings, SaslMechanism, SubgraphSettings,
                                       TraceMethod)
from avax_assets.core.spool import SpooledPartition
from avax_assets.subgraphs.client import SubgraphClient


class ChainRpcResource(dg.ConfigurableResource):
    """C-Chain JSON-RPC. The public node allows batches of 40 and eth_getLogs over 2048 blocks, and
    serves no traces: internal transactions need `trace_url` (or `url`) on a node with the debug or
    trace API; `trace_method` picks debug_traceBlockByNumber, trace_block, or auto (debug, then trace)."""

    url: str = RPC.url
    trace_url: Optional[str] = None
    trace_method: TraceMethod = TraceMethod.auto
    batch_size: int = RPC.batch_size
    concurrency: int = RPC.concurrency
    logs_block_range: int = RPC.logs_block_range
    chunk_blocks: int = RPC.chunk_blocks
    trace_batch_size: int = RPC.trace_batch_size
    receipts: ReceiptsMethod = ReceiptsMethod.auto
    timeout_s: float = RPC.patience.timeout_s
    max_attempts: int = RPC.patience.max_attempts
    backoff_base_s: float = RPC.patience.backoff_base_s
    deadline_s: float = RPC.patience.deadline_s
    max_response_mb: float = RPC.patience.max_response_bytes / 2**20
    blocks_source: BlocksSource = BlocksSource.rpc

    def uses_data_api(self) -> bool:
        return BlocksSource(self.blocks_source) is BlocksSource.data_api

    def settings(self, url: str | None = None) -> RpcSettings:
        return RpcSettings(url=url or self.url, batch_size=self.batch_size, concurrency=self.concurrency,
                           logs_block_range=self.logs_block_range, chunk_blocks=self.chunk_blocks,
                           trace_batch_size=self.trace_batch_size,
                           patience=replace(RPC.patience, timeout_s=self.timeout_s, max_attempts=self.max_attempts,
                                            backoff_base_s=self.backoff_base_s, deadline_s=self.deadline_s,
                                            max_response_bytes=int(self.max_response_mb * 2**20)))

    @contextmanager
    def reader(self) -> Iterator[ChainReader]:
        with ExitStack() as stack:
            client = stack.enter_context(JsonRpcClient(self.settings()))
            tracer = stack.enter_context(JsonRpcClient(self.settings(self.trace_url))) if self.trace_url else None
            yield ChainReader(client, logs_block_range=self.logs_block_range, receipts=self.receipts,
                              trace_client=tracer, trace_method=self.trace_method)


class AvaCloudResource(dg.ConfigurableResource):
    """AvaCloud Data and Metrics APIs. The key raises rate limits; `cu_per_minute` is the plan's
    compute-unit budget (6,000 unauthenticated; 8,000 / 10,000 / 14,000 / 20,000 on paid tiers)."""

    data_url: str = AVACLOUD.data_url
    metrics_url: str = AVACLOUD.metrics_url
    api_key: Optional[str] = None
    cu_per_minute: int = AVACLOUD.cu_per_minute
    network: AvaCloudNetwork = AvaCloudNetwork.mainnet
    metric_chain_ids: list[str] = ["43114", "total"]
    page_size: int = AVACLOUD.page_size
    max_pages: int = AVACLOUD.max_pages
    timeout_s: float = AVACLOUD.patience.timeout_s
    max_attempts: int = AVACLOUD.patience.max_attempts

    def network_name(self) -> str:
        return AvaCloudNetwork(self.network).value

    @contextmanager
    def client(self) -> Iterator[AvaCloudClient]:
        settings = AvaCloudSettings(data_url=self.data_url, metrics_url=self.metrics_url, api_key=self.api_key,
                                    cu_per_minute=self.cu_per_minute, page_size=self.page_size,
                                    max_pages=self.max_pages,
                                    patience=replace(AVACLOUD.patience, timeout_s=self.timeout_s,
                                                     max_attempts=self.max_attempts))
        with AvaCloudClient(settings) as client:
            yield client


class SubgraphResource(dg.ConfigurableResource):
    """The Graph's gateway. The key travels as `Authorization: Bearer`, never in a URL; `subgraph_ids`
    maps a declared subgraph (e.g. `traderjoe-v2`) to its deployment's subgraph id."""

    gateway_url: str = GRAPH_GATEWAY_URL
    api_key: Optional[str] = None
    subgraph_ids: dict[str, str] = {}
    page_size: int = SUBGRAPH.page_size
    timeout_s: float = SUBGRAPH.patience.timeout_s
    max_attempts: int = SUBGRAPH.patience.max_attempts

    @contextmanager
    def client(self, subgraph: str) -> Iterator[SubgraphClient]:
        subgraph_id = self.subgraph_ids.get(subgraph)
        if not subgraph_id:
            raise SettingError(f"no subgraph id for '{subgraph}': set AVAX_SUBGRAPH_IDS={subgraph}=<subgraph id>")
        settings = SubgraphSettings(url=f"{self.gateway_url.rstrip('/')}/subgraphs/id/{subgraph_id}",
                                    api_key=self.api_key, page_size=self.page_size,
                                    patience=replace(SUBGRAPH.patience, timeout_s=self.timeout_s,
                                                     max_attempts=self.max_attempts))
        with SubgraphClient(settings) as client:
            yield client


class KafkaResource(dg.ConfigurableResource):
    """Any Kafka-protocol broker (Kafka, Redpanda, Tansu)."""

    bootstrap_servers: str = KAFKA.bootstrap_servers
    security_protocol: Optional[KafkaSecurityProtocol] = None
    sasl_mechanism: Optional[SaslMechanism] = None
    sasl_username: Optional[str] = None
    sasl_password: Optional[str] = None
    topic_partitions: int = KAFKA.topic_partitions
    replication_factor: int = KAFKA.replication_factor
    timeout_s: float = KAFKA.timeout_s

    def client_config(self) -> dict:
        optional = {
            "security.protocol": self.security_protocol and KafkaSecurityProtocol(self.security_protocol).value,
            "sasl.mechanism": self.sasl_mechanism and SaslMechanism(self.sasl_mechanism).value,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
        }
        return {"bootstrap.servers": self.bootstrap_servers, **{k: v for k, v in optional.items() if v}}

    def publisher(self) -> KafkaPublisher:
        return KafkaPublisher(self.client_config(), self.topic_partitions, self.replication_factor, self.timeout_s)


class ClickHouseResource(dg.ConfigurableResource):
    """A ClickHouse server over HTTP when `host` is set, else the embedded engine (chDB) in `chdb_path`."""

    host: Optional[str] = None
    port: int = CLICKHOUSE.port
    username: str = CLICKHOUSE.username
    password: Optional[str] = None
    secure: bool = CLICKHOUSE.secure
    database: str = CLICKHOUSE.database
    chdb_path: str = CLICKHOUSE.chdb_path
    chdb_lock_wait_s: float = CLICKHOUSE.chdb_lock_wait_s

    def warehouse(self) -> ClickHouseWarehouse:
        if self.host:
            return ClickHouseWarehouse(self._server_client(), self.database)
        client = chdb_client(str(Path(self.chdb_path).resolve()), self.chdb_lock_wait_s)
        return ClickHouseWarehouse(client, self.database, reads_lake=True)

    def reach(self, timeout_s: float = PREFLIGHT_S) -> None:
        """A server answers `SELECT 1` within `timeout_s`; the embedded engine's directory can be written.
        (The embedded engine is not opened here: that would hold its directory for this process.)"""
        try:
            checked_identifier(self.database)
        except ValueError:
            raise SettingError(f"the ClickHouse database {self.database!r} (AVAX_CLICKHOUSE_DATABASE) is not an "
                               "identifier (letters, digits, underscores, not starting with a digit)") from None
        if not self.host:
            path = Path(self.chdb_path).resolve()
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SettingError(f"the embedded ClickHouse directory {path} (AVAX_CLICKHOUSE_CHDB_PATH) "
                                   f"cannot be created: {exc.strerror}") from None
            if not os.access(path, os.W_OK):
                raise SettingError(f"the embedded ClickHouse directory {path} (AVAX_CLICKHOUSE_CHDB_PATH) "
                                   "is not writable")
            return
        where = (f"ClickHouse at {'https' if self.secure else 'http'}://{self.host}:{self.port} "
                 "(AVAX_CLICKHOUSE_HOST, AVAX_CLICKHOUSE_PORT)")
        try:
            self._server_client(timeout_s).command("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - the driver raises several kinds; each is reported by name
            text = str(exc)
            if "Authentication" in text or "AUTHENTICATION" in text or "516" in text:
                raise SettingError(f"{where} refused user {self.username!r}: check AVAX_CLICKHOUSE_USER and "
                                   "AVAX_CLICKHOUSE_PASSWORD") from None
            raise SinkUnavailable(f"{where} did not answer within {timeout_s:g} s ({type(exc).__name__})") from None

    def _server_client(self, timeout_s: float | None = None):
        import clickhouse_connect

        timeouts = {"connect_timeout": timeout_s, "send_receive_timeout": timeout_s} if timeout_s else {}
        return clickhouse_connect.get_client(host=self.host, port=self.port, username=self.username,
                                             password=self.password or "", secure=self.secure, **timeouts)


class LiveResource(dg.ConfigurableResource):
    """The live path's settings (avax_assets/live/): its follower and consumer run as services, not in runs;
    the live sensor reads their progress from ClickHouse."""

    poll_s: float = LIVE.poll_s
    step_blocks: int = LIVE.step_blocks
    traces: bool = LIVE.traces
    start_block: Optional[int] = LIVE.start_block
    websocket_url: Optional[str] = LIVE.websocket_url
    group_id: str = LIVE.group_id
    batch_messages: int = LIVE.batch_messages
    batch_wait_s: float = LIVE.batch_wait_s
    session_timeout_s: float = LIVE.session_timeout_s

    def settings(self) -> LiveSettings:
        return LiveSettings(**{name: getattr(self, name) for name in LiveSettings.__dataclass_fields__})


class ParquetLakeIOManager(dg.ConfigurableIOManager):
    """Stores each dataset partition as one Parquet object, then publishes it to Kafka unless Kafka already
    holds that content (core/delivery.py); loads it back as streaming handles.

    Its one shape, whether a run covers one day or a backfill range: an asset returns
    {partition key: spooled partition}, and an input is {partition key: stored partition}."""

    kafka: KafkaResource
    root: str = LAKE.root
    s3_endpoint_url: Optional[str] = None
    s3_access_key_id: Optional[str] = None
    s3_secret_access_key: Optional[str] = None
    s3_region: str = LAKE.s3.region
    s3_timeout_s: float = LAKE.s3.timeout_s
    spool_dir: str = LAKE.spool_dir

    def lake(self) -> Lake:
        s3 = S3Settings(self.s3_endpoint_url, self.s3_access_key_id, self.s3_secret_access_key, self.s3_region,
                        self.s3_timeout_s)
        return Lake(self.root, s3)

    def sink_checks(self) -> dict[str, Callable[[], None]]:
        """What `reach_sinks` runs before an extraction: the lake's bucket and the Kafka brokers."""
        return {"lake": self.lake().reach, "kafka": self.kafka.publisher().reach}

    def handle_output(self, context: dg.OutputContext, obj: dict[str, SpooledPartition]) -> None:
        lake, publisher, done = self.lake(), self.kafka.publisher(), []
        try:
            for spooled in obj.values():
                done.append(deliver(lake, publisher, spooled, context.run_id))
        finally:
            for spooled in obj.values():
                spooled.discard()
        paths = [d.path for d in done]
        unchanged = [d.unchanged_since for d in done if d.unchanged_since]
        context.add_output_metadata({
            **({"dagster/uri": dg.MetadataValue.url(object_url(paths[0], self.s3_endpoint_url))} if len(paths) == 1
               else {}),
            "parquet_path": dg.MetadataValue.path(paths[0]) if len(paths) == 1 else dg.MetadataValue.json(paths),
            "parquet_rows": sum(d.rows for d in done),
            "kafka_messages": sum(d.messages for d in done),
            **({"kafka_unchanged_since_run": unchanged[0]} if unchanged else {}),
        })

    def load_input(self, context: dg.InputContext) -> dict:
        # asset_partition_keys, not partition_key: a backfill run over a one-day range has no partition_key
        name = context.upstream_output.asset_key.path[-1]  # the lake's folder is the asset's name
        lake = self.lake()
        return {key: lake.stored(name, key) for key in context.asset_partition_keys}


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
    raise (SettingError if any(isinstance(f, PermanentError) for f in failures) else SinkUnavailable)(message)
