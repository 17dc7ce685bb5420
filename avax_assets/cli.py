"""`avax-assets`: the project's command line for people who query the data.

    uv run avax-assets sql "SELECT count() FROM blocks"        # one query (--format table|csv|tsv|json|parquet)
    uv run avax-assets sql                                     # the prompt (statements end with ';', Ctrl-D quits)
    uv run avax-assets materialize --select blocks,clickhouse_blocks --partition 2024-06-01
    uv run avax-assets live follow | consume | status | topics  # the live path (avax_assets/live/)
    uv run avax-assets datasets                                 # every dataset: topic, table, key
    uv run avax-assets settings                                 # every AVAX_* variable: default, doc
    uv run avax-assets cluster-ddl [--cluster NAME] [--database avax]   # ClickHouse cluster DDL
    uv run avax-assets pools [list]                             # pools: limits, the runs holding them
    uv run avax-assets pools free-dead                          # give back the slots of killed runs
    uv run avax-assets pools apply [--production]               # pool limits on $DAGSTER_HOME's instance
    uv run avax-assets backfill --job chain_daily --from 2024-06-02 --to 2024-06-03   # queued for the daemon

`materialize` runs assets in one process on the instance of DAGSTER_HOME, after checking the names and
the partition (an unknown one gets the valid range and the variable that moves it, not a traceback); a bar
shows its steps as they end (Dagster's event log only with --verbose), then a line per asset and partition
says its rows. It first gives back the pool slots of runs whose process was killed, says every 10 s which
run holds a pool it waits for, and stops at once on SIGTERM or Ctrl-C (orchestration/claims.py).

`sql` opens the same ClickHouse the assets write, from the same settings (AVAX_CLICKHOUSE_*: the embedded
engine in .avax-assets/chdb unless AVAX_CLICKHOUSE_HOST names a server). The embedded engine allows one
process per directory: while a run holds it, the command says so and exits instead of waiting; the prompt
holds it only while a query runs, so loads and the live consumer go on between queries.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from avax_assets.core.errors import AvaxError, SettingError, TransientError

if TYPE_CHECKING:
    from rich.progress import Progress

    from avax_assets.orchestration.progress import Steps
    from avax_assets.orchestration.schedules import BackfillDays

MAX_WIDTH = 60  # characters per column; longer values (hashes, calldata) are cut with …


def render(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Rows as an aligned text table: numbers to the right, text to the left."""
    def cell(value) -> str:
        text = "NULL" if value is None else str(value)
        return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(row[i], (int, float)) for row in rows if row[i] is not None)
               for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        cells = zip(values, widths, numeric, strict=True)
        return "  ".join(v.rjust(w) if right else v.ljust(w) for v, w, right in cells).rstrip()

    footer = f"({len(rows)} row{'' if len(rows) == 1 else 's'})"
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(row) for row in cells), footer])


def warehouse():
    from avax_assets.catalogue import build_resources

    clickhouse = build_resources()["clickhouse"].model_copy(update={"chdb_lock_wait_s": 0})
    found = clickhouse.warehouse()
    with _engine_stderr_silenced():  # the engine prints its own lock error; ours says it in one line
        found.client.query("SELECT 1")  # refused at once while another process holds the embedded engine
    return found


@contextmanager
def _engine_stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def sql(query: str | None, output_format: str = "table") -> int:
    """One statement (or several, `;`-separated), or the prompt when none is given."""
    from avax_assets.console import HISTORY_FILE, Console, statements
    from avax_assets.orchestration.configured import home_directory

    if output_format == "parquet" and sys.stdout.isatty():
        print("avax-assets sql: --format parquet writes binary: send it to a file (> day.parquet) or a pipe",
              file=sys.stderr)
        return 2
    try:
        console = Console(warehouse(), output_format)
    except AvaxError as exc:  # the engine is held by a run, or a setting is wrong: one line, no traceback
        print(f"avax-assets sql: {str(exc).split('. Held by: chDB said')[0]}", file=sys.stderr)
        return 1
    if query:
        return max((console.answer(statement) for statement in statements(query)), default=0)
    return console.prompt(Path(home_directory()) / HISTORY_FILE)


