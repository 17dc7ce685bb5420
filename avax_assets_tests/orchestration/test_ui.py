"""The Dagster UI in a real browser: dagster-webserver and dagster-daemon on loopback with the project's
workspace.yaml and dagster.yaml (storage moved to a temporary home), driven by Playwright in Debian's
Chromium. The run launched from the UI is queued, dequeued by the daemon and executed in its own
process against the real local services; screenshots land in artifacts/ui/."""

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import httpx
import pytest

from avax_assets_dev.local.services import HOST, _terminate
from avax_assets_tests.conftest import DEVCHAIN, REPO, service_port

UI_PORT = service_port(13300)
DAY = "2024-06-02"
ARTIFACTS = Path(os.environ.get("AVAX_TEST_ARTIFACTS", REPO / "artifacts")) / "ui"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_S = 300


class DagsterUI:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.url = f"http://{HOST}:{UI_PORT}"
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        with self.instance():  # the storage made once here: the webserver and the daemon making it at once collide
            pass
        bin_dir = Path(sys.executable).parent
        for name, command in (("webserver", [bin_dir / "dagster-webserver", "-h", HOST, "-p", str(UI_PORT)]),
                              ("daemon", [bin_dir / "dagster-daemon", "run"])):
            with open(self.home / f"{name}.log", "ab") as log:
                self.processes.append(subprocess.Popen([*map(str, command), "-w", "workspace.yaml"], cwd=REPO,
                                                       env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                       start_new_session=True))
        deadline = time.monotonic() + 180
        while not self._serving():
            if any(p.poll() is not None for p in self.processes) or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dagster-webserver/daemon did not come up; see logs in {self.home}")
            time.sleep(1)

    def stop(self) -> None:
        for process in self.processes:
            _terminate(process.pid, 20)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def _serving(self) -> bool:
        try:
            return httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def local_instance_config(home: Path) -> str:
    """The project's dagster.yaml with its SQLite storage moved into `home`."""
    config = (REPO / "dagster.yaml").read_text()
    moved = config.replace("base_dir: .avax-assets/dagster", f"base_dir: {home / 'storage'}")
    assert moved != config, "dagster.yaml no longer keeps its storage under .avax-assets/dagster"
    return moved


@pytest.fixture(scope="module")
def dagster_ui(pipeline_env, devchain, tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_ui_home")
    (home / "dagster.yaml").write_text(local_instance_config(home))
    env = {**os.environ, **pipeline_env, "DAGSTER_HOME": str(home),
           # the run processes need their own chDB directory: the test process holds the session's
           "AVAX_CLICKHOUSE_CHDB_PATH": str(home / "chdb"),
           # as deployments/local/ui.sh: a run's steps in its run worker (the fault drills run the
           # multiprocess executor, a process per step; here it would only add ~5 s of imports per step)
           "AVAX_DAGSTER_EXECUTOR": "in_process",
           "AVAX_LAKE_ROOT": f"s3://avax-ui-{uuid.uuid4().hex[:8]}"}
    ui = DagsterUI(home, env)
    ui.start()
    yield ui
    ui.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, dagster_ui):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(60_000)
    # A fresh instance greets the first visitor with a newsletter form, at a moment of its choosing:
    # whenever it shows, it is skipped before the next action. The click is dispatched on the button
    # itself: while the form animates in, its own layers cover it and a pointer click never lands.
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.dispatch_event("click"))
    yield page
    page.close()


def test_asset_graph_shows_the_datasets(page, dagster_ui):
    page.goto(f"{dagster_ui.url}/asset-groups")
    for group in ("chain", "tokens", "events", "network", "metrics", "subgraphs", "analytics", "sources"):
        page.get_by_text(group, exact=True).first.wait_for()
    page.goto(f"{dagster_ui.url}/locations/avax_assets/asset-groups/chain")
    list_tab = page.get_by_role("tab", name="List")
    list_tab.wait_for()
    page.screenshot(path=ARTIFACTS / "chain-asset-graph.png")
    # the lineage graph is wider than the window (its labels hidden when zoomed out to fit): read the list
    list_tab.click()
    for asset in ("blocks", "transactions", "logs", "internal_transactions"):
        page.get_by_text(asset, exact=True).first.wait_for()


def test_partition_materialized_from_the_ui(page, dagster_ui, devchain):
    page.goto(f"{dagster_ui.url}/assets/blocks")
    materialize = page.get_by_role("button", name="Materialize…")
    materialize.wait_for()
    materialize.click()
    # the launch dialog, not the newsletter form (a dialog too, its checkbox first) if that shows meanwhile
    dialog = page.get_by_role("dialog").filter(has=page.get_by_role("button", name=re.compile("^Launch")))
    partitions = dialog.locator("input:visible").first
    partitions.wait_for()
    # the local partitions end at the devchain's last day (AVAX_CHAIN_END_DATE): all of them are offered; a
    # dialog that still limits itself to the last 90 days shows them all on request
    if dialog.get_by_text("Show all partitions").count():
        dialog.get_by_text("Show all partitions").click()
    partitions.fill(DAY)
    partitions.press("Enter")
    dialog.get_by_role("button", name="Launch 1 run").click()

    with dagster_ui.instance() as instance:
        [run] = wait_for_runs(instance, {"dagster/partition": DAY}, count=1)
        assert run.status == dg.DagsterRunStatus.SUCCESS, f"run {run.run_id} ended {run.status}"
        event = instance.get_latest_materialization_event(dg.AssetKey("blocks"))
        first, last = devchain.blocks_by_day[DAY]
        assert event.run_id == run.run_id
        assert event.asset_materialization.partition == DAY
        assert event.asset_materialization.metadata["dagster/row_count"].value == last - first + 1

    page.goto(f"{dagster_ui.url}/runs/{run.run_id}")
    page.get_by_text("Success", exact=True).first.wait_for()
    page.screenshot(path=ARTIFACTS / "blocks-materialization-success.png")



