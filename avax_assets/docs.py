"""The documentation pages made from the declarations, so they cannot drift from the code.

    uv run python -m avax_assets.docs      # rewrite every generated page under docs/

A page is one entry in PAGES: its file name under docs/ and the function that returns its text.
avax_assets_tests/test_docs.py fails when a committed page differs from what its function returns.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path

from avax_assets.analytics.views import VIEWS
from avax_assets.catalogue import DAILY_JOBS, DATASETS, FAMILIES, SCOPES, SETTINGS
from avax_assets.core.config import Settings, Variable
from avax_assets.core.audits import audits_for
from avax_assets.core.schema import Column, Dataset, Partitioning, View

REGENERATE = "uv run python -m avax_assets.docs"

# how each partitioning offers its days (orchestration/partitions.py makes them Dagster partitions)
PARTITIONING_TEXT = {
    Partitioning.CHAIN_DAILY: "daily, by the UTC day of `{column}`, from `AVAX_CHAIN_START_DATE`; "
                              "a day is offered once it has closed",
    Partitioning.SNAPSHOT_DAILY: "daily, by `{column}`: the day the snapshot was taken, from "
                                 "`AVAX_SNAPSHOT_START_DATE` (the source serves current state only)",
}

DATASETS_INTRO = f"""# Datasets

Generated from the declarations (`avax_assets/catalogue.py`, `avax_assets/analytics/views.py`) by
`{REGENERATE}`; do not edit it by hand.

Every dataset is published to its Kafka topic (message key: the natural key), stored as one Parquet object
per day (`<lake root>/<dataset>/date=YYYY-MM-DD/<dataset>.parquet`) and loaded into a ClickHouse table of
the same name in the database `AVAX_CLICKHOUSE_DATABASE` (`avax` unless set): a `ReplacingMergeTree`
ordered by the key, partitioned by the day. Each column has one type at every hop: uint256 and int256
values travel as base-10 strings (Parquet, Kafka JSON) and land as `UInt256` / `Int256`; hashes and
addresses are lower-case hex. A column's meaning comes from the shared vocabulary
(`avax_assets/core/vocabulary.py`), then what is particular to the dataset. Where each source is read and
what it leaves null: [sources.md](sources.md).
"""


def cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def code(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def scope_of(dataset: Dataset) -> str:
    return next(scope for scope, specs in SCOPES.items() if any(s.dataset == dataset for s in specs))


def family_of(dataset: Dataset) -> str:
    return next(family for family, specs in FAMILIES.items() if any(s.dataset == dataset for s in specs))


def job_of(scope: str) -> str:
    return next(job.name for job in DAILY_JOBS if job.scope == scope)


def asset_of(dataset: Dataset):
    return next(spec for specs in SCOPES.values() for spec in specs if spec.dataset == dataset)


def index_table() -> str:
    rows = ((f"[`{d.name}`](#{d.name})", f"`{asset_of(d).group}`", f"`{d.topic}`", f"`{d.table}`", code(d.key))
            for d in DATASETS.values())
    return table(("dataset", "group", "Kafka topic", "ClickHouse table", "key"), rows)


def parent_text(dataset: Dataset) -> str | None:
    link = dataset.parent
    if link is None:
        return None
    text = f"every row joins [`{link.dataset.name}`](#{link.dataset.name}) on {code(link.on)}"
    return text + (f"; `{link.dataset.name}.{link.count_column}` counts them" if link.count_column else "")


def facts(dataset: Dataset) -> list[str]:
    spec = asset_of(dataset)
    lines = [
        f"group `{spec.group}` in the Dagster UI; family `{family_of(dataset)}`; job `{job_of(scope_of(dataset))}`",
        f"source: {spec.origin}" + (f", reading `{spec.reads.name}`" if spec.reads else ""),
        f"Kafka topic: `{dataset.topic}`" + (" (another chain's: the same name ending with its chain id)"
                                             if dataset.chain_id is not None else ""),
        f"key: {code(dataset.key)} (the Kafka message key and the table's `ORDER BY`)",
        f"ClickHouse table: `{dataset.table}`, `PARTITION BY {dataset.partition_by}`",
        f"Parquet: `<lake root>/{dataset.lake_folder.replace(str(dataset.chain_id), '<chain id>')}/date=YYYY-MM-DD/`",
        "partitions: " + PARTITIONING_TEXT[dataset.partitioning].format(column=dataset.partition_column),
        f"backfill: {dataset.days_per_backfill_run} day{'s' if dataset.days_per_backfill_run > 1 else ''} per run",
        parent_text(dataset),
        "checks: " + ", ".join([*(f"`{name}` (load)" for name in audits_for(dataset)),
                                *(f"`{c.name}` (extract{', warning' if c.warn_only else ''})" for c in spec.checks)]),
    ]
    return [f"- {line}" for line in lines if line]


def column_row(column: Column, with_source: bool) -> tuple[str, ...]:
    row = (f"`{column.name}`", f"`{column.type.arrow}`", f"`{column.clickhouse_type}`", column.meaning)
    return (*row, f"`{column.source}`" if column.source else "") if with_source else row


def columns_table(dataset: Dataset) -> str:
    with_source = any(c.source for c in dataset.columns)
    header = ("column", "Parquet / Kafka", "ClickHouse", "meaning", *(("API field",) if with_source else ()))
    return table(header, (column_row(c, with_source) for c in dataset.columns))


def dataset_section(dataset: Dataset) -> str:
    return "\n\n".join((f"### `{dataset.name}`", dataset.description, "\n".join(facts(dataset)),
                        columns_table(dataset)))


def view_section(view: View) -> str:
    reads = ", ".join(f"[`{d.name}`](#{d.name})" for d in view.reads)
    lines = [f"- reads {reads}", f"- ClickHouse view: `{view.name}` (group `analytics`, job `analytics`)"]
    if view.chart:
        lines.append(f"- chart in its materialization metadata: {view.chart.title}")
    return "\n\n".join((f"### `{view.name}`", view.description, "\n".join(lines)))


def datasets_markdown() -> str:
    """docs/datasets.md: every dataset's declaration, then every view."""
    parts = [DATASETS_INTRO, index_table(), "## Datasets", *(dataset_section(d) for d in DATASETS.values()),
             "## Views", "Views over the loaded tables, (re)created by the `analytics` job.",
             *(view_section(v) for v in VIEWS)]
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