def materialize(select: str, partition: str | None, verbose: bool = False) -> int:
    import warnings

    if not verbose:
        warnings.simplefilter("ignore")
        # a retry's warning is said again by the failure line, if it comes to one: quiet until then (the
        # other warnings, e.g. waiting for the embedded engine, still show)
        logging.getLogger("avax_assets.core.http").setLevel(logging.ERROR)
    import dagster as dg

    from avax_assets.catalogue import Catalogue, build_resources
    from avax_assets.orchestration.configured import ensure_dagster_home, executor, partition_settings
    from avax_assets.orchestration.partitions import Partitions

    try:
        ensure_dagster_home()
        partitions = Partitions.from_settings(partition_settings())
        catalogue = Catalogue(partitions)
        assets = {key.to_user_string(): a
                  for a in [*(a for scope in catalogue.scopes for a in catalogue.scope(scope)), *catalogue.analytics]
                  for key in a.keys}
        names = [name.strip() for name in select.split(",") if name.strip()]
        if not names:
            raise SettingError("--select names no asset: give asset names, comma-separated "
                               "(e.g. blocks,clickhouse_blocks)")
        unknown = [name for name in names if name not in assets]
        if unknown:
            raise SettingError(f"no asset named {', '.join(unknown)}{_did_you_mean(unknown, assets)} "
                               "(avax-assets datasets lists the datasets; each has an extract asset of its name "
                               "and a load asset clickhouse_<name>)")
        unpartitioned = [name for name in names if assets[name].partitions_def is None]
        if partition is not None and unpartitioned:
            raise SettingError(f"{', '.join(unpartitioned)} {'is' if len(unpartitioned) == 1 else 'are'} not "
                               "partitioned by day: materialize without --partition, in a run of its own")
        for name in names:
            if assets[name].partitions_def is not None:
                if partition is None:
                    raise SettingError(f"{name} is partitioned by day: give --partition YYYY-MM-DD")
                partitions.check_key(name, assets[name].partitions_def, partition)
        resources = build_resources()
        executor()  # the setting is checked here too
    except AvaxError as exc:
        print(f"avax-assets materialize: {exc}", file=sys.stderr)
        return 2
    from rich.console import Console

    from avax_assets.orchestration import claims

    def say(line: str) -> None:
        print(f"avax-assets materialize: {line}", file=sys.stderr, flush=True)

    with dg.DagsterInstance.get() as instance:
        keys = {dg.AssetKey.from_user_string(name) for name in names}
        running = claims.run_of_the_same_day(instance, partition, keys)
        if running is not None:
            say(f"run {running.run_id} ({running.status.value}) is already materializing {partition} for "
                f"{', '.join(sorted(k.to_user_string() for k in (running.asset_selection or keys) & keys))}: "
                "wait for it (the Dagster UI's Runs), or stop it first")
            return 3
        with progress_bar(Console(stderr=True, highlight=False, soft_wrap=True)) as bar:
            task = bar.add_task(f"materializing{_label(partition)}", total=None)
            result, stopped_by = claims.materialize(
                instance, list({id(a): a for a in assets.values()}.values()), say,
                hear=lambda steps: bar.update(task, total=steps.total, completed=steps.done,
                                              description=progress_line(partition, steps)),
                selection=names, partition_key=partition, resources=resources,
                # quiet unless --verbose: a failure is said once, below, with where its full log is
                run_config={"loggers": {"console": {"config": {"log_level": "INFO" if verbose else "CRITICAL"}}}})
    if stopped_by is not None:
        say(f"stopped by {signal.Signals(stopped_by).name}"
            + (f"; run {result.run_id} marked failed" if result is not None else ""))
        return 128 + stopped_by
    for line in row_summary(result.get_asset_materialization_events()):
        print(line)
    if not result.success:
        say(f"{failure_line(result, partition)} (the whole log: run {result.run_id} in the Dagster UI, "
            "bash deployments/local/ui.sh, or --verbose)")
    print(f"run {result.run_id}: {'success' if result.success else 'FAILED'}")
    return 0 if result.success else 1


DAEMON_FRESH_S = 120  # a daemon heartbeat this recent: one is running to launch the queued runs


