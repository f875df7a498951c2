"""Cases of a stats/compare run spread over an executor, results back in input order.

The same executors as ``medmask batch``: ``None`` runs here, ``workers > 1`` a process pool
on this machine, a ``dask.distributed`` address a cluster. Cases are sent in chunks so that
index-only runs over thousands of small archives do not pay one round trip per case.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
from typing import Any, Callable, Iterator, Sequence

from ..errors import MedMaskError


def chunks(items: Sequence[Any], workers: int, per_worker: int = 4) -> list[list[Any]]:
    """Consecutive runs of ``items``: about ``per_worker`` chunks a worker, so a slow case
    (a big scan) does not leave the other workers idle at the end."""
    if not items:
        return []
    n = max(1, min(len(items), workers * per_worker))
    size = -(-len(items) // n)
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


@contextlib.contextmanager
def executor_for(workers: int = 1, dask: str | None = None) -> Iterator[cf.Executor | None]:
    """The executor ``-j N`` / ``--dask ADDRESS`` ask for (None: this process), shut down after."""
    if workers < 1:
        raise MedMaskError(f"-j/--workers must be at least 1, not {workers}")
    if dask:
        try:
            from distributed import Client
        except ImportError:
            raise MedMaskError("--dask needs the 'distributed' package (pip install 'dask[distributed]')") from None
        client = Client(dask)
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    if workers == 1:
        yield None
        return
    from ..batch import process_pool

    pool = process_pool(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def map_chunks(fn: Callable[[list[Any]], Any], items: Sequence[Any], executor: cf.Executor | None,
               workers: int) -> list[Any]:
    """``[fn(chunk) for chunk in chunks(items)]``, run on ``executor``; order kept.

    ``fn`` must be a module-level function (process pools and dask pickle it)."""
    parts = chunks(items, workers)
    if executor is None:
        return [fn(part) for part in parts]
    futures = [executor.submit(fn, part) for part in parts]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        raise
