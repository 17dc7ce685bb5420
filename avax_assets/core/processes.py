"""Processes: whether one is still running (to tell a killed process's leftovers from live ones), when it
started (so a pid taken again by a later process is not mistaken for it), a child that ends when its
parent is killed, a process asked to stop (SIGTERM, SIGHUP) that cleans up first, as on Ctrl-C, memory
handed back between steps, and the cycle collector run less often while a step works."""

from __future__ import annotations

import _thread
import ctypes
import ctypes.util
import gc
import logging
import multiprocessing
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def process_start(pid: int) -> str | None:
    """The boot and the clock tick at which the process started; None where /proc cannot tell (no such
    process, or not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


_watching_parent = False


def end_with_parent(grace_s: float = 5.0) -> None:
    """In a process started by `multiprocessing` (a step of Dagster's multiprocess executor): once the parent
    is gone (a run worker killed with SIGKILL cannot stop its children), interrupt the main thread so its
    cleanup runs, and exit after `grace_s` at the latest. No orphan keeps extracting or writing."""
    global _watching_parent
    parent = multiprocessing.parent_process()
    if parent is None or _watching_parent:
        return
    _watching_parent = True

    def watch() -> None:
        parent.join()
        log.warning("the parent process %s is gone: this step stops", parent.pid)
        _thread.interrupt_main()
        time.sleep(grace_s)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # what `kill` and a closed terminal send


@contextmanager
def interrupted_when_asked_to_stop() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread as Ctrl-C does, so the `finally`
    and `except` blocks that stop what the process started run before it ends (by default those signals end
    it at once, and the servers it started live on, orphaned). Outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.default_int_handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def not_interrupted() -> Iterator[None]:
    """Inside, Ctrl-C, SIGTERM and SIGHUP are ignored in the main thread: a cleanup that stops servers (seconds
    each, bounded) finishes instead of being cut short and leaving some of them running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, *STOP_SIGNALS)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _readable(sock: socket.socket, wait_s: float) -> bool:
    """Whether `sock` has something to read within `wait_s`. poll, not select: a process holding the embedded
    engine has well over 1,024 descriptors open, beyond what select can watch."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(wait_s * 1000))


class StopSignals:
    """Which of Ctrl-C and SIGTERM arrived while `noted()` is open, whichever Python handler ran for it: a
    Dagster run takes Ctrl-C over, and one that comes as a run ends reaches no step and is dropped. Every
    signal with a Python handler writes its number to the wakeup fd, which is read here. Outside the main
    thread nothing is noted."""

    STOPS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal: int | None = None  # the first stop signal received
        self._reader: socket.socket | None = None

    @contextmanager
    def noted(self) -> Iterator[StopSignals]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._reader = reader
        try:
            yield self
        finally:
            signal.set_wakeup_fd(previous)
            self.received()  # one that came in the last moment
            self._reader = None
            reader.close()
            writer.close()

    def received(self, wait_s: float = 0.0) -> list[int]:
        """The stop signals received since the last call, waiting up to `wait_s` for any signal."""
        reader = self._reader
        if reader is None or not _readable(reader, wait_s):
            return []
        try:
            numbers = reader.recv(64)
        except BlockingIOError:
            return []
        stops = [number for number in numbers if number in self.STOPS]
        self.signal = self.signal or (stops[0] if stops else None)
        return stops


YOUNG_COLLECTION_EVERY = 50_000  # allocations between collections of the youngest objects (Python's: 700)


@contextmanager
def collecting_less_often() -> Iterator[None]:
    """While inside (every asset body, the live services), the youngest objects are collected every
    YOUNG_COLLECTION_EVERY allocations; the thresholds before are restored on leaving. Decoding a chunk
    allocates millions of short-lived objects (structs, tuples, lists: freed by their counts, not by the
    collector), and the collections they set off walked the objects still alive again and again: on a
    twentieth of a mainnet day's extraction (benchmarks/node_headroom.py's node, 2 cores) the collector took
    ~1 s of ~6 s wall; with this, 6.0 -> 5.2 s wall and 8.6 -> 7.6 CPU-s (medians of 4, interleaved). Cyclic
    garbage waits longer: bounded by the allocations in between, not by the data. (Unlike gc.freeze, tried
    and reverted in c18f549/5109003, nothing is kept out of collection.)"""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], YOUNG_COLLECTION_EVERY), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


# glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8
_ALLOCATOR_BOUND = threading.Event()


def bound_the_allocators() -> None:
    """Keep freed memory from piling up in the allocators, once per process, before the steps' threads start
    (AVAX_LEAN_MEMORY). glibc: at most two arenas (one per thread otherwise, each keeping what its thread freed)
    and a fixed mmap threshold of 1 MiB (by default it rises to 32 MiB after the first large free, so the
    chunks' answers then come from arenas that hand nothing back); Arrow's jemalloc pool hands freed pages
    back at once. Measured on a mainnet day (benchmarks/mainnet_day.py, with the engine's free-after at
    500 ms; both runs on the machine as it was that evening): peak RSS 2,324 → 2,082 MB, CPU 721 → 719 s,
    wall 631 → 614 s; a tenth of a day 1,212 → 1,071 MB."""
    if _ALLOCATOR_BOUND.is_set():
        return
    _ALLOCATOR_BOUND.set()
    if hasattr(_LIBC, "mallopt"):  # glibc only
        _LIBC.mallopt(_M_ARENA_MAX, 2)
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
    import pyarrow as pa

    try:
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:  # a pyarrow built without jemalloc
        pass


def hand_back_freed_memory() -> None:
    """Return to the system what the allocators keep of freed memory: Arrow's pool, and glibc's arenas (one per
    thread that allocated). Between steps of one process (the in-process executor) the next step is another
    dataset's: measured after a tenth of a mainnet day's extraction, 150-400 MB that no object held any more."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if hasattr(_LIBC, "malloc_trim"):  # glibc only
        _LIBC.malloc_trim(0)
