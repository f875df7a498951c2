"""Long crash-safety and reader/writer soak. Not run in CI.

    python benchmarks/soak_crash.py --seconds 600

Splits the time between SIGKILLing writers (archive v2, archive v1, single mask v2),
readers racing a writer, and concurrent editors (processes adding, removing and renaming
entries of one archive through long-lived or fresh handles): every kill must leave the
complete old or new file, and no editor may lose an edit (each one either lands or raises
ConcurrentModificationError and is applied again).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import time  # noqa: E402

from tests.reliability import crashsim, editors  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--readers", type=int, default=3)
    ap.add_argument("--editors", type=int, default=3)
    args = ap.parse_args()
    share = args.seconds / 6
    results = []
    for kind, version, weight in (("archive", 2, 2), ("archive", 1, 0.5), ("mask", 2, 0.5)):
        with tempfile.TemporaryDirectory() as d:
            results.append(crashsim.crash_loop(d, kind, version, kills=0, seed=version, seconds=share * weight))
            print(json.dumps(results[-1]), flush=True)
    with tempfile.TemporaryDirectory() as d:
        results.append(crashsim.race(d, readers=args.readers, seconds=share * 2))
        print(json.dumps(results[-1]), flush=True)
    race_ok = results[-1]["inconsistent"] == 0
    total = {"editor_runs": 0, "edits": 0, "conflicts": 0, "lost": 0, "resurrected": 0}
    end = time.monotonic() + share
    while time.monotonic() < end:
        for style in ("long", "fresh"):
            with tempfile.TemporaryDirectory() as d:
                r = editors.run_editors(d, processes=args.editors, edits=15, style=style, adds_only=False)
            total["editor_runs"] += 1
            for k in ("edits", "conflicts", "lost", "resurrected"):
                total[k] += r[k]
    print(json.dumps(total), flush=True)
    return 0 if race_ok and total["lost"] == total["resurrected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