SETTINGS_INTRO = f"""# Settings

Generated from the settings declarations (`avax_assets/catalogue.py` `SETTINGS`: one model per source and sink,
beside its client) by `{REGENERATE}`; do not edit it by hand. `uv run avax-assets settings` prints the same list.

Nothing needs setting locally: the defaults are the local node, the local broker, Parquet under
`.avax-assets/lake` and chDB under `.avax-assets/chdb`, and `deployments/local/services.sh env` prints the
variables of the local stack. The same code reaches production engines by these variables only
([deployment.md](deployment.md)). They are read when Dagster loads the code location: a value is parsed to
its type and checked against its bounds, and one that does not fit is refused in one line naming the variable
([failure-modes.md](failure-modes.md)). A secret is handed to Dagster as an `EnvVar`, read only at run time,
and its value (for a URL, its path and query too) is scrubbed from every error and log line. The live path's
own settings are under `LiveSettings` ([live.md](live.md)).

**Several chains.** `RpcSettings` is one EVM chain: the home chain (the C-Chain unless its variables say
otherwise). Each chain named in `AVAX_CHAINS` reads the same variables, and `PartitionSettings`' chain days, with
its name after `AVAX_`: `AVAX_CHAINS=dfk` reads `AVAX_DFK_RPC_URL`, `AVAX_DFK_CHAIN_ID`, `AVAX_DFK_CHAIN_VM`,
`AVAX_DFK_CHAIN_START_DATE`, … ([chains.md](chains.md)).
"""

SETTINGS_EXAMPLE = """## Example: production engines

```bash
export AVAX_RPC_URL=https://api.avax.network/ext/bc/C/rpc
export AVAX_KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092,kafka-2:9092
export AVAX_S3_ENDPOINT_URL=http://minio:9000 AVAX_LAKE_ROOT=s3://avax-lake
export AVAX_S3_ACCESS_KEY_ID=… AVAX_S3_SECRET_ACCESS_KEY=…
export AVAX_CLICKHOUSE_HOST=clickhouse AVAX_CLICKHOUSE_PASSWORD=…
uv run avax-assets materialize --select blocks,clickhouse_blocks --partition 2024-06-01

# the real AvaCloud Data API, with a key and your plan's budget
export AVAX_AVACLOUD_API_KEY=… AVAX_AVACLOUD_CU_PER_MINUTE=8000
uv run avax-assets materialize --partition 2026-11-22 \\
  --select chains,subnets,blockchains,clickhouse_chains,clickhouse_subnets,clickhouse_blockchains
```
"""


def shown_default(value: object) -> str:
    if value is None:
        return "—"
    value = getattr(value, "value", value)
    if isinstance(value, dict):
        value = ",".join(f"{k}={v}" for k, v in value.items()) or "—"
    elif isinstance(value, list):
        value = ",".join(map(str, value))
    return f"`{value}`" if value != "—" else value


def variable_row(variable: Variable) -> tuple[str, ...]:
    return (f"`{variable.name}`", shown_default(variable.default), variable.kind, variable.bounds or "",
            "secret" if variable.secret else "", variable.doc)


def settings_section(model: type[Settings]) -> str:
    doc = " ".join((model.__doc__ or "").split())
    rows = (variable_row(v) for v in model.variables())
    return "\n\n".join((f"## {model.__name__} (`{model.__module__}`)", doc,
                         table(("variable", "default", "type", "bounds", "", "what it sets"), rows)))


def settings_markdown() -> str:
    """docs/settings.md: every AVAX_* variable, model by model."""
    parts = [SETTINGS_INTRO, *(settings_section(model) for model in SETTINGS), SETTINGS_EXAMPLE]
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


# file name under docs/ → the function that writes it
PAGES: dict[str, Callable[[], str]] = {
    "datasets.md": datasets_markdown,
    "settings.md": settings_markdown,
}


def write_docs(root: Path) -> list[Path]:
    """Write every generated page under root/docs; return the paths written."""
    written = []
    for name, page in PAGES.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page())
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the repository (default: the one holding this package)")
    for path in write_docs(parser.parse_args(argv).root):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
