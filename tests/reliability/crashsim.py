"""Writer processes killed with SIGKILL mid-write, and readers racing a writer (used by tests and soak scripts).

A deterministic cycle of operations: ``apply_op(path, s)`` turns state ``s`` into state
``(s + 1) % n``. The expected digest of each state is computed once in-process, so after
a kill the file on disk must be exactly state ``s`` or ``s + 1``.
"""
from __future__ import annotations

import glob
import json
import os
import random
import signal
import time

import numpy as np

from medmask import MaskArchive, SegmentationMask, save_mask

from . import hostile as H

SHAPE = (24, 40, 40)


def mask_for(k: int, dtype=np.uint8) -> SegmentationMask:
    """Deterministic, non-trivial mask number ``k`` (level-19 coding takes a few ms)."""
    rng = np.random.default_rng(k)
    arr = np.zeros(SHAPE, dtype)
    for label in (1, 2, 3):
        z, y, x = (int(rng.integers(0, s - 8)) for s in SHAPE)
        arr[z:z + 8, y:y + int(rng.integers(4, 30)), x:x + int(rng.integers(4, 30))] = label
    arr[rng.random(SHAPE) < 0.01] = 4
    return SegmentationMask(arr, {"a": 1, "b": 2, "c": 3, "speck": 4}, H.sample_space(SHAPE),
                            metadata={"k": k})


ARCHIVE_OPS = 8


def apply_archive_op(path: str, s: int, version: int = 2) -> None:
    """Archive cycle: reset, add, replace, delete, rename, metadata (v2), batch add+delete, replace."""
    s %= ARCHIVE_OPS
    if s == ARCHIVE_OPS - 1:  # -> state 0: a fresh archive with two entries written at once
        with MaskArchive(path, "w", format_version=version) as a:
            a.add_segmask(mask_for(0), "e0")
            a.add_segmask(mask_for(1), "e1")
        return
    a = MaskArchive(path, "a")
    try:
        if s == 0:
            a.add_segmask(mask_for(2), "e2")
        elif s == 1:
            a.replace("e0", mask_for(3))
        elif s == 2:
            a.remove("e1")
        elif s == 3:
            a.rename("e2", "e3")
        elif s == 4:
            if version == 2:
                a.set_attributes("e0", metadata={"reviewed": True}, colors={"a": "#ff0000"})
            else:
                a.replace("e0", mask_for(5))
        elif s == 5:
            with a:
                a.add_segmask(mask_for(4), "e4")
                a.remove("e0")
        elif s == 6:
            a.replace("e3", mask_for(6))
    finally:
        a.close()


MASK_OPS = 3


def apply_mask_op(path: str, s: int, version: int = 2) -> None:
    save_mask(mask_for(10 + (s + 1) % MASK_OPS), path, format_version=version)


def expected_states(directory: str, kind: str, version: int) -> tuple[list[str], float]:
    """Digests of every state of the cycle, and the mean time of one operation."""
    path = os.path.join(directory, f"expected_{kind}_v{version}.{'mska' if kind == 'archive' else 'msk'}")
    op, n = (apply_archive_op, ARCHIVE_OPS) if kind == "archive" else (apply_mask_op, MASK_OPS)
    op(path, n - 1, version)
    states = [H.outcome(path)[1]]
    t = time.perf_counter()
    for s in range(n - 1):
        op(path, s, version)
        states.append(H.outcome(path)[1])
    elapsed = (time.perf_counter() - t) / (n - 1)
    assert len(set(states)) == n, "states of the cycle must differ"
    os.unlink(path)
    return states, elapsed


def _writer_child(path: str, kind: str, version: int, start: int, wfd: int) -> None:
    op, n = (apply_archive_op, ARCHIVE_OPS) if kind == "archive" else (apply_mask_op, MASK_OPS)
    s = start
    while True:
        op(path, s, version)
        s = (s + 1) % n
        os.write(wfd, bytes([s]))


def fork(fn, *args) -> int:
    pid = os.fork()
    if pid == 0:  # child: never return into the parent's stack (pytest, atexit...)
        code = 0
        try:
            fn(*args)
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def collect_json(pids: list[int], pipes: list[int], who: str) -> list:
    """Each forked child's JSON result from its pipe, after checking it exited cleanly."""
    results = []
    for pid, r in zip(pids, pipes):
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        assert status == 0, f"{who} process failed (see its traceback above)"
        results.append(json.loads(data))
    return results


