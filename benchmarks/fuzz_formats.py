"""Fuzz the .msk/.mska readers (both format versions) for a bounded time. Not run in CI.

    python benchmarks/fuzz_formats.py --seconds 300 [--atheris]

Phase 1 (deterministic): every truncation and every byte XOR {0x01,0x80,0xff} of valid
v1/v2 files (incl. the 0.1.3 compat files) and the hand-made hostile files.
Phase 2 (random, until --seconds): multi-byte damage of valid files, and re-crafted v2
files whose index JSON is randomly edited but checksummed correctly. With --atheris the
random phase is driven by atheris (coverage-guided) instead of the built-in mutator.
Any exception other than a MedMaskError naming the file, or a traced allocation beyond
hostile.memory_cap(), is a finding; the script prints them and exits 1.

Bomb phase (--bombs SECONDS, default 10 % of --seconds): the index bombs and payload bombs of
issue 12 (85 M empty objects, 134 M integers, a 250 MiB string, a million records, the densest
index the cost rule admits, 2 Gi-voxel entries in every codec and in v1 blobs), then random
ones (hostile.random_index_bomb / random_payload_bomb), with the memory budget set to
--budget. A bomb must be refused with a LimitError naming the file within 100 MiB traced;
the table prints time, peak and exception of each deterministic one.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests.reliability import hostile as H  # noqa: E402

findings: list[str] = []
stats = {"cases": 0, "ok": 0, "errors": 0, "v1_silently_different": 0, "max_peak_bytes": 0, "max_peak_file": 0}


def check(path: str, data: bytes, label: str, original: str | None = None, measure: bool = False) -> None:
    H.write(path, data)
    stats["cases"] += 1
    try:
        if measure:
            (kind, value), peak = H.measured_outcome(path)
            if peak > stats["max_peak_bytes"]:
                stats["max_peak_bytes"], stats["max_peak_file"] = peak, len(data)
            if peak > H.memory_cap(len(data)):
                findings.append(f"{label}: {peak} bytes traced for a {len(data)}-byte file")
        else:
            kind, value = H.outcome(path)
    except Exception as exc:  # noqa: BLE001 - anything but MedMaskError is a finding
        findings.append(f"{label}: {type(exc).__name__}: {str(exc)[:200]}")
        return
    stats["ok" if kind == "ok" else "errors"] += 1
    if kind == "ok" and original is not None and value != original:
        if ".v2" in label or "v2." in label:
            findings.append(f"{label}: damaged v2 file read without error")
        else:
            stats["v1_silently_different"] += 1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--atheris", action="store_true", help="coverage-guided random phase (pip install atheris)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bombs", type=float, default=None, help="seconds of random bombs (default 10%% of --seconds)")
    ap.add_argument("--budget", default="1G", help="medmask.limits.MEMORY_BUDGET during the bomb phase")
    ap.add_argument("--only-bombs", action="store_true")
    args = ap.parse_args()
    bomb_phase(args)
    if args.only_bombs:
        return 1 if findings else 0
    end = time.monotonic() + args.seconds
    d = tempfile.mkdtemp(prefix="medmask-fuzz-")
    files = {k: (p, open(p, "rb").read()) for k, p in H.make_samples(d).items()}
    for p in H.compat_files():
        files["compat " + os.path.basename(p)] = (p, open(p, "rb").read())
    originals = {k: H.outcome(p)[1] for k, (p, _) in files.items()}
    t0 = time.monotonic()
    for k, (p, data) in files.items():
        ext = p.rsplit(".", 1)[1]
        target = os.path.join(d, f"case.{ext}")
        for label, mutated in list(H.truncations(data)) + list(H.flips(data)):
            check(target, mutated, f"{k} {label}", originals[k])
    for label, data, ext in H.hostile_cases():
        check(os.path.join(d, f"case.{ext}"), data, label, measure=True)
    det = dict(stats, seconds=round(time.monotonic() - t0, 1))
    print("deterministic phase:", json.dumps(det))

    rng = random.Random(args.seed)
    v2docs = {k: H.valid_v2_doc(files[k][0]) for k in ("v2.msk", "v2.mska")}
    leaves = [None, True, -1, 0, 1, 255, 256, 2**32, 2**64, 10**30, 1.5, float("nan"), "", "zstd", "uint8", [], {}, [0, 1], [[0, 1]] * 3,
              {"id": "rle-zstd"}, {"x": 1}, "\u00b2"]

    def random_case(r: random.Random) -> tuple[str, bytes, str]:
        if r.random() < 0.5:
            k = r.choice(list(files))
            p, data = files[k]
            buf = bytearray(data)
            for _ in range(r.randint(1, 8)):
                op = r.random()
                i = r.randrange(len(buf))
                if op < 0.6:
                    buf[i] ^= r.randint(1, 255)
                elif op < 0.8:
                    del buf[i:i + r.randint(1, 16)]
                else:
                    buf[i:i] = bytes(r.randint(0, 255) for _ in range(r.randint(1, 16)))
                if not buf:
                    break
            return f"{k} random damage", bytes(buf), p.rsplit(".", 1)[1]
        k = r.choice(list(v2docs))
        doc, payloads, magic = v2docs[k]
        doc = json.loads(json.dumps(doc))
        for _ in range(r.randint(1, 3)):
            entries = doc.get("entries") if isinstance(doc.get("entries"), list) else []
            target = r.choice([doc, doc.get("space")] + [e for e in entries if isinstance(e, dict)])
            if isinstance(target, dict) and target:
                target[r.choice(list(target))] = r.choice(leaves)
        return f"{k} crafted index", H.craft_v2(doc, payloads, magic=magic), k.rsplit(".", 1)[1]

    t1 = time.monotonic()
    before = stats["cases"]
    if args.atheris:
        import atheris

        def one_input(data: bytes) -> None:
            if time.monotonic() > end:  # atheris treats SystemExit as a crash: report and leave directly
                report(stats["cases"] - before, t1)
                sys.stdout.flush()
                os._exit(1 if findings else 0)
            fdp = atheris.FuzzedDataProvider(data)
            label, blob, ext = random_case(random.Random(fdp.ConsumeInt(8)))
            check(os.path.join(d, f"case.{ext}"), blob, label + " (atheris)", measure=fdp.ConsumeBool())
        # not instrumented (the readers are mostly numpy/zstd C code): atheris drives the seeds
        atheris.Setup([sys.argv[0], "-rss_limit_mb=4096", f"-artifact_prefix={d}/"], one_input)
        try:
            atheris.Fuzz()
        except SystemExit:
            pass
    else:
        while time.monotonic() < end:
            label, blob, ext = random_case(rng)
            check(os.path.join(d, f"case.{ext}"), blob, label, measure=rng.random() < 0.2)
    report(stats["cases"] - before, t1)
    return 1 if findings else 0


def bomb_phase(args) -> None:
    """Bombs: refused with LimitError naming the file, within 100 MiB traced (time is printed)."""
    from medmask import limits

    saved, limits.MEMORY_BUDGET = limits.MEMORY_BUDGET, limits.parse_size(args.budget)
    d = tempfile.mkdtemp(prefix="medmask-bombs-")
    rows = []

    def one(label: str, data: bytes, ext: str, need: int | None = None) -> None:
        path = H.write(os.path.join(d, f"bomb.{ext}"), data)
        t = time.perf_counter()
        try:
            (kind, name), peak = H.measured_outcome(path)
        except Exception as exc:  # noqa: BLE001
            findings.append(f"{label}: {type(exc).__name__}: {str(exc)[:200]}")
            return
        elapsed = time.perf_counter() - t
        rows.append((label, len(data), elapsed, peak, name if kind == "error" else "read (within budget)"))
        if need is not None and need <= limits.MEMORY_BUDGET // 2:
            cap = 16 * 2**20 + 3 * need  # a genuine volume within the budget: read, at a few copies of it
        else:
            cap = 100 * 2**20
            if kind == "ok":
                findings.append(f"{label}: read without error")
        if peak > cap:
            findings.append(f"{label}: {peak >> 20} MiB traced for a {len(data)}-byte file")

    try:
        for kind in H.INDEX_BOMBS:
            one(f"index bomb: {kind}", H.index_bomb(kind), "mska")
        for unit in H.BOMB_UNITS:
            one(f"index at the limit: {unit.decode()}", H.index_bomb_at_limit(unit), "mska")
        for label, data, ext, need in H.payload_bombs():
            one(f"{label} ({need >> 20} MiB)", data, ext, need)
        print(f"{'attack':58s} {'file':>9s} {'time s':>7s} {'peak MiB':>9s}  outcome")
        for label, size, elapsed, peak, name in rows:
            print(f"{label:58s} {size:9d} {elapsed:7.3f} {peak / 2**20:9.1f}  {name}")
        rng = random.Random(args.seed)
        end = time.monotonic() + (args.bombs if args.bombs is not None else args.seconds / 10)
        rows.clear()
        while time.monotonic() < end:
            if rng.random() < 0.5:
                label, data = H.random_index_bomb(rng)
                one(label, data, "mska")
            else:
                label, data, ext, need = H.random_payload_bomb(rng)
                one(label, data, ext, need)
        if rows:
            print("random bombs:", json.dumps({"cases": len(rows), "max_seconds": round(max(r[2] for r in rows), 3),
                                               "max_peak_mib": round(max(r[3] for r in rows) / 2**20, 1),
                                               "outcomes": sorted({r[4] for r in rows}),
                                               "findings": len(findings)}))
    finally:
        limits.MEMORY_BUDGET = saved


def report(random_cases: int, t1: float) -> None:
    print("random phase:", json.dumps({"cases": random_cases, "seconds": round(time.monotonic() - t1, 1)}))
    print("total:", json.dumps(stats))
    for f in findings[:50]:
        print("FINDING", f)
    print(f"{len(findings)} findings")


if __name__ == "__main__":
    sys.exit(main())