def backfill(job: str, first: str, last: str, again: bool = False) -> int:
    """A daily job's days `first`..`last` queued on the project's instance, one run per day (or per the job's
    backfill policy), as `dagster job backfill` does it; the daemon (ui.sh, or dagster-daemon) launches them.
    Only the days not done and not in flight are queued (unless `again`): the same command resumes a backfill
    whose runs were killed or failed."""
    import subprocess
    import time
    import warnings

    warnings.simplefilter("ignore")
    import dagster as dg

    from avax_assets.catalogue import Catalogue
    from avax_assets.orchestration.configured import ensure_dagster_home, partition_settings
    from avax_assets.orchestration.partitions import Partitions
    from avax_assets.orchestration.schedules import BackfillDays, backfill_days

    def say(line: str) -> None:
        print(f"avax-assets backfill: {line}", file=sys.stderr, flush=True)

    try:
        home = ensure_dagster_home()
        partitions = Partitions.from_settings(partition_settings())
        catalogue = Catalogue(partitions)
        jobs = {daily.name: daily for daily in catalogue.jobs}
        if job not in jobs:
            raise SettingError(f"no daily job named {job}{_did_you_mean([job], jobs)} (the jobs: {', '.join(jobs)})")
        days = catalogue.days_of(jobs[job])
        for day in (first, last):
            partitions.check_key(job, days, day)
        if last < first:
            raise SettingError(f"--to {last} is before --from {first}")
    except AvaxError as exc:
        say(str(exc))
        return 2
    in_range = [day for day in days.get_partition_keys() if first <= day <= last]
    keys = [key for asset in catalogue.scope(jobs[job].scope) if asset.partitions_def is not None
            for key in asset.keys]
    with dg.DagsterInstance.get() as instance:
        plan = BackfillDays(in_range, [], {}) if again else backfill_days(instance, job, keys, in_range)
    left = _days_left_out(plan)
    if not plan.to_run:
        print(f"{job} {first}..{last}: nothing to queue, {left} (--again runs the done days again)")
        return 0
    # the code location as the daemon knows it (the project's workspace.yaml names it), else the module
    workspace = next((p for p in (Path("workspace.yaml"), Path(home) / "workspace.yaml") if p.is_file()), None)
    location = ["-w", str(workspace)] if workspace else ["-m", "avax_assets.definitions"]
    chosen = ["--from", first, "--to", last] if plan.to_run == in_range else ["--partitions", ",".join(plan.to_run)]
    # DAGSTER_HOME: set in this process's environment by ensure_dagster_home, inherited
    done = subprocess.run([sys.executable, "-W", "ignore", "-m", "dagster", "job", "backfill", *location,
                           "-j", job, *chosen, "--noprompt"], capture_output=True, text=True)
    if done.returncode != 0:
        said = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        say(f"dagster refused the backfill: {said[-1] if said else f'exit status {done.returncode}'}")
        return 1
    launched = re.search(r"Launched backfill job `([^`]+)`", done.stdout)
    print(f"backfill {launched.group(1) if launched else '(no id said)'}: {job} {first}..{last}, "
          f"{_days(len(plan.to_run))} queued{f' ({left})' if left else ''} on the instance in {home} "
          "(the UI: Overview → Backfills)")
    with dg.DagsterInstance.get() as instance:
        beats = instance.get_daemon_heartbeats().values()
    if not any(time.time() - beat.timestamp < DAEMON_FRESH_S for beat in beats):
        say("no Dagster daemon is running, so the runs wait in the queue: start one with "
            "bash deployments/local/ui.sh (or uv run dagster-daemon run -w workspace.yaml)")
    return 0


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def _days_left_out(plan: BackfillDays) -> str:
    """The days a backfill leaves out, and why: done already, or in a run not ended (its id)."""
    parts = [f"{_days(len(plan.done))} done"] if plan.done else []
    if plan.in_flight:
        runs = ", ".join(f"{day} (run {run_id[:8]})" for day, run_id in sorted(plan.in_flight.items())[:3])
        more = f" and {len(plan.in_flight) - 3} more" if len(plan.in_flight) > 3 else ""
        parts.append(f"{_days(len(plan.in_flight))} queued or running already: {runs}{more}")
    return "; ".join(parts)


