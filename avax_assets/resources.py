"""Dagster resources: every endpoint and secret comes from configuration, the code path is the same
for the embedded defaults (local files, chDB) and for production servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Optional

import dagster as dg

from avax_assets.datasets import ALL_DATASETS
from avax_assets.sinks.clickhouse import ClickHouseWarehouse, chdb_client
from avax_assets.sinks.kafka import KafkaPublisher
from avax_assets.sinks.lake import Lake, S3Settings
from avax_assets.sinks.spool import SpooledPartition
from avax_assets.sources.avacloud import AvaCloudClient, AvaCloudSettings
from avax_assets.sources.chain import ChainReader
from avax_assets.sources.rpc import JsonRpcClient, RpcSettings
from avax_assets.sources.subgraph import SubgraphClient, SubgraphSettings


class ChainRpcResource(dg.ConfigurableResource):
    """C-Chain JSON-RPC. The public node allows batches of 40 and eth_getLogs over 2048 blocks, and
    serves no traces: internal transactions need `trace_url` (or `url`) on a node with the debug or
    trace API; `trace_method` picks debug_traceBlockByNumber, trace_block, or auto (debug, then trace)."""

    url: str = "http://127.0.0.1:8545"
    trace_url: Optional[str] = None
    trace_method: str = "auto"
    batch_size: int = 40
    concurrency: int = 4
    logs_block_range: int = 2048
    chunk_blocks: int = 200
    receipts: str = "auto"
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    blocks_source: str = "rpc"  # or "data_api": blocks and transactions from AvaCloud's per-block endpoints

    def uses_data_api(self) -> bool:
        if self.blocks_source not in ("rpc", "data_api"):
            raise ValueError(f"blocks_source (AVAX_BLOCKS_SOURCE) must be rpc or data_api, not {self.blocks_source!r}")
        return self.blocks_source == "data_api"

    @contextmanager
    def reader(self) -> Iterator[ChainReader]:
        settings = RpcSettings(url=self.url, batch_size=self.batch_size, concurrency=self.concurrency,
                               timeout_s=self.timeout_s, max_attempts=self.max_attempts,
                               backoff_base_s=self.backoff_base_s)
        with ExitStack() as stack:
            client = stack.enter_context(JsonRpcClient(settings))
            tracer = stack.enter_context(JsonRpcClient(replace(settings, url=self.trace_url))) if self.trace_url else None
            yield ChainReader(client, logs_block_range=self.logs_block_range, receipts=self.receipts,
                              trace_client=tracer, trace_method=self.trace_method)


class AvaCloudResource(dg.ConfigurableResource):
    """AvaCloud Data and Metrics APIs. The key raises rate limits; `cu_per_minute` is the plan's
    compute-unit budget (6,000 unauthenticated; 8,000 / 10,000 / 14,000 / 20,000 on paid tiers)."""

    data_url: str = "https://data-api.avax.network"
    metrics_url: str = "https://metrics.avax.network"
    api_key: Optional[str] = None
    cu_per_minute: int = 6_000
    network: str = "mainnet"
    metric_chain_ids: list[str] = ["43114", "total"]
    page_size: int = 100
    max_pages: int = 1_000

    @contextmanager
    def client(self) -> Iterator[AvaCloudClient]:
        settings = AvaCloudSettings(data_url=self.data_url, metrics_url=self.metrics_url, api_key=self.api_key,
                                    cu_per_minute=self.cu_per_minute, page_size=self.page_size,
                                    max_pages=self.max_pages)
        with AvaCloudClient(settings) as client:
            yield client


class SubgraphResource(dg.ConfigurableResource):
    """The Graph's gateway. The key travels as `Authorization: Bearer`, never in a URL; `subgraph_ids`
    maps a declared subgraph (e.g. `traderjoe-v2`) to its deployment's subgraph id."""

    gateway_url: str = "https://gateway.thegraph.com/api"
    api_key: Optional[str] = None
    subgraph_ids: dict[str, str] = {}
    page_size: int = 1000
    max_attempts: int = 5

    @contextmanager
    def client(self, subgraph: str) -> Iterator[SubgraphClient]:
        subgraph_id = self.subgraph_ids.get(subgraph)
        if not subgraph_id:
            raise ValueError(f"no subgraph id for '{subgraph}': set AVAX_SUBGRAPH_IDS={subgraph}=<subgraph id>")
        settings = SubgraphSettings(url=f"{self.gateway_url.rstrip('/')}/subgraphs/id/{subgraph_id}",
                                    api_key=self.api_key, page_size=self.page_size, max_attempts=self.max_attempts)
        with SubgraphClient(settings) as client:
            yield client


