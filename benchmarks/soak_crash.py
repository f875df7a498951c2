"""Long crash-safety and reader/writer soak. Not run in CI.

    python benchmarks/soak_crash.py --seconds 600

Splits the time between SIGKILLing writers (archive v2, archive v1, single mask v2) and
readers racing a writer; every kill must leave the complete old or new file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests.reliability import crashsim  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--readers", type=int, default=3)
    args = ap.parse_args()
    share = args.seconds / 5
    results = []
    for kind, version, weight in (("archive", 2, 2), ("archive", 1, 0.5), ("mask", 2, 0.5)):
        with tempfile.TemporaryDirectory() as d:
            results.append(crashsim.crash_loop(d, kind, version, kills=0, seed=version, seconds=share * weight))
            print(json.dumps(results[-1]), flush=True)
    with tempfile.TemporaryDirectory() as d:
        results.append(crashsim.race(d, readers=args.readers, seconds=share * 2))
        print(json.dumps(results[-1]), flush=True)
    return 0 if results[-1]["inconsistent"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
