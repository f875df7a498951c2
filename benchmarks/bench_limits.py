"""Limits: big archives and big volumes cost time and memory in proportion to what is read.

    python benchmarks/bench_limits.py [--entries 5000] [--shape 1000 512 512]

Prints open time / list names with N entries, reading one entry, and RSS (VmHWM and
tracemalloc peak per step). Each measurement runs in a fresh subprocess so RSS is its own.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)


def build(directory: str, entries: int, shape: tuple[int, int, int]) -> dict:
    import numpy as np
    from spacetransformer import Space
    from medmask import MaskArchive, SegmentationMask
    from medmask.format import v2
    from medmask.storage.entries import encode_mask
    from medmask.storage.writer import write_v2

    out = {}
    space = Space(shape=(64, 64, 64))
    many = os.path.join(directory, "many.mska")
    t = time.perf_counter()
    items = []
    for i in range(entries):  # encode once per distinct mask; the writer takes (info, payload) pairs
        arr = np.zeros((64, 64, 64), np.uint8)
        arr[i % 60:i % 60 + 4, 10:20, (i * 7) % 50:(i * 7) % 50 + 10] = 1
        info, payload = encode_mask(SegmentationMask(arr, {f"organ_{i}": 1}, space), f"organ_{i}", level=3)
        items.append((info, (lambda p=payload: p)))
    write_v2(many, "archive", space, items)
    out["many_build_s"] = round(time.perf_counter() - t, 2)
    out["many_bytes"] = os.path.getsize(many)

    big = os.path.join(directory, "big.mska")
    t = time.perf_counter()
    vol = np.zeros(shape, np.uint8)
    z, y, x = shape
    vol[z // 4: 3 * z // 4, y // 4: 3 * y // 4, x // 4: 3 * x // 4] = 1
    vol[: z // 2, : y // 3, : x // 3] = 2
    small = np.zeros(shape, bool)
    small[10:20, 10:30, 10:30] = True
    with MaskArchive(big, "w") as a:
        a.add_segmask(SegmentationMask(vol, {"body": 1, "lung": 2}, Space(shape=shape)), "body")
        a.add_segmask(SegmentationMask(small, {"nodule": 1}, Space(shape=shape)), "nodule")
    del vol, small
    out["big_build_s"] = round(time.perf_counter() - t, 2)
    out["big_bytes"] = os.path.getsize(big)
    return out


STEP = r"""
import json, resource, sys, time, tracemalloc
sys.path.insert(0, ROOT)
from medmask import MaskArchive
tracemalloc.start()
res = {}
t = time.perf_counter()
a = MaskArchive(PATH)
res["open_ms"] = (time.perf_counter() - t) * 1e3
t = time.perf_counter(); names = a.names; res["list_names_ms"] = (time.perf_counter() - t) * 1e3; res["entries"] = len(names)
res["open_peak_MiB"] = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.reset_peak()
t = time.perf_counter(); m = a.load_segmask(NAME); crop = m.crop_data; res["read_one_ms"] = (time.perf_counter() - t) * 1e3
res["read_one_peak_MiB"] = tracemalloc.get_traced_memory()[1] / 2**20
res["crop_MiB"] = crop.nbytes / 2**20
if FULL:
    tracemalloc.reset_peak()
    t = time.perf_counter(); full = m.data; res["full_volume_ms"] = (time.perf_counter() - t) * 1e3
    res["full_volume_peak_MiB"] = tracemalloc.get_traced_memory()[1] / 2**20
res["VmHWM_MiB"] = int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024  # ru_maxrss survives exec
print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in res.items()}))
"""


def step(path: str, name: str, full: bool) -> dict:
    code = STEP.replace("ROOT", repr(ROOT)).replace("PATH", repr(path)).replace("NAME", repr(name)).replace("FULL", repr(full))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=5000)
    ap.add_argument("--shape", type=int, nargs=3, default=[1000, 512, 512])
    args = ap.parse_args()
    baseline = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {ROOT!r}); import medmask, resource; "
                               "print([int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"],
                              capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory() as d:
        built = build(d, args.entries, tuple(args.shape))
        print("built:", json.dumps(built))
        print("import medmask alone: VmHWM_MiB", round(float(baseline.stdout), 1))
        print(f"{args.entries} entries, read organ_{args.entries // 2}:",
              json.dumps(step(os.path.join(d, "many.mska"), f"organ_{args.entries // 2}", False)))
        print(f"{'x'.join(map(str, args.shape))} volume, read small 'nodule':",
              json.dumps(step(os.path.join(d, "big.mska"), "nodule", True)))
        print(f"{'x'.join(map(str, args.shape))} volume, read big 'body':",
              json.dumps(step(os.path.join(d, "big.mska"), "body", True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
