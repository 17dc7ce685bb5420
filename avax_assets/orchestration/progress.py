"""A run's progress, read from its event log while it executes: which of its steps ended and which run now.
The event log is where every executor writes (in this process, a process per step, a run worker), so the
same reading serves each of them and Dagster's own log lines can stay out of the terminal.

    with followed(instance, tags, hear):   # hear(Steps) on every change, and once more when the run ends
        dg.materialize(…, tags=tags)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.dagster_run import RunsFilter

ENDED = {dg.DagsterEventType.STEP_SUCCESS: "succeeded", dg.DagsterEventType.STEP_FAILURE: "failed",
         dg.DagsterEventType.STEP_SKIPPED: "skipped"}
READ_EVERY_S = 0.5


@dataclass(frozen=True)
class Steps:
    """Where a run is: its steps that ended (by outcome) and those running, out of all it executes."""

    run_id: str
    total: int
    ended: Mapping[str, str]  # step key → succeeded, failed or skipped
    running: tuple[str, ...]

    @property
    def done(self) -> int:
        return len(self.ended)

    @property
    def failed(self) -> int:
        return sum(outcome == "failed" for outcome in self.ended.values())


class RunSteps:
    """The steps of the run tagged `tags` that started after this was made (a run of the same tags before it is
    not this one), read a little more at each call."""

    def __init__(self, instance: dg.DagsterInstance, tags: Mapping[str, str]) -> None:
        self.instance, self.tags = instance, dict(tags)
        self._earlier = {run.run_id for run in instance.get_runs(RunsFilter(tags=self.tags))}
        self._run: dg.DagsterRun | None = None
        self._total = 0
        self._cursor: str | None = None
        self._ended: dict[str, str] = {}
        self._started: list[str] = []

    def read(self) -> Steps | None:
        """The run's steps so far; None while the run does not exist yet."""
        if self._run is None and not self._find():
            return None
        while True:
            found = self.instance.get_records_for_run(self._run.run_id, cursor=self._cursor, of_type={
                dg.DagsterEventType.STEP_START, *ENDED}, limit=1000)
            for record in found.records:
                event = record.event_log_entry.dagster_event
                if event.event_type in ENDED:
                    self._ended[event.step_key] = ENDED[event.event_type]
                elif event.step_key not in self._started:
                    self._started.append(event.step_key)
            self._cursor = found.cursor
            if not found.has_more:
                break
        running = tuple(step for step in self._started if step not in self._ended)
        return Steps(self._run.run_id, max(self._total, len(self._ended)), dict(self._ended), running)

    def _find(self) -> bool:
        runs = [run for run in self.instance.get_runs(RunsFilter(tags=self.tags), limit=len(self._earlier) + 1)
                if run.run_id not in self._earlier]
        if not runs:
            return False
        self._run = runs[0]
        plan = self.instance.get_execution_plan_snapshot(self._run.execution_plan_snapshot_id)
        self._total = len(plan.step_keys_to_execute)
        return True


@contextmanager
def followed(instance: dg.DagsterInstance, tags: Mapping[str, str], hear: Callable[[Steps], None]) -> Iterator[None]:
    """While the body runs, `hear` gets the steps of the run tagged `tags` whenever they change (from a thread
    of its own), and once more after it: the run's last state, as its event log holds it."""
    steps, stop = RunSteps(instance, tags), threading.Event()
    last: list[Steps | None] = [None]

    def tell() -> None:
        now = steps.read()
        if now is not None and now != last[0]:
            last[0] = now
            hear(now)

    def follow() -> None:
        while not stop.wait(READ_EVERY_S):
            try:
                tell()
            except Exception:  # noqa: BLE001 - progress is a view: the run goes on, the last read tells
                pass

    thread = threading.Thread(target=follow, name="run-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        try:
            tell()
        except Exception:  # noqa: BLE001 - the run's own outcome is what the caller reports
            pass
