"""The in-process timing rule the format and codec benchmarks share: one warm-up run, then the
median of ``repeat`` runs on the chosen clock (wall, or this process's CPU time when the machine
is busy)."""
from __future__ import annotations

import statistics
import time
from typing import Callable

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock: Callable[[], float] = time.perf_counter


def use_clock(name: str) -> None:
    global clock
    clock = CLOCKS[name]


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm caches (imports, page cache) so the runs compare like with like
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)