def progress_bar(console) -> Progress:
    """The bars of the demo and of `materialize`: what is being done, how far it is, for how long."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<44}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


def progress_line(partition: str | None, steps: Steps) -> str:
    """What the run does now (the steps running), or how it ended."""
    if steps.running:
        more = f" (+{len(steps.running) - 1})" if len(steps.running) > 1 else ""
        return f"materializing{_label(partition)}: {steps.running[0]}{more}"
    if steps.failed:
        return f"materializing{_label(partition)}: {steps.failed} step{'s' * (steps.failed > 1)} failed"
    return f"{'materialized' if steps.done == steps.total else 'materializing'}{_label(partition)}"


def _label(partition: str | None) -> str:
    return f" {partition}" if partition else ""


ERROR_CLASS = re.compile(r"^avax_assets[.\w]*: ")  # the project's errors say what happened without their class


def failure_line(result, partition: str | None = None) -> str:
    """The first failed step's error (or failed blocking check) in one line, with the partition: what the
    project's errors say (the cause, the dataset, the setting to change); how many other steps failed."""
    failures = [event for event in result.all_events if event.is_step_failure]
    if failures:
        data = failures[0].step_failure_data
        said = data.user_failure_data.description if data.user_failure_data else None
        error = data.error
        text = said or (error.cause.message if error and error.cause else error.message if error else "")
        first = ERROR_CLASS.sub("", (text.strip().splitlines() or ["(no message)"])[0])
        others = f" ({len(failures) - 1} other step{'s' * (len(failures) > 2)} failed too)" if len(failures) > 1 \
            else ""
        return f"{failures[0].step_key}{_label(partition)} failed: {first}{others}"
    failed_checks = [e.event_specific_data for e in result.all_events
                     if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed]
    if failed_checks:
        names = ", ".join(f"{c.asset_key.to_user_string()}.{c.check_name}" for c in failed_checks)
        return f"blocking checks failed: {names}"
    return "the run failed"


def row_summary(events) -> list[str]:
    """One line per asset and partition materialized: its rows (0 rows said as such)."""
    lines = []
    for event in events:
        materialization = event.event_specific_data.materialization
        rows = materialization.metadata.get("dagster/row_count")
        count = getattr(rows, "value", rows)
        partition = f" {materialization.partition}" if materialization.partition else ""
        said = "no rows" if count == 0 else f"{count:,} rows" if isinstance(count, int) else "done"
        lines.append(f"  {event.asset_key.to_user_string()}{partition}: {said}")
    return lines


def _did_you_mean(unknown: list[str], known) -> str:
    import difflib

    close = {name: difflib.get_close_matches(name, list(known), n=2) for name in unknown}
    hints = [f"{name} → {' or '.join(matches)}" for name, matches in close.items() if matches]
    return f"; did you mean {', '.join(hints)}?" if hints else ""