class KafkaResource(dg.ConfigurableResource):
    """Any Kafka-protocol broker (Kafka, Redpanda, Tansu)."""

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Optional[str] = None
    sasl_mechanism: Optional[str] = None
    sasl_username: Optional[str] = None
    sasl_password: Optional[str] = None
    topic_partitions: int = 1
    replication_factor: int = 1

    def client_config(self) -> dict:
        optional = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
        }
        return {"bootstrap.servers": self.bootstrap_servers, **{k: v for k, v in optional.items() if v}}

    def publisher(self) -> KafkaPublisher:
        return KafkaPublisher(self.client_config(), self.topic_partitions, self.replication_factor)


class ClickHouseResource(dg.ConfigurableResource):
    """A ClickHouse server over HTTP when `host` is set, else the embedded engine (chDB) in `chdb_path`."""

    host: Optional[str] = None
    port: int = 8123
    username: str = "default"
    password: Optional[str] = None
    secure: bool = False
    database: str = "avax"
    chdb_path: str = ".avax-assets/chdb"

    def warehouse(self) -> ClickHouseWarehouse:
        if self.host:
            import clickhouse_connect

            client = clickhouse_connect.get_client(host=self.host, port=self.port, username=self.username,
                                                   password=self.password or "", secure=self.secure)
        else:
            client = chdb_client(str(Path(self.chdb_path).resolve()))
        return ClickHouseWarehouse(client, self.database)


class ParquetLakeIOManager(dg.ConfigurableIOManager):
    """Stores each dataset partition as one Parquet object; loads it back as a streaming handle."""

    root: str = ".avax-assets/lake"
    s3_endpoint_url: Optional[str] = None
    s3_access_key_id: Optional[str] = None
    s3_secret_access_key: Optional[str] = None
    s3_region: str = "us-east-1"

    def lake(self) -> Lake:
        s3 = S3Settings(self.s3_endpoint_url, self.s3_access_key_id, self.s3_secret_access_key, self.s3_region)
        return Lake(self.root, s3)

    def handle_output(self, context: dg.OutputContext, obj: SpooledPartition | dict[str, SpooledPartition]) -> None:
        """One spooled partition, or (a run over a partition range) a spool per partition key."""
        # asset_partition_keys, not partition_key: a backfill run over a one-day range has no partition_key
        spools = obj if isinstance(obj, dict) else {_only(context.asset_partition_keys): obj}
        lake, paths, rows = self.lake(), [], 0
        try:
            for partition, spooled in spools.items():
                paths.append(lake.put_atomic(spooled.path, spooled.dataset.name, partition))
                rows += spooled.rows
        finally:
            for spooled in spools.values():
                spooled.discard()
        location = dg.MetadataValue.path(paths[0]) if len(paths) == 1 else dg.MetadataValue.json(paths)
        context.add_output_metadata({"parquet_path": location, "parquet_rows": rows})

    def load_input(self, context: dg.InputContext):
        """A streaming handle on the partition; for a partition range, a handle per partition key."""
        dataset = ALL_DATASETS[context.upstream_output.asset_key.path[-1]]
        keys = context.asset_partition_keys
        if len(keys) > 1:
            return {key: self.lake().open_partition(dataset, key) for key in keys}
        return self.lake().open_partition(dataset, _only(keys))


def _only(partition_keys) -> str:
    if len(partition_keys) != 1:
        raise ValueError(f"expected one partition, got {len(partition_keys)}: return a dict keyed by partition")
    return partition_keys[0]
