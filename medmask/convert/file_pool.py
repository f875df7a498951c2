"""The files of one case read on several cores, results in file order, a few files ahead of the consumer.

Why processes: inflating a 0.5 mm TotalSegmentator mask is ~270 steps of ~1 MB, each a call
that releases the GIL and takes it back. Two reader threads then spend much of their time
handing the GIL to each other: on 2 cores, ``medmask convert`` of a 273 M-voxel case took
7.4-7.8 s with threads and 5.2-5.4 s with forked processes (alternating runs, same files).
Forking is only safe while this process has no other thread (a lock held by another
thread at fork time stays held in the child forever), so processes are used only then, on
Linux, from the main thread; anything else (napari, a notebook, a progress bar already
running) gets threads. Warnings a worker process raises are replayed here, so callers see
the same warnings either way.
"""
from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import warnings
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

from ..errors import MedMaskError


def can_fork() -> bool:
    """Worker processes may be forked from here: Linux, the main thread, no other thread alive."""
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.current_thread() is threading.main_thread() and threading.active_count() == 1
            and not multiprocessing.current_process().daemon)


def make_pool(workers: int, processes: bool | None = None) -> Executor:
    """``workers`` forked processes when ``processes`` (None: when :func:`can_fork`), else threads.

    Create it before starting any thread of your own (a progress bar's monitor is one)."""
    if processes is not False and can_fork():
        # fork: the workers start with everything already imported (spawn re-imports numpy
        # and medmask in each, ~0.3 s); all of them are forked here, before any thread exists
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_worker_init)
        pool.submit(int).result()  # start them now
        return pool
    return ThreadPoolExecutor(workers, thread_name_prefix="medmask-read")


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool; a worker finishes
    # its file (~0.1 s) instead of dying mid-call with a traceback of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(fn: Callable, item: Any, record: bool) -> tuple[Any, BaseException | None, list]:
    """``fn(item)``: (result, MedMaskError raised, warnings raised). ``record``: in a worker
    process, whose warnings would otherwise be printed there and never reach the caller's
    filters (a thread must not record: the warnings filters are global to the process)."""
    if not record:
        try:
            return fn(item), None, []
        except MedMaskError as exc:
            return None, exc, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = fn(item), None
        except MedMaskError as exc:
            result, error = None, exc
    return result, error, [(w.message, w.category, w.filename, w.lineno) for w in caught]


def ordered_map(pool: Executor | None, fn: Callable, items: Iterable,
                ahead: int) -> Iterator[tuple[Any, BaseException | None]]:
    """(``fn(item)``, None) or (None, the MedMaskError it raised) per item, in order.

    At most ``ahead`` items are in flight (what they hold stays bounded); when the consumer
    stops early (an error, Ctrl-C) the rest are cancelled. ``fn`` must be picklable for a
    process pool (a module-level function, or a ``functools.partial`` of one). No pool: one
    item at a time, here."""
    if pool is None:
        for item in items:
            yield _call(fn, item, False)[:2]
        return
    record = isinstance(pool, ProcessPoolExecutor)
    pending: deque = deque()
    todo = iter(items)
    try:
        for item in todo:
            pending.append(pool.submit(_call, fn, item, record))
            if len(pending) >= ahead:
                break
        while pending:
            future = pending.popleft()
            nxt = next(todo, _END)
            if nxt is not _END:
                pending.append(pool.submit(_call, fn, nxt, record))
            result, error, caught = future.result()
            for message, category, filename, lineno in caught:
                warnings.warn_explicit(message, category, filename, lineno)
            yield result, error
    finally:
        for future in pending:
            future.cancel()


_END = object()