def live(service: str, ready_file: str | None, recreate: bool = False, chain: str | None = None) -> int:
    """A live service (follow: the heads into Kafka; consume: Kafka into ClickHouse) of every configured chain
    (or of `chain`, by name) until SIGTERM or Ctrl-C, or where they are (status), or their topics made (topics;
    --recreate: a one-partition topic that has more made again); 1 with the reason on a permanent error or a
    wrong setting."""
    import logging
    import threading
    import warnings

    warnings.simplefilter("ignore")
    # a service logs what it does; a one-shot command (status, topics) says only its answer or its failure
    running = service in ("follow", "consume")
    logging.basicConfig(level=logging.INFO if running else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    from avax_assets.core.http import Scrubbing

    for handler in logging.getLogger().handlers:
        handler.addFilter(Scrubbing())
    from avax_assets.catalogue import build_resources, configured_chains
    from avax_assets.live import services as live_services

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        resources, chains = build_resources(), _live_chains(configured_chains(), chain)
        if service == "status":
            return live_status(resources, chains)
        if service == "topics":
            return live_topics(resources, chains, recreate)
        if ready_file:
            Path(ready_file).write_text(str(os.getpid()))
        from avax_assets.core.processes import bound_the_allocators, collecting_less_often

        bound_the_allocators()  # a service runs for days: what it frees goes back, as in a run's steps
        with collecting_less_often():  # as in a run's steps
            if service == "follow":
                live_services.follow_chains(resources, stop, chains)
            else:
                live_services.consume(resources, stop, chains)
        return 0
    except AvaxError as exc:
        from avax_assets.orchestration.configured import no_local_stack_hint

        hint = no_local_stack_hint() if isinstance(exc, TransientError) else ""
        print(f"avax-assets live {service}: {exc}{hint}", file=sys.stderr)
        return 1


def _live_chains(chains: tuple, name: str | None) -> tuple:
    """The configured chains, or the one named (`home` names the home chain)."""
    if name is None:
        return chains
    named = [c for c in chains if (c.scope or "home") == name]
    if not named:
        known = ", ".join(c.scope or "home" for c in chains)
        raise SettingError(f"--chain {name}: no such configured chain (configured: {known}; AVAX_CHAINS)")
    return tuple(named)


def live_status(resources: dict, chains: tuple) -> int:
    from avax_assets.chain.resources import ChainRpcResource
    from avax_assets.live import services as live_services

    rows, warehouse = [], resources["clickhouse"].warehouse()
    for chain in chains:
        live = live_services.live_chain(resources, chain)
        with resources[ChainRpcResource.key_of(chain.scope)].reader() as reader:
            head = reader.latest_block()
        try:
            status = live_services.live_status(warehouse, live.datasets, head)
        except Exception:  # noqa: BLE001 - the table is made by the consumer's first start
            status = {}
        rows += [[chain.scope or "home", chain.chain_id, d.name, s["live/last_block"], s["live/head"],
                  s["live/lag_blocks"], s["live/lag_s"], s["live/loaded_at"]]
                 for d in live.datasets if (s := status.get(d.qualified_name))]
    if not rows:
        print("avax-assets live status: the live path has loaded nothing yet", file=sys.stderr)
        return 1
    print(render(["chain", "chain_id", "dataset", "last_block", "head", "lag_blocks", "lag_s", "loaded_at"], rows))
    return 0


def live_topics(resources: dict, chains: tuple, recreate: bool) -> int:
    from avax_assets.live import services as live_services
    from avax_assets.live.topics import ensure_live_topics, recreate_one_partition_topics

    publisher = resources["kafka"].publisher()
    for chain in chains:
        live = live_services.live_chain(resources, chain)
        if recreate:
            for made_again in recreate_one_partition_topics(publisher, live):
                print(f"avax-assets live topics: made again with one partition: {made_again}")
        else:
            ensure_live_topics(publisher, live)
        topics = len(live.datasets) + len(live.one_partition_topics)
        print(f"avax-assets live topics: the {topics} live topics of {live.label} are there, on {publisher.servers}")
    return 0


def datasets() -> int:
    from avax_assets.catalogue import DATASETS

    for dataset in DATASETS.values():
        print(f"{dataset.name:24} {dataset.topic:32} key ({', '.join(dataset.key)})")
    return 0


def settings() -> int:
    from avax_assets.catalogue import SETTINGS

    rows = [[v.name, _shown(v.default), "yes" if v.secret else "", v.doc]
            for model in SETTINGS for v in model.variables()]
    print(render(["variable", "default", "secret", "what it sets"], rows))
    return 0


def _shown(value) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def cluster_ddl(cluster: str | None, database: str) -> int:
    from avax_assets.catalogue import DATASETS
    from avax_assets.core.clickhouse_cluster import ClusterLayout, cluster_ddl as ddl

    layout = ClusterLayout(cluster=cluster) if cluster else ClusterLayout()
    for statement in ddl(DATASETS.values(), database, layout):
        print(statement + ";\n")
    return 0


def pools(action: str, production: bool) -> int:
    import dagster as dg

    from avax_assets.orchestration import claims
    from avax_assets.orchestration.pools import LOCAL_LIMITS, PRODUCTION_LIMITS, apply_limits

    from avax_assets.orchestration.configured import ensure_dagster_home

    try:
        ensure_dagster_home()
    except AvaxError as exc:
        print(f"avax-assets pools: {exc}", file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        if action == "list":
            print(render(*claims.pool_rows(instance)))
        elif action == "free-dead":
            print("\n".join(claims.free_dead_claims(instance)) or "no claims of dead runs")
        else:
            limits = PRODUCTION_LIMITS if production else LOCAL_LIMITS
            apply_limits(instance, limits)
            for pool, limit in limits.items():
                print(f"pool {pool}: {limit}")
    return 0


def command(commands, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary (in `avax-assets --help`) and examples (in its own --help)."""
    return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                               epilog=examples, formatter_class=argparse.RawDescriptionHelpFormatter)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("avax-assets")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="avax-assets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    from avax_assets.console import EXAMPLES, FORMATS

    query = commands.add_parser("sql", help="query the ClickHouse tables (no query: an interactive prompt)",
                                description="Query the tables the assets write (database avax by default), "
                                            "like clickhouse-client.", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    query.add_argument("query", nargs="?", help="one statement, or several separated by ';' (none: the prompt)")
    query.add_argument("--format", choices=list(FORMATS), default="table",
                       help="table (default), csv, tsv, json (one object per line), parquet (to a file or pipe)")
    run = command(commands, "materialize", "materialize assets in one process (names and day checked first)",
                  """examples:
  avax-assets materialize --select blocks,clickhouse_blocks --partition 2024-06-01
  avax-assets materialize --select erc20_transfers,clickhouse_erc20_transfers --partition 2024-06-02
  avax-assets materialize --select daily_chain_activity      # a view: no --partition""")
    run.add_argument("--select", required=True, help="asset names, comma-separated (avax-assets datasets)")
    run.add_argument("--partition", help="the UTC day, YYYY-MM-DD, of partitioned assets")
    run.add_argument("--verbose", action="store_true", help="Dagster's event log and warnings too")
    stream = command(commands, "live", "the live path's services: follow the head into Kafka, consume it into "
                     "ClickHouse, or show where they are", """examples:
  avax-assets live status                # per chain and dataset: last block loaded, head, lag
  avax-assets live follow                # every configured chain, until Ctrl-C (services.sh up --with-live
                                         # runs the follower and the consumer)
  avax-assets live consume --chain devl1 # one chain (AVAX_CHAINS names them; home: the home chain)
  avax-assets live topics --recreate     # the manifest topic made again with one partition""")
    stream.add_argument("service", choices=["follow", "consume", "status", "topics"])
    stream.add_argument("--recreate", action="store_true", help="topics: a topic the live path needs with one "
                        "partition that has more is deleted (its messages dropped) and made again with one")
    stream.add_argument("--chain", help="one configured chain by name (home: the home chain); default: every one")
    stream.add_argument("--ready-file", help="written with the process id once the service runs (services.sh)")
    command(commands, "datasets", "every dataset: its Kafka topic, table and key",
            "example:\n  avax-assets datasets | grep erc20")
    command(commands, "settings", "every AVAX_* variable: its default, bounds and what it sets",
            "example:\n  avax-assets settings | grep AVAX_RPC_")
    ddl = command(commands, "cluster-ddl", "the DDL of replicated tables on a ClickHouse cluster",
                  "example:\n  avax-assets cluster-ddl --cluster avax > cluster.sql")
    ddl.add_argument("--cluster", help="the cluster's name (default: the {cluster} macro)")
    ddl.add_argument("--database", default="avax")
    pool = command(commands, "pools", "the pools of the Dagster instance: list them with the runs holding them, "
                   "free the slots of killed runs, set their limits", """examples:
  avax-assets pools                      # limits, the runs holding or waiting for each pool
  avax-assets pools free-dead            # give back the slots of runs whose process is gone
  avax-assets pools apply --production   # rpc 4, avacloud 1, thegraph 2, clickhouse 4""")
    pool.add_argument("action", nargs="?", default="list", choices=["list", "free-dead", "apply"])
    pool.add_argument("--production", action="store_true", help="the production limits (else the local ones)")
    fill = command(commands, "backfill", "queue a daily job's days on the project's instance, for its daemon to "
                   "run (the UI shows them under Backfills)", """examples:
  avax-assets backfill --job chain_daily --from 2024-06-02 --to 2024-06-03
  avax-assets backfill --job metrics_daily --from 2024-05-01 --to 2024-05-31   # 31 days in one run
  the same command again resumes it: only the days not done and not queued or running are queued""")
    fill.add_argument("--job", required=True, help="a daily job: chain_daily, network_daily, metrics_daily, …")
    fill.add_argument("--from", dest="first", required=True, help="the first UTC day, YYYY-MM-DD")
    fill.add_argument("--to", dest="last", required=True, help="the last UTC day, YYYY-MM-DD")
    fill.add_argument("--again", action="store_true", help="queue the days done already too (by default only "
                      "the days not done and not queued or running: the same command resumes a backfill)")
    args = parser.parse_args(argv)
    if args.command in ("datasets", "settings", "cluster-ddl"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
    if args.command == "live":
        raise SystemExit(live(args.service, args.ready_file, args.recreate, args.chain))
    if args.command == "sql":
        raise SystemExit(sql(args.query, args.format))
    if args.command == "datasets":
        raise SystemExit(datasets())
    if args.command == "settings":
        raise SystemExit(settings())
    if args.command == "cluster-ddl":
        raise SystemExit(cluster_ddl(args.cluster, args.database))
    if args.command == "pools":
        raise SystemExit(pools(args.action, args.production))
    if args.command == "backfill":
        raise SystemExit(backfill(args.job, args.first, args.last, args.again))
    raise SystemExit(materialize(args.select, args.partition, args.verbose))


if __name__ == "__main__":
    main()
