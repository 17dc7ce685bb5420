"""Dagster pools: each names one shared, limited thing that steps use. The assets declare the pool;
the instance holds the limit, so a deployment sizes them without a code change.

    avax-assets pools apply [--production]   # sets the limits on $DAGSTER_HOME's instance
"""

import dagster as dg

RPC = "rpc"
AVACLOUD = "avacloud"
THEGRAPH = "thegraph"
CLICKHOUSE = "clickhouse"

POOLS = {
    RPC: "the C-Chain node (and the Data API when it is the blocks source): its request rate and tracing CPU",
    AVACLOUD: "the AvaCloud compute-unit budget, counted per process, so one step at a time keeps it global",
    THEGRAPH: "The Graph gateway's query budget",
    CLICKHOUSE: "ClickHouse: the embedded chDB allows one process per data directory",
}

# Local: the embedded ClickHouse and one local node take one step at a time (dagster.yaml default_limit 1).
LOCAL_LIMITS = {pool: 1 for pool in POOLS}
# Production: a ClickHouse server takes parallel inserts; an archive node a few concurrent extractors.
PRODUCTION_LIMITS = {RPC: 4, AVACLOUD: 1, THEGRAPH: 2, CLICKHOUSE: 4}


def of_chain(pool: str | None, chain: str | None) -> str | None:
    """A configured chain's pool: its own node (RPC) is its own; the rest are shared by every chain."""
    return f"{pool}_{chain}" if pool == RPC and chain else pool


def apply_limits(instance: dg.DagsterInstance, limits: dict[str, int]) -> None:
    for pool, limit in limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)