def crash_loop(directory: str, kind: str, version: int, kills: int, seed: int = 0, seconds: float | None = None) -> dict:
    """Kill a writer ``kills`` times (or for ``seconds``); after each kill the file must be a whole state."""
    rng = random.Random(seed)
    states, op_time = expected_states(directory, kind, version)
    n = len(states)
    path = os.path.join(directory, f"crash_{kind}_v{version}.{'mska' if kind == 'archive' else 'msk'}")
    (apply_archive_op if kind == "archive" else apply_mask_op)(path, n - 1, version)
    cur, done, advanced, stale = 0, 0, 0, 0
    deadline = None if seconds is None else time.monotonic() + seconds
    while (done < kills) if deadline is None else (time.monotonic() < deadline):
        r, w = os.pipe()
        pid = fork(_writer_child, path, kind, version, cur, w)
        os.close(w)
        time.sleep(rng.uniform(0, 3 * op_time))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        progress = b""
        while chunk := os.read(r, 4096):
            progress += chunk
        os.close(r)
        last = progress[-1] if progress else cur
        result, digest = H.outcome(path)
        assert result == "ok", f"kill {done}: the archive is unreadable ({digest})"
        allowed = {states[last]: last, states[(last + 1) % n]: (last + 1) % n}
        assert digest in allowed, f"kill {done}: file is neither state {last} nor {(last + 1) % n}"
        advanced += len(progress) + (allowed[digest] != last)
        cur = allowed[digest]
        if kind == "archive":
            MaskArchive(path).verify()
        leftovers = glob.glob(os.path.join(directory, f".{os.path.basename(path)}.*.tmp"))
        stale += len(leftovers)
        for f in leftovers:  # a killed writer cannot remove its temporary file
            os.unlink(f)
        done += 1
    return {"kind": kind, "version": version, "kills": done, "ops_completed": advanced,
            "op_ms": round(op_time * 1000, 2), "stale_tmp_files": stale}


# --- readers racing a writer -------------------------------------------------------------------
def _endless_writer(path: str, start: int) -> None:
    s = start
    while True:
        apply_archive_op(path, s)
        s = (s + 1) % ARCHIVE_OPS


def _reader_child(path: str, states: list[str], seconds: float, wfd: int, seed: int) -> None:
    rng = random.Random(seed)
    valid = set(states)
    stats = {"reads": 0, "bad": 0, "held_reads": 0, "seen": []}
    seen = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if rng.random() < 0.2:  # open, let the writer replace the file, then read through the old descriptor
            a = MaskArchive(path)
            time.sleep(rng.uniform(0, 0.02))
            digest = _digest_open(a)
            a.close()
            stats["held_reads"] += 1
        else:
            kind, digest = H.outcome(path)
        stats["reads"] += 1
        if digest not in valid:
            stats["bad"] += 1
        else:
            seen.add(states.index(digest))
    stats["seen"] = sorted(seen)
    os.write(wfd, json.dumps(stats).encode())


def _digest_open(a: MaskArchive) -> str:
    import hashlib
    h = hashlib.sha256()
    h.update(repr(sorted(H.v2.space_to_dict(a.space).items())).encode())
    for name in a.names:
        a.entry_info(name)
        h.update(name.encode())
        H._mask_digest(h, a.load_segmask(name))
    return h.hexdigest()


def race(directory: str, readers: int, seconds: float) -> dict:
    states, _ = expected_states(directory, "archive", 2)
    path = os.path.join(directory, "race.mska")
    apply_archive_op(path, ARCHIVE_OPS - 1)
    writer = fork(_endless_writer, path, 0)
    pipes, pids = [], []
    for i in range(readers):
        r, w = os.pipe()
        pids.append(fork(_reader_child, path, states, seconds, w, i))
        os.close(w)
        pipes.append(r)
    results = collect_json(pids, pipes, "a reader")
    os.kill(writer, signal.SIGKILL)
    os.waitpid(writer, 0)
    return {"readers": readers, "seconds": seconds, "reads": sum(x["reads"] for x in results),
            "held_reads": sum(x["held_reads"] for x in results), "inconsistent": sum(x["bad"] for x in results),
            "states_seen": sorted(set().union(*[x["seen"] for x in results]))}
