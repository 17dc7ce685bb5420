"""The Dagster code location. Configuration comes from the environment (see README)."""

from __future__ import annotations

import os

import dagster as dg

from avax_assets.assets.analytics import analytics_assets
from avax_assets.assets.chain import chain_extract_assets, chain_load_assets
from avax_assets.assets.network import (bridges_assets, metrics_fetch_assets, metrics_load_assets, network_load_assets,
                                        network_snapshot_assets)
from avax_assets.assets.subgraphs import subgraph_extract_assets, subgraph_load_assets
from avax_assets.assets.tokens import token_decode_assets, token_load_assets
from avax_assets.resources import (AvaCloudResource, ChainRpcResource, ClickHouseResource, KafkaResource,
                                   ParquetLakeIOManager, SubgraphResource)
from avax_assets.schedules import TRANSIENT_RETRY, catch_up_sensor, daily_schedule, freshness_checks

HOME = os.environ.get("AVAX_HOME", ".avax-assets")


def _setting(name: str, default):
    """A non-secret setting: the environment wins, else the local default."""
    value = os.environ.get(name)
    return default if value in (None, "") else type(default)(value) if default is not None else value


def _secret(name: str):
    """A secret: resolved by Dagster from the environment at run time, never stored in config."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def _pairs(text: str) -> dict[str, str]:
    """`a=1,b=2` → {"a": "1", "b": "2"}."""
    return dict(item.split("=", 1) for item in text.split(",") if "=" in item)


def build_resources() -> dict:
    s3_endpoint = _setting("AVAX_S3_ENDPOINT_URL", None)
    return {
        "rpc": ChainRpcResource(
            url=_secret("AVAX_RPC_URL") or "http://127.0.0.1:8545",
            trace_url=_secret("AVAX_TRACE_RPC_URL"),
            trace_method=_setting("AVAX_RPC_TRACE_METHOD", "auto"),
            batch_size=_setting("AVAX_RPC_BATCH_SIZE", 40),
            concurrency=_setting("AVAX_RPC_CONCURRENCY", 4),
            logs_block_range=_setting("AVAX_RPC_LOGS_BLOCK_RANGE", 2048),
            chunk_blocks=_setting("AVAX_RPC_CHUNK_BLOCKS", 200),
            receipts=_setting("AVAX_RPC_RECEIPTS", "auto"),
            max_attempts=_setting("AVAX_RPC_MAX_ATTEMPTS", 5),
            blocks_source=_setting("AVAX_BLOCKS_SOURCE", "rpc"),
        ),
        "avacloud": AvaCloudResource(
            data_url=_setting("AVAX_AVACLOUD_DATA_URL", "https://data-api.avax.network"),
            metrics_url=_setting("AVAX_AVACLOUD_METRICS_URL", "https://metrics.avax.network"),
            api_key=_secret("AVAX_AVACLOUD_API_KEY"),
            cu_per_minute=_setting("AVAX_AVACLOUD_CU_PER_MINUTE", 6_000),
            network=_setting("AVAX_AVACLOUD_NETWORK", "mainnet"),
        ),
        "subgraph": SubgraphResource(
            gateway_url=_setting("AVAX_GRAPH_GATEWAY_URL", "https://gateway.thegraph.com/api"),
            api_key=_secret("AVAX_GRAPH_API_KEY"),
            subgraph_ids=_pairs(_setting("AVAX_SUBGRAPH_IDS", "")),
        ),
        "kafka": KafkaResource(
            bootstrap_servers=_setting("AVAX_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            security_protocol=_setting("AVAX_KAFKA_SECURITY_PROTOCOL", None),
            sasl_mechanism=_setting("AVAX_KAFKA_SASL_MECHANISM", None),
            sasl_username=_secret("AVAX_KAFKA_SASL_USERNAME"),
            sasl_password=_secret("AVAX_KAFKA_SASL_PASSWORD"),
            topic_partitions=_setting("AVAX_KAFKA_TOPIC_PARTITIONS", 1),
            replication_factor=_setting("AVAX_KAFKA_REPLICATION_FACTOR", 1),
        ),
        "lake_io_manager": ParquetLakeIOManager(
            root=_setting("AVAX_LAKE_ROOT", "s3://avax-assets" if s3_endpoint else f"{HOME}/lake"),
            s3_endpoint_url=s3_endpoint,
            s3_access_key_id=_secret("AVAX_S3_ACCESS_KEY_ID"),
            s3_secret_access_key=_secret("AVAX_S3_SECRET_ACCESS_KEY"),
            s3_region=_setting("AVAX_S3_REGION", "us-east-1"),
        ),
        "clickhouse": ClickHouseResource(
            host=_setting("AVAX_CLICKHOUSE_HOST", None),
            port=_setting("AVAX_CLICKHOUSE_PORT", 8123),
            username=_setting("AVAX_CLICKHOUSE_USER", "default"),
            password=_secret("AVAX_CLICKHOUSE_PASSWORD"),
            secure=_setting("AVAX_CLICKHOUSE_SECURE", "false").lower() == "true",
            database=_setting("AVAX_CLICKHOUSE_DATABASE", "avax"),
            chdb_path=_setting("AVAX_CLICKHOUSE_CHDB_PATH", f"{HOME}/chdb"),
        ),
    }


chain_assets = [*chain_extract_assets, *chain_load_assets, *token_decode_assets, *token_load_assets]

chain_daily_job = dg.define_asset_job(
    "chain_daily", op_retry_policy=TRANSIENT_RETRY, selection=dg.AssetSelection.assets(*chain_assets),
    description="Every C-Chain dataset for one UTC day: RPC → Kafka → Parquet → ClickHouse.",
)

analytics_job = dg.define_asset_job(
    "analytics", selection=dg.AssetSelection.assets(*analytics_assets),
    description="(Re)create the ClickHouse analytics views over the loaded tables.",
)

network_assets = [*network_snapshot_assets, *network_load_assets]
metrics_assets = [*metrics_fetch_assets, *metrics_load_assets]

network_daily_job = dg.define_asset_job(
    "network_daily", op_retry_policy=TRANSIENT_RETRY, selection=dg.AssetSelection.assets(*network_assets),
    description="Snapshots of the Avalanche network from the AvaCloud Data API → Kafka → Parquet → ClickHouse.",
)

metrics_daily_job = dg.define_asset_job(
    "metrics_daily", op_retry_policy=TRANSIENT_RETRY, selection=dg.AssetSelection.assets(*metrics_assets, *bridges_assets),
    description="Metrics API series and ICM messages (bridges) for one UTC day → Kafka → Parquet → ClickHouse.",
)

subgraph_assets = [*subgraph_extract_assets, *subgraph_load_assets]

subgraphs_daily_job = dg.define_asset_job(
    "subgraphs_daily", op_retry_policy=TRANSIENT_RETRY, selection=dg.AssetSelection.assets(*subgraph_assets),
    description="Subgraph entities (DEX swaps) in one UTC day's block range from The Graph → Kafka → Parquet → "
                "ClickHouse.",
)

DAILY_JOBS = (chain_daily_job, network_daily_job, metrics_daily_job, subgraphs_daily_job)
# the asset whose materialized days say what a job has done: its last load
WITNESSES = {"chain_daily": "clickhouse_blocks", "network_daily": "clickhouse_validators",
             "metrics_daily": "clickhouse_metrics", "subgraphs_daily": "clickhouse_dex_swaps"}
load_assets = [*chain_load_assets, *token_load_assets, *network_load_assets, *metrics_load_assets,
               bridges_assets[-1], *subgraph_load_assets]


def witness(job_name: str) -> dg.AssetsDefinition:
    return next(a for a in load_assets if a.key == dg.AssetKey(WITNESSES[job_name]))


schedules = [daily_schedule(job) for job in DAILY_JOBS]
freshness = freshness_checks(load_assets)
sensors = [*(catch_up_sensor(job, witness(job.name)) for job in DAILY_JOBS),
           dg.build_sensor_for_freshness_checks(freshness_checks=freshness, minimum_interval_seconds=600)]

defs = dg.Definitions(assets=[*chain_assets, *analytics_assets, *network_assets, *metrics_assets, *bridges_assets,
                              *subgraph_assets],
                      jobs=[chain_daily_job, analytics_job, network_daily_job, metrics_daily_job, subgraphs_daily_job],
                      asset_checks=freshness, schedules=schedules, sensors=sensors,
                      resources=build_resources())
