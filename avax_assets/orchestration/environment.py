"""`AVAX_*` environment variables → the resources' fields, read when the code location loads (never at
import). A variable that is unset leaves the field's default (core/settings.py); a value that does not fit
its field's type or enumeration is refused here, naming the variable. Secrets are handed to Dagster as
`EnvVar`s, resolved at run time and never stored in config, metadata or logs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from enum import Enum
import types
from typing import Any, Union, get_args, get_origin
from urllib.parse import urlsplit

import dagster as dg

from avax_assets.core.errors import SettingError
from avax_assets.core.lake import checked_root
from avax_assets.core.schema import Partitioning, checked_identifier
from avax_assets.core.settings import HOME, LAKE, PartitionSettings
from avax_assets.orchestration.partitions import START_SETTINGS
from avax_assets.orchestration.resources import (AvaCloudResource, ChainRpcResource, ClickHouseResource, KafkaResource,
                                                 LiveResource, ParquetLakeIOManager, SubgraphResource)

RESOURCES: dict[str, type[dg.ConfigurableResource] | type[dg.ConfigurableIOManager]] = {
    "rpc": ChainRpcResource, "avacloud": AvaCloudResource, "subgraph": SubgraphResource, "kafka": KafkaResource,
    "lake_io_manager": ParquetLakeIOManager, "clickhouse": ClickHouseResource, "live": LiveResource,
}

# variable → (resource, field)
VARIABLES: dict[str, tuple[str, str]] = {
    "AVAX_RPC_URL": ("rpc", "url"),
    "AVAX_TRACE_RPC_URL": ("rpc", "trace_url"),
    "AVAX_RPC_TRACE_METHOD": ("rpc", "trace_method"),
    "AVAX_RPC_BATCH_SIZE": ("rpc", "batch_size"),
    "AVAX_RPC_CONCURRENCY": ("rpc", "concurrency"),
    "AVAX_RPC_LOGS_BLOCK_RANGE": ("rpc", "logs_block_range"),
    "AVAX_RPC_CHUNK_BLOCKS": ("rpc", "chunk_blocks"),
    "AVAX_RPC_TRACE_BATCH_SIZE": ("rpc", "trace_batch_size"),
    "AVAX_RPC_RECEIPTS": ("rpc", "receipts"),
    "AVAX_RPC_TIMEOUT_S": ("rpc", "timeout_s"),
    "AVAX_RPC_DEADLINE_S": ("rpc", "deadline_s"),
    "AVAX_RPC_MAX_RESPONSE_MB": ("rpc", "max_response_mb"),
    "AVAX_RPC_MAX_ATTEMPTS": ("rpc", "max_attempts"),
    "AVAX_BLOCKS_SOURCE": ("rpc", "blocks_source"),
    "AVAX_AVACLOUD_DATA_URL": ("avacloud", "data_url"),
    "AVAX_AVACLOUD_METRICS_URL": ("avacloud", "metrics_url"),
    "AVAX_AVACLOUD_API_KEY": ("avacloud", "api_key"),
    "AVAX_AVACLOUD_CU_PER_MINUTE": ("avacloud", "cu_per_minute"),
    "AVAX_AVACLOUD_NETWORK": ("avacloud", "network"),
    "AVAX_AVACLOUD_TIMEOUT_S": ("avacloud", "timeout_s"),
    "AVAX_GRAPH_GATEWAY_URL": ("subgraph", "gateway_url"),
    "AVAX_GRAPH_API_KEY": ("subgraph", "api_key"),
    "AVAX_SUBGRAPH_IDS": ("subgraph", "subgraph_ids"),
    "AVAX_GRAPH_TIMEOUT_S": ("subgraph", "timeout_s"),
    "AVAX_KAFKA_BOOTSTRAP_SERVERS": ("kafka", "bootstrap_servers"),
    "AVAX_KAFKA_SECURITY_PROTOCOL": ("kafka", "security_protocol"),
    "AVAX_KAFKA_SASL_MECHANISM": ("kafka", "sasl_mechanism"),
    "AVAX_KAFKA_SASL_USERNAME": ("kafka", "sasl_username"),
    "AVAX_KAFKA_SASL_PASSWORD": ("kafka", "sasl_password"),
    "AVAX_KAFKA_TOPIC_PARTITIONS": ("kafka", "topic_partitions"),
    "AVAX_KAFKA_REPLICATION_FACTOR": ("kafka", "replication_factor"),
    "AVAX_KAFKA_TIMEOUT_S": ("kafka", "timeout_s"),
    "AVAX_LAKE_ROOT": ("lake_io_manager", "root"),
    "AVAX_S3_ENDPOINT_URL": ("lake_io_manager", "s3_endpoint_url"),
    "AVAX_S3_ACCESS_KEY_ID": ("lake_io_manager", "s3_access_key_id"),
    "AVAX_S3_SECRET_ACCESS_KEY": ("lake_io_manager", "s3_secret_access_key"),
    "AVAX_S3_REGION": ("lake_io_manager", "s3_region"),
    "AVAX_S3_TIMEOUT_S": ("lake_io_manager", "s3_timeout_s"),
    "AVAX_CLICKHOUSE_HOST": ("clickhouse", "host"),
    "AVAX_CLICKHOUSE_PORT": ("clickhouse", "port"),
    "AVAX_CLICKHOUSE_USER": ("clickhouse", "username"),
    "AVAX_CLICKHOUSE_PASSWORD": ("clickhouse", "password"),
    "AVAX_CLICKHOUSE_SECURE": ("clickhouse", "secure"),
    "AVAX_CLICKHOUSE_DATABASE": ("clickhouse", "database"),
    "AVAX_CLICKHOUSE_CHDB_PATH": ("clickhouse", "chdb_path"),
    "AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S": ("clickhouse", "chdb_lock_wait_s"),
    "AVAX_LIVE_POLL_S": ("live", "poll_s"),
    "AVAX_LIVE_STEP_BLOCKS": ("live", "step_blocks"),
    "AVAX_LIVE_TRACES": ("live", "traces"),
    "AVAX_LIVE_START_BLOCK": ("live", "start_block"),
    "AVAX_LIVE_WEBSOCKET_URL": ("live", "websocket_url"),
    "AVAX_LIVE_GROUP_ID": ("live", "group_id"),
    "AVAX_LIVE_BATCH_MESSAGES": ("live", "batch_messages"),
    "AVAX_LIVE_BATCH_WAIT_S": ("live", "batch_wait_s"),
    "AVAX_LIVE_SESSION_TIMEOUT_S": ("live", "session_timeout_s"),
}
SECRETS = {"AVAX_RPC_URL", "AVAX_TRACE_RPC_URL", "AVAX_AVACLOUD_API_KEY", "AVAX_GRAPH_API_KEY",
           "AVAX_KAFKA_SASL_USERNAME", "AVAX_KAFKA_SASL_PASSWORD", "AVAX_S3_ACCESS_KEY_ID",
           "AVAX_S3_SECRET_ACCESS_KEY", "AVAX_CLICKHOUSE_PASSWORD", "AVAX_LIVE_WEBSOCKET_URL"}


def _http_url(text: str) -> None:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")


def _websocket_url(text: str) -> None:
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("must be a ws:// or wss:// URL with a host")


def _brokers(text: str) -> None:
    for server in text.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"must be host:port[,host:port…], not {text!r}")


def _identifier(text: str) -> None:
    try:
        checked_identifier(text)
    except ValueError:
        raise ValueError(f"must be a ClickHouse identifier (letters, digits, underscores, not starting with "
                         f"a digit), not {text!r}") from None


# variable → a check of its value beyond its type (a ValueError says what is wrong; for a secret it
# must not repeat the value)
CHECKS: dict[str, Callable[[str], None]] = {
    "AVAX_RPC_URL": _http_url, "AVAX_TRACE_RPC_URL": _http_url, "AVAX_AVACLOUD_DATA_URL": _http_url,
    "AVAX_AVACLOUD_METRICS_URL": _http_url, "AVAX_GRAPH_GATEWAY_URL": _http_url, "AVAX_S3_ENDPOINT_URL": _http_url,
    "AVAX_KAFKA_BOOTSTRAP_SERVERS": _brokers, "AVAX_CLICKHOUSE_DATABASE": _identifier,
    "AVAX_LAKE_ROOT": checked_root, "AVAX_LIVE_WEBSOCKET_URL": _websocket_url,
}
MAY_BE_ZERO = {"AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S", "AVAX_LIVE_START_BLOCK"}  # every other number must be positive


def build_resources(environ: Mapping[str, str] | None = None) -> dict:
    """The resources, configured from the environment (os.environ unless given)."""
    environ = os.environ if environ is None else environ
    fields: dict[str, dict[str, Any]] = {key: {} for key in RESOURCES}
    for variable, (resource, name) in VARIABLES.items():
        value = environ.get(variable)
        if value in (None, ""):
            continue
        field_type = RESOURCES[resource].model_fields[name].annotation
        parsed = parse(variable, value, field_type)
        check(variable, parsed)
        fields[resource][name] = dg.EnvVar(variable) if variable in SECRETS else parsed
    home = environ.get("AVAX_HOME") or HOME
    lake = fields["lake_io_manager"]
    lake.setdefault("root", LAKE.s3_root if lake.get("s3_endpoint_url") else f"{home}/lake")
    lake.setdefault("spool_dir", f"{home}/spool")
    fields["clickhouse"].setdefault("chdb_path", f"{home}/chdb")
    resources = {key: RESOURCES[key](**values) for key, values in fields.items() if key != "lake_io_manager"}
    resources["lake_io_manager"] = ParquetLakeIOManager(kafka=resources["kafka"], **lake)
    return resources


def resolved(resource: dg.ConfigurableResource) -> dg.ConfigurableResource:
    """The resource with its secrets read from the environment, for the project's services (the live
    follower and consumer), which run outside Dagster runs."""
    secrets = {name: value.get_value() for name, value in resource if isinstance(value, dg.EnvVar)}
    return resource.model_copy(update=secrets)


def check(variable: str, value: Any) -> None:
    """A parsed value's own rules (CHECKS, positive numbers); SettingError naming the variable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0 or (value == 0 and variable not in MAY_BE_ZERO):
            raise SettingError(f"{variable} must be {'zero or more' if variable in MAY_BE_ZERO else 'positive'}, "
                               f"not {value}")
    if variable in CHECKS:
        try:
            CHECKS[variable](value)
        except SettingError:
            raise
        except ValueError as exc:
            raise SettingError(f"{variable} {exc}") from None


