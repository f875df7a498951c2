"""Sizes medmask refuses to believe. A header may lie; these caps bound what a lie can cost.

``MAX_VOXELS`` bounds a declared volume (default 2**31 voxels, e.g. 1024 x 1024 x 2048);
set ``MEDMASK_MAX_VOXELS`` or assign ``medmask.limits.MAX_VOXELS`` for bigger data.

Remote reads wait ``REMOTE_CONNECT_TIMEOUT`` / ``REMOTE_READ_TIMEOUT`` seconds at most, and read
at most ``MAX_REMOTE_DOWNLOAD`` bytes (``MEDMASK_MAX_REMOTE_DOWNLOAD``) from a server that ignores
HTTP Range requests (see ``medmask.storage.remote``).

``MEMORY_BUDGET`` bounds every allocation a read makes (a decoded crop, a full volume,
an index parse): asking for more raises ``LimitError`` naming the file and the bytes,
before anything is allocated. Default: half of the memory this process can have (the
smallest of physical RAM, the cgroup limit and ``RLIMIT_AS``); set ``MEDMASK_MEMORY_BUDGET``
(bytes, or with a K/M/G/T suffix) or assign ``medmask.limits.MEMORY_BUDGET``.
"""
from __future__ import annotations

import os

from .errors import LimitError

MAX_VOXELS: int = int(os.environ.get("MEDMASK_MAX_VOXELS", 1 << 31))
MAX_INDEX_BYTES: int = 256 << 20   # decompressed index JSON
MAX_ENTRIES: int = 1_000_000
MAX_JSON_DEPTH: int = 64           # nesting of stored JSON (entry metadata); deeper is refused on write and read


def machine_memory() -> int | None:
    """Bytes this process can have at most: physical RAM, cgroup (container) limit, RLIMIT_AS."""
    found = []
    try:
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    for cgroup in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(cgroup) as f:
                value = f.read().strip()
            if value.isdigit() and int(value) < 1 << 60:
                found.append(int(value))
        except OSError:
            pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            found.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(found) if found else None


def usable_cores(cap: int = 8) -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count), at most ``cap``:
    the reader processes or encoder threads one case uses (each holds ~1 MB plus an organ)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, cap))


def parse_size(text: str) -> int:
    """'4G', '512M', '1048576' -> bytes."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def default_budget() -> int:
    env = os.environ.get("MEDMASK_MEMORY_BUDGET")
    if env:
        return parse_size(env)
    total = machine_memory()
    return total // 2 if total else 4 << 30


MEMORY_BUDGET: int = default_budget()

# remote reads (URLs): a request waits at most this long for a connection, and for the next bytes
# of an answer (override per call with storage_options={"connect_timeout": s, "read_timeout": s})
REMOTE_CONNECT_TIMEOUT: float = 10.0
REMOTE_READ_TIMEOUT: float = 20.0
# a server that ignores HTTP Range sends the whole file for every read: medmask reads it once, up to this
MAX_REMOTE_DOWNLOAD: int = parse_size(os.environ.get("MEDMASK_MAX_REMOTE_DOWNLOAD", "128M"))


def human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def check_allocation(nbytes: int, what: str, path: str | os.PathLike | None = None) -> None:
    """LimitError naming ``path`` and the bytes if ``what`` would allocate more than the budget."""
    if nbytes > MEMORY_BUDGET:
        raise LimitError(f"{what} needs {nbytes} bytes ({human(nbytes)}), more than the memory budget "
                         f"{human(MEMORY_BUDGET)} (raise medmask.limits.MEMORY_BUDGET or MEDMASK_MEMORY_BUDGET "
                         f"if this file is genuine)", path)
