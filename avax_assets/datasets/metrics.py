"""AvaCloud Metrics API time series by UTC day: one row per (chain, metric, interval, timestamp).
The API defines no grouping; these groups (and their Kafka topics) are this project's."""

from avax_assets.datasets.schema import FLOAT, TEXT, TIMESTAMP, Column, Dataset

METRIC_GROUPS = {
    "activity": ("activeAddresses", "activeSenders", "txCount", "contracts", "deployers"),
    "performance": ("avgTps", "maxTps", "avgGps", "maxGps"),
    "gas": ("gasUsed", "avgGasPrice", "maxGasPrice", "feesPaid"),
    "cumulative": ("cumulativeTxCount", "cumulativeAddresses", "cumulativeContracts", "cumulativeDeployers"),
}
DAY_ONLY_PREFIXES = ("cumulative", "avg", "max")
DAY_ONLY_METRICS = ("contracts", "deployers", "feesPaid")
# A metrics day is a handful of small requests, far less than a run's start-up: backfill a month per run
# (measured: README, Backfills).
METRICS_DAYS_PER_BACKFILL_RUN = 31


def interval_of(metric: str) -> str:
    """The finest interval the API serves for a metric: some support `day` only."""
    return "day" if metric.startswith(DAY_ONLY_PREFIXES) or metric in DAY_ONLY_METRICS else "hour"


def metrics_dataset(name: str, topic: str, description: str) -> Dataset:
    return Dataset(
        name=name, topic=topic, description=description, key=("chain_id", "metric", "time_interval", "timestamp"),
        partition_column="timestamp", block_column=None, days_per_backfill_run=METRICS_DAYS_PER_BACKFILL_RUN,
        columns=(
            Column("chain_id", TEXT, description="EVM chain id, or 'total' across chains"),
            Column("metric", TEXT),
            Column("time_interval", TEXT, description="hour or day"),
            Column("timestamp", TIMESTAMP, description="start of the interval"),
            Column("value", TEXT, description="the API's number, exact, as a decimal string"),
            Column("value_float", FLOAT, description="value as Float64, for convenience only"),
            Column("fetched_at", TIMESTAMP),
        ),
    )


METRICS_BY_GROUP = {
    group: metrics_dataset(f"metrics_{group}", f"avax.metrics.{group}", f"Metrics API, {group} metrics: {', '.join(names)}.")
    for group, names in METRIC_GROUPS.items()
}
METRICS = metrics_dataset("metrics", "avax.metrics", "Every Metrics API series of the groups, in one dataset.")