EXECUTORS = {"multiprocess": dg.multiprocess_executor, "in_process": dg.in_process_executor}


def executor(environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    """AVAX_DAGSTER_EXECUTOR: `multiprocess` (Dagster's default: a process per step, steps in parallel) or
    `in_process` (one process per run: a local run starts in seconds instead of minutes)."""
    environ = os.environ if environ is None else environ
    name = environ.get("AVAX_DAGSTER_EXECUTOR") or "multiprocess"
    if name not in EXECUTORS:
        raise SettingError(f"AVAX_DAGSTER_EXECUTOR must be one of {', '.join(EXECUTORS)}, not {name!r}")
    return EXECUTORS[name]


def partition_settings(environ: Mapping[str, str] | None = None) -> PartitionSettings:
    environ = os.environ if environ is None else environ
    defaults = PartitionSettings()
    return PartitionSettings(
        chain_start=environ.get(START_SETTINGS[Partitioning.CHAIN_DAILY]) or defaults.chain_start,
        snapshot_start=environ.get(START_SETTINGS[Partitioning.SNAPSHOT_DAILY]) or defaults.snapshot_start)


def parse(variable: str, text: str, field_type: Any) -> Any:
    """The variable's text as its field's type; SettingError naming the variable when it does not fit."""
    kind = field_type
    if get_origin(field_type) in (Union, types.UnionType):  # Optional[X] → X
        kind = next(t for t in get_args(field_type) if t is not type(None))
    try:
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(text)
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if kind in (int, float):
            return kind(text)
        if get_origin(kind) is dict:  # `a=1,b=2`
            return dict(item.split("=", 1) for item in text.split(",") if "=" in item)
        if get_origin(kind) is list:
            return [item.strip() for item in text.split(",") if item.strip()]
        return text
    except ValueError:
        if isinstance(kind, type) and issubclass(kind, Enum):
            expected = f"one of {', '.join(m.value for m in kind)}"
        else:
            expected = {int: "an integer", float: "a number", bool: "true or false"}.get(kind, str(kind))
        raise SettingError(f"{variable} must be {expected}, not {text!r}") from None
