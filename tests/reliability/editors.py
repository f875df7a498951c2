"""Processes editing one archive at once (used by tests and benchmarks/soak_crash.py).

Each editor owns the entries named ``p<k>_*`` and adds, removes and renames them at random,
either through one long-lived handle (a viewer session) or a fresh handle per edit. An edit
either returns (then it must be in the file at the end) or raises ConcurrentModificationError
(then it was not written, and the editor applies it again). At the end each editor's view of
its own entries must be exactly what the file holds: a lost edit shows up as a missing or a
resurrected entry.
"""
from __future__ import annotations

import json
import os
import random
import time

from medmask import MaskArchive
from medmask.errors import ConcurrentModificationError

from .crashsim import collect_json, fork, mask_for


def _edit(a: MaskArchive, mine: set[str], k: int, step: int, rng: random.Random, adds_only: bool) -> None:
    op = "add" if adds_only or len(mine) < 2 else rng.choice(["add", "add", "remove", "rename"])
    if op == "add":
        name = f"p{k}_{step}"
        a.add_segmask(mask_for(step % 7), name)
        mine.add(name)
    elif op == "remove":
        name = rng.choice(sorted(mine))
        a.remove(name)
        mine.discard(name)
    else:
        old = rng.choice(sorted(mine))
        new = f"p{k}_{step}r"
        a.rename(old, new)
        mine.discard(old)
        mine.add(new)


def _editor_child(path: str, k: int, edits: int, style: str, adds_only: bool, start_at: float, wfd: int) -> None:
    rng = random.Random(k)
    mine: set[str] = set()
    conflicts = retries_left = 0
    time.sleep(max(0.0, start_at - time.time()))
    handle = MaskArchive(path, "a") if style == "long" else None
    for step in range(edits):
        retries_left = 200
        while True:
            a = handle or MaskArchive(path, "a")
            try:
                _edit(a, mine, k, step, rng, adds_only)
                break
            except ConcurrentModificationError:
                conflicts += 1  # not written; the handle now shows the file: apply the edit again
                retries_left -= 1
                if retries_left == 0:
                    raise
            finally:
                if handle is None:
                    a.close()
    if handle is not None:
        handle.close()
    os.write(wfd, json.dumps({"mine": sorted(mine), "conflicts": conflicts}).encode())


def run_editors(directory: str, processes: int = 2, edits: int = 20, style: str = "long",
                adds_only: bool = True) -> dict:
    """Start ``processes`` editors on one archive at the same instant; check nothing was lost."""
    path = os.path.join(directory, f"edited_{style}.mska")
    with MaskArchive(path, "w") as a:
        a.add_segmask(mask_for(0), "shared")
    start_at = time.time() + 0.3
    pipes, pids = [], []
    for k in range(processes):
        r, w = os.pipe()
        pids.append(fork(_editor_child, path, k, edits, style, adds_only, start_at, w))
        os.close(w)
        pipes.append(r)
    results = collect_json(pids, pipes, "an editor")
    final = MaskArchive(path)
    final.verify()
    names = set(final.names)
    final.close()
    lost = resurrected = 0
    for k, res in enumerate(results):
        on_disk = {n for n in names if n.startswith(f"p{k}_")}
        lost += len(set(res["mine"]) - on_disk)
        resurrected += len(on_disk - set(res["mine"]))
    return {"style": style, "processes": processes, "edits": processes * edits,
            "conflicts": sum(r["conflicts"] for r in results), "entries": len(names),
            "lost": lost, "resurrected": resurrected, "shared_kept": "shared" in names}