def test_after_a_demo_style_fill_the_ui_shows_row_counts_check_descriptions_and_the_chart(page, dagster_ui,
                                                                                          resources, devchain):
    from avax_assets.catalogue import Catalogue
    from avax_assets.core.audits import unique_keys

    catalogue = Catalogue()
    with dagster_ui.instance() as instance:  # what the demo does: runs recorded in the instance the UI reads
        assert dg.materialize(catalogue.scope("chain"), partition_key=DAY, resources=resources,
                              instance=instance).success
        assert dg.materialize(catalogue.analytics, resources=resources, instance=instance).success
    first, last = devchain.blocks_by_day[DAY]

    page.goto(f"{dagster_ui.url}/assets/clickhouse_blocks")
    row_count = page.get_by_text("Row count", exact=True).first
    row_count.wait_for()
    assert str(last - first + 1) in row_count.locator("xpath=..").inner_text()
    page.screenshot(path=ARTIFACTS / "clickhouse-blocks-row-count.png")

    page.goto(f"{dagster_ui.url}/assets/clickhouse_blocks?view=checks")
    page.get_by_text("unique_keys", exact=True).first.click()
    page.get_by_text(unique_keys.__doc__.strip(), exact=False).first.wait_for()
    page.screenshot(path=ARTIFACTS / "clickhouse-blocks-check.png")

    page.goto(f"{dagster_ui.url}/assets/daily_chain_activity")
    page.get_by_text("[Show Markdown]").first.click()
    chart = page.locator("img[src^='data:image/png;base64,']").first
    chart.wait_for()
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 300  # the PNG decoded and laid out
    page.screenshot(path=ARTIFACTS / "daily-chain-activity-chart.png")


def documented_backfill_command() -> list[str]:
    lines = [line for line in (REPO / "docs" / "operations.md").read_text().splitlines()
             if "avax-assets backfill" in line and line.startswith("uv run")]
    assert len(lines) == 1, f"expected one backfill example in docs/operations.md, found {lines}"
    return shlex.split(lines[0])


@pytest.mark.timeout(RUN_TIMEOUT_S * 2)  # two daemon-launched runs of every chain step
def test_documented_backfill_command_works_as_written(dagster_ui, devchain):
    """The days of the range not done yet (another test of this instance may have filled one) are run by the
    daemon, and then every day of the range is loaded."""
    command = documented_backfill_command()
    days = [command[command.index("--from") + 1], command[command.index("--to") + 1]]
    from avax_assets.catalogue import Catalogue
    from avax_assets.orchestration.schedules import backfill_days

    keys = [key for asset in Catalogue().scope("chain") for key in asset.keys]
    with dagster_ui.instance() as instance:
        done_before = backfill_days(instance, "chain_daily", keys, days).done
    launched = subprocess.run(command, cwd=REPO, env=dagster_ui.env, capture_output=True, text=True, timeout=300)
    assert launched.returncode == 0, launched.stderr[-2000:]
    backfill_id = launched.stdout.split("backfill ")[1].split(":")[0]
    to_run = [day for day in days if day not in done_before]
    assert f"{len(to_run)} day{'' if len(to_run) == 1 else 's'} queued" in launched.stdout, launched.stdout

    with dagster_ui.instance() as instance:
        runs = wait_for_runs(instance, {"dagster/backfill": backfill_id}, count=len(to_run))
        assert sorted(r.tags["dagster/partition"] for r in runs) == to_run
        assert all(r.job_name == "chain_daily" and r.status == dg.DagsterRunStatus.SUCCESS for r in runs), \
            [(r.run_id, r.status) for r in runs]
        for day in days:
            first, last = devchain.blocks_by_day[day]
            loaded = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("clickhouse_blocks"), asset_partitions=[day]), limit=1)
            assert loaded.records[0].asset_materialization.metadata["dagster/row_count"].value == last - first + 1


def wait_for_runs(instance: dg.DagsterInstance, tags: dict[str, str], count: int) -> list[dg.DagsterRun]:
    deadline = time.monotonic() + RUN_TIMEOUT_S * count
    while time.monotonic() < deadline:
        runs = instance.get_runs(dg.RunsFilter(tags=tags))
        if len(runs) == count and all(r.is_finished for r in runs):
            return runs
        time.sleep(3)
    raise AssertionError(f"runs tagged {tags} not finished: {[(r.run_id, r.status) for r in runs]}")



