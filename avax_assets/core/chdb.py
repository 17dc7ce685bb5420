"""The embedded ClickHouse (chDB), shared by processes: chDB allows one process per data directory, so
every open is short and under a file lock in the directory (its holder's pid and command written in it).
Opens nest within a process; a client holds the engine only for a statement or a session."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from avax_assets.core.errors import ClickHouseBusy

LOCK_WAIT_S = 120.0  # how long an open waits for another process to release the directory (default)
SAY_EVERY_S = 10.0  # a waiting open says so this often

log = logging.getLogger(__name__)
FREE_AFTER_MS = 500  # the engine's allocator hands freed memory back after this (its own default: 5,000)
# Background merges the engine runs at once (its own default: 4). A load's day of 8,192-row parts is merged
# in the background of this process, ~100 parts a merge: measured on a mainnet day's transactions, each merge
# held up to ~250 MB, four at once +946 MB, one at a time +283 MB, for the same CPU (benchmarks/README.md).
MERGES_AT_ONCE = 1

# What chDB says when another process holds the directory: the lock, or (on later tries) only its
# embedded server failing to start.
HELD_SIGNS = ("Cannot lock file", "Error initializing EmbeddedServer")
LOCK_FILE = ".avax-assets.lock"  # in the engine's directory: who holds it (pid and command) while it is open


@dataclass
class _OpenEngine:
    client: object
    lock: int  # the locked file's descriptor; closing it releases the lock
    users: int = 0


_engines: dict[str, _OpenEngine] = {}
_engines_lock = threading.RLock()


@contextmanager
def held_engine(path: str, lock_wait_s: float = LOCK_WAIT_S, poll_s: float = 0.25,
                merges_at_once: int = MERGES_AT_ONCE):
    """The embedded engine at `path`, open for this block and closed after it, so that another process (a
    Dagster load, the live consumer, the sql console) can open it next: chDB allows one process per
    directory. Opens nest within a process (the innermost reuses the outer one's client). While another
    process holds it, wait up to `lock_wait_s` (AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S), then ClickHouseBusy.
    `merges_at_once`: the engine's background merges at a time, taken when it is opened."""
    path = os.path.realpath(path)  # one engine per directory, however it is spelled
    with _engines_lock:
        engine = _engines.get(path) or _open(path, lock_wait_s, poll_s, merges_at_once)
        _engines[path] = engine
        engine.users += 1
    try:
        yield engine.client
    finally:
        with _engines_lock:
            engine.users -= 1
            if engine.users == 0:
                del _engines[path]
                try:
                    engine.client.close()
                finally:
                    os.close(engine.lock)


def _open(path: str, lock_wait_s: float, poll_s: float, merges_at_once: int) -> _OpenEngine:
    import clickhouse_connect

    Path(path).mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_wait_s
    lock = os.open(Path(path) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(lock, 200, 0).decode(errors="replace").strip()
                _wait_or_give_up(path, lock_wait_s, deadline, poll_s, f"process {holder}" if holder else "")
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{os.getpid()} {' '.join(sys.argv)[:150]}".encode(), 0)
        options = {"background_pool_size": merges_at_once, "background_merges_mutations_concurrency_ratio": 1}
        while True:  # a process that opened the engine without this lock (chDB itself, an older version)
            try:
                return _OpenEngine(clickhouse_connect.get_client(dsn=f"chdb://{path}", chdb_options=options), lock)
            except Exception as exc:
                if not any(sign in str(exc) for sign in HELD_SIGNS):
                    raise
                _wait_or_give_up(path, lock_wait_s, deadline, poll_s, f"chDB said: {str(exc)[-200:]}")
    except BaseException:
        os.close(lock)
        raise


def _wait_or_give_up(path: str, lock_wait_s: float, deadline: float, poll_s: float, holder: str) -> None:
    if time.monotonic() >= deadline:
        raise ClickHouseBusy(
            f"the embedded ClickHouse at {path} is held by another process; waited {lock_wait_s:g} s "
            f"(AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S). Held by: {holder or 'unknown'}. Run one load at a time (the "
            "'clickhouse' pool), or point AVAX_CLICKHOUSE_HOST at a ClickHouse server") from None
    left = deadline - time.monotonic()
    waited = lock_wait_s - left
    if int(waited / SAY_EVERY_S) != int((waited + poll_s) / SAY_EVERY_S) or waited < poll_s:
        log.warning("embedded ClickHouse at %s is held by %s: waited %.0f s, giving up in %.0f s "
                    "(AVAX_CLICKHOUSE_CHDB_LOCK_WAIT_S)", path, holder or "another process", waited, left)
    time.sleep(poll_s)


def _held(method: str):
    """The engine's `method`, with the engine held for the call (or the surrounding session)."""
    def call(self, *args, **kwargs):
        with self.session() as client:
            return getattr(client, method)(*args, **kwargs)

    call.__name__ = method
    return call


class EmbeddedClient:
    """A client of the embedded engine that holds it only while a statement runs (or for a whole
    `session()`): a process that keeps one does not keep the directory from others."""

    def __init__(self, path: str, lock_wait_s: float = LOCK_WAIT_S, poll_s: float = 0.25,
                 merges_at_once: int = MERGES_AT_ONCE) -> None:
        self.path, self.lock_wait_s, self.poll_s, self.merges_at_once = path, lock_wait_s, poll_s, merges_at_once

    def session(self):
        return held_engine(self.path, self.lock_wait_s, self.poll_s, self.merges_at_once)

    query = _held("query")
    command = _held("command")
    insert_arrow = _held("insert_arrow")
    query_arrow = _held("query_arrow")


def chdb_client(path: str, lock_wait_s: float = LOCK_WAIT_S, poll_s: float = 0.25,
                free_after_ms: int = FREE_AFTER_MS, merges_at_once: int = MERGES_AT_ONCE) -> EmbeddedClient:
    free_freed_memory_after(free_after_ms)
    return EmbeddedClient(path, lock_wait_s, poll_s, merges_at_once)


def free_freed_memory_after(ms: int) -> None:
    """How long the engine's own allocator (a jemalloc of its own, configured by JE_MALLOC_CONF when it loads)
    keeps freed pages. With its built-in 5 s a load's part writes hold ~900 MB more than they use (measured on
    a mainnet day's 2.5 M transactions: +870 MB); 500 ms: +610 MB, 0: +420 MB at half the load's speed
    (benchmarks/README.md). Only before the engine first loads in this process."""
    if "chdb" not in sys.modules:
        os.putenv("JE_MALLOC_CONF", f"dirty_decay_ms:{ms}")
