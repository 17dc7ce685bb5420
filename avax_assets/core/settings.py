"""Every setting's default, written once, and the enumerations settings choose from.

The clients take these dataclasses; the Dagster resources (orchestration/resources.py) take their field
defaults from the instances below, and orchestration/environment.py maps `AVAX_*` variables onto those
fields when the code location loads (never at import). An enumerated setting is an Enum, so a wrong
value is refused when the resources are built, naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from avax_assets.core.http import Patience

HOME = ".avax-assets"  # local state: lake, chDB, Dagster storage, spools
PREFLIGHT_S = 10.0  # how long the check before extraction waits for each sink (Kafka, S3, ClickHouse)
# Per request: 30 s per connect or read, 60 s for the whole answer, at most 32 MiB; 5 attempts, backoff
# from 0.5 s doubling up to 30 s (jittered). A batch of 40 mainnet blocks with their transactions is ~2 MiB.
PATIENCE = Patience(timeout_s=30.0, max_attempts=5, backoff_base_s=0.5, backoff_max_s=30.0, deadline_s=60.0,
                    max_response_bytes=32 * 2**20)


class BlocksSource(str, Enum):
    """Where blocks and transactions come from (logs and traces always come over JSON-RPC)."""
    rpc = "rpc"
    data_api = "data_api"  # the AvaCloud Data API's per-block endpoints


class ReceiptsMethod(str, Enum):
    auto = "auto"  # eth_getBlockReceipts, falling back to eth_getTransactionReceipt
    block = "block"
    transaction = "transaction"


class TraceMethod(str, Enum):
    auto = "auto"  # debug_traceBlockByNumber, then trace_block
    debug = "debug"
    parity = "parity"


class AvaCloudNetwork(str, Enum):
    mainnet = "mainnet"
    fuji = "fuji"
    testnet = "testnet"


class KafkaSecurityProtocol(str, Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(str, Enum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    OAUTHBEARER = "OAUTHBEARER"
    GSSAPI = "GSSAPI"


@dataclass(frozen=True)
class RpcSettings:
    """C-Chain JSON-RPC. The public node allows batches of 40 and eth_getLogs over 2048 blocks."""
    url: str = "http://127.0.0.1:8545"
    batch_size: int = 40
    concurrency: int = 4
    logs_block_range: int = 2048
    chunk_blocks: int = 200  # blocks per extracted chunk: one Arrow batch, bounded memory
    trace_batch_size: int = 1  # blocks per trace request: a dense block's traces are seconds of node time
    patience: Patience = replace(PATIENCE, settings="AVAX_RPC_TIMEOUT_S, AVAX_RPC_DEADLINE_S and AVAX_RPC_MAX_ATTEMPTS")


BUDGET_TIERS = {"unauthenticated": 6_000, "free": 8_000, "base": 10_000, "growth": 14_000, "pro": 20_000}


@dataclass(frozen=True)
class AvaCloudSettings:
    data_url: str = "https://data-api.avax.network"
    metrics_url: str = "https://metrics.avax.network"
    api_key: str | None = None
    cu_per_minute: int = BUDGET_TIERS["unauthenticated"]
    page_size: int = 100
    max_pages: int = 1_000
    patience: Patience = replace(PATIENCE, max_attempts=6, backoff_max_s=60.0,  # 429 storms last longer
                                 settings="AVAX_AVACLOUD_TIMEOUT_S")


@dataclass(frozen=True)
class SubgraphSettings:
    url: str = ""  # the subgraph's query URL: <gateway>/subgraphs/id/<subgraph id>
    api_key: str | None = None
    page_size: int = 1000  # The Graph's maximum `first`
    max_pages: int = 10_000
    patience: Patience = replace(PATIENCE, settings="AVAX_GRAPH_TIMEOUT_S")


GRAPH_GATEWAY_URL = "https://gateway.thegraph.com/api"


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_partitions: int = 1
    replication_factor: int = 1
    timeout_s: float = 30.0  # how long the broker may stay silent: connecting, any delivery, the commit


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-east-1"
    timeout_s: float = 30.0  # per connect and per read
    max_attempts: int = 3


@dataclass(frozen=True)
class LakeSettings:
    root: str = f"{HOME}/lake"  # a local directory, or s3://bucket[/prefix]
    s3_root: str = "s3://avax-assets"  # the root when an S3 endpoint is configured and no root is
    s3: S3Settings = field(default_factory=S3Settings)
    spool_dir: str = f"{HOME}/spool"  # local Parquet spools of partitions being extracted


@dataclass(frozen=True)
class ClickHouseSettings:
    host: str | None = None  # None: the embedded engine (chDB) in chdb_path
    port: int = 8123
    username: str = "default"
    secure: bool = False
    database: str = "avax"
    chdb_path: str = f"{HOME}/chdb"
    chdb_lock_wait_s: float = 120.0  # how long a load waits for another process to release the directory


@dataclass(frozen=True)
class LiveSettings:
    """The live path: a follower of the accepted head publishing to Kafka, a consumer loading ClickHouse."""
    poll_s: float = 0.5  # how often the follower asks for the head (a newHeads notice wakes it sooner)
    step_blocks: int = 50  # most blocks per Kafka transaction (catching up goes in steps of this many)
    traces: bool = False  # internal transactions too (needs debug_traceBlockByNumber)
    start_block: int | None = None  # where a follower with nothing in Kafka starts; None: the head
    websocket_url: str | None = None  # newHeads; None: the RPC URL's ws:// twin, if it answers
    group_id: str = "avax-assets-live"
    batch_messages: int = 20_000  # most messages a consumer takes per micro-batch
    batch_wait_s: float = 0.2  # how long it waits for them
    session_timeout_s: float = 10.0  # the consumer group's session timeout (a join takes about half)


@dataclass(frozen=True)
class PartitionSettings:
    chain_start: str = "2020-09-23"  # C-Chain mainnet launch; later for a node whose history starts later
    snapshot_start: str = "2024-06-01"  # the API serves current state: history starts when collection does


RPC = RpcSettings()
AVACLOUD = AvaCloudSettings()
SUBGRAPH = SubgraphSettings()
KAFKA = KafkaSettings()
LAKE = LakeSettings()
CLICKHOUSE = ClickHouseSettings()
PARTITIONS = PartitionSettings()
LIVE = LiveSettings()