@pytest.fixture(scope="module")
def demo_filled(dagster_ui, stack, devchain):
    """What the demo leaves in the instance the UI reads: every local day through the named daily jobs, run as
    the demo runs them (the fixture servers as the AvaCloud APIs and The Graph), then the views. Yields the run
    ids by job and the partitioned assets."""
    from avax_assets.catalogue import SCOPES, Catalogue, build_resources
    from avax_assets.orchestration.configured import partition_settings
    from avax_assets.orchestration.partitions import Partitions
    from avax_assets_dev.demo import named_runs, run_named_job

    started = [s for s in (stack.avacloud, stack.graph) if not (s.pid() and s.is_ready())]
    try:
        for service in started:
            service.start()
        fixtures = {k: v for k, v in stack.environment(with_fixtures=True).items() if k not in stack.environment()}
        environ = {**os.environ, **fixtures}
        catalogue = Catalogue(Partitions.from_settings(partition_settings(environ)))
        definitions = catalogue.definitions(build_resources(environ), dg.in_process_executor)
        runs: dict[str, list[str]] = {}
        with dagster_ui.instance() as instance:
            for label, job, day in named_runs([day.isoformat() for day in DEVCHAIN.dates]):
                result = run_named_job(definitions, instance, job, day)
                assert result.success, f"{label}: run {result.run_id} failed"
                runs.setdefault(job, []).append(result.run_id)
        partitioned = sorted(key.to_user_string() for scope in SCOPES for a in catalogue.scope(scope) for key in a.keys)
        yield runs, partitioned
    finally:
        for service in started:
            service.stop()


@pytest.mark.timeout(RUN_TIMEOUT_S * 3)  # the demo's 19 runs, in this process
def test_after_the_demo_every_local_partition_is_filled_and_its_runs_are_the_named_jobs(browser, dagster_ui,
                                                                                       demo_filled):
    runs, partitioned = demo_filled
    days = [day.isoformat() for day in DEVCHAIN.dates]
    # wide enough for the longest names (clickhouse_teleporter_…); tall enough that the catalog draws every row
    # at once (it draws only the rows in view, 64 px each, and loads the statuses of those drawn)
    page = browser.new_page(viewport={"width": 2400, "height": min(72 * (len(partitioned) + 40), 12_000)})
    page.set_default_timeout(60_000)
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.dispatch_event("click"))
    try:
        page.goto(f"{dagster_ui.url}/assets")
        statuses = catalog_statuses(page, partitioned, filled=f"All 0 0 0 {len(days)} partitions")
        page.screenshot(path=ARTIFACTS / "catalog-after-the-demo.png")
        # the status reads: materialized, missing, failed, in progress (All: every partition), then how many
        assert not [name for name, status in statuses.items() if status != f"All 0 0 0 {len(days)} partitions"], \
            statuses

        page.goto(f"{dagster_ui.url}/assets/blocks?view=partitions")  # the local range is the devchain's days
        page.get_by_text(f"Materialized ({len(days)})").wait_for()
        page.get_by_text("Missing (0)").wait_for()
        for day in days:
            page.get_by_text(day, exact=True).first.wait_for()

        for job, run_ids in runs.items():  # every run on its job's page (which lists its code location's runs)
            page.goto(f"{dagster_ui.url}/locations/avax_assets/jobs/{job}/runs")
            for run_id in run_ids:
                page.get_by_text(run_id[:8], exact=True).wait_for()
        page.screenshot(path=ARTIFACTS / "named-job-runs.png")
    finally:
        page.close()


def named(shown: str, assets: list[str]) -> str | None:
    """The asset a catalog row shows: its name, or the one asset its name cut short (…) begins."""
    if shown in assets:
        return shown
    begun = [name for name in assets if shown.endswith("…") and name.startswith(shown[:-1])]
    return begun[0] if len(begun) == 1 else None


def catalog_statuses(page, assets: list[str], filled: str) -> dict[str, str]:
    """Each asset's status in the catalog (its row's last five lines), once every one reads `filled`, or as it
    is after 240 s. The statuses of the rows in view load a few at a time ("—" until then): the table is
    scrolled on only once every row in view has its status."""
    deadline, statuses, turn = time.monotonic() + 240, {}, 0
    page.mouse.move(800, 500)  # over the table: the wheel scrolls it
    while time.monotonic() < deadline:
        loading = False
        for lines in (row.split("\n") for row in page.locator("[class*='VirtualizedTable_row']").all_inner_texts()):
            name = named(lines[0], assets)
            if name and "—" in lines[-5]:
                loading = True
                statuses.setdefault(name, " ".join(lines[-5:]))
            elif name:
                statuses[name] = " ".join(lines[-5:])
        if len(statuses) == len(assets) and all(status == filled for status in statuses.values()):
            break
        if not loading:  # rows beyond the window are drawn once scrolled to: down the table, then from the top
            turn += 1
            page.mouse.wheel(0, -100_000 if turn % 4 == 0 else 1500)
        time.sleep(1)
    return {name: statuses.get(name, "(no row)") for name in assets}
