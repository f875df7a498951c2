"""The attacks of issues 12 and 20, each run in a fresh process: time, peak RSS above the process's
peak after imports, and outcome. Not run in CI (tests/reliability/test_attacks20.py runs the
issue-20 file attacks scaled down).

    python benchmarks/bench_attacks.py [--tree /path/to/other/checkout] [--limit-gb 3] [--only 20.]

Hostile files are made by this checkout's tests/reliability/hostile.py; the reads and
edits run against ``--tree`` (default: this checkout), so the same table can be printed
for an older commit (``git archive <commit> | tar -x -C /tmp/old``). Each attack runs
under RLIMIT_AS = --limit-gb (the "2-3 GB memory limit" of the report), so a bomb shows
up as a MemoryError there instead of taking the shared machine's memory.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

# every snippet gets `path` (the hostile file or a work directory) and prints one JSON line
PRELUDE = """
import json, os, resource, sys, time, traceback
import numpy as np
path = sys.argv[1]
def done(outcome):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 3), "outcome": outcome,
                      "peak_mib": round(peak - base, 1)}))
def name(exc):
    text = str(exc)
    return f"{type(exc).__name__}" + (" (names file)" if path in text else " (no file name)")
from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from spacetransformer import Space
def small_mask(k=1, **kw):
    a = np.zeros((4, 8, 8), np.uint8); a[1:3, k:k + 3, 2:5] = 1
    return SegmentationMask(a, {"a": 1}, Space(shape=(4, 8, 8)), **kw)
small_mask()  # warm up imports before measuring
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak RSS after imports
t0 = time.perf_counter()
"""

READ = """
try:
    if path.endswith(".msk"):
        m = load_mask(path); m.data
    else:
        a = MaskArchive(path)
        for n in a.names:
            a.load_segmask(n).data
    done("read")
except BaseException as exc:
    done(name(exc))
"""

EDITORS = """
import multiprocessing as mp
def child(k, q):
    landed, conflicts = [], 0
    a = MaskArchive(path, "a")
    for i in range(20):
        for attempt in range(100):
            try:
                a.add_segmask(small_mask(), f"p{k}_{i}")
                landed.append(f"p{k}_{i}")
                break
            except Exception as exc:  # ConcurrentModificationError where it exists
                conflicts += 1
                if hasattr(a, "reload"):
                    pass  # the handle reloaded itself
    a.close()
    q.put((landed, conflicts))
with MaskArchive(path, "w") as a:
    a.add_segmask(small_mask(), "shared")
q = mp.Queue()
ps = [mp.Process(target=child, args=(k, q)) for k in range(2)]
[p.start() for p in ps]
res = [q.get() for _ in ps]
[p.join() for p in ps]
final = set(MaskArchive(path).names)
landed = [n for r in res for n in r[0]]
lost = len([n for n in landed if n not in final])
done(f"{lost} of {len(landed)} returned adds lost, {sum(r[1] for r in res)} conflicts raised")
"""

LONG_LIVED = """
with MaskArchive(path, "w") as w:
    w.add_segmask(small_mask(), "first")
a = MaskArchive(path, "a")
with MaskArchive(path, "a") as b:
    b.add_segmask(small_mask(), "from_b")
try:
    a.add_segmask(small_mask(), "from_a")
    out = "no error"
except Exception as exc:
    out = name(exc)
done(f"{out}; from_b {'kept' if 'from_b' in MaskArchive(path).names else 'LOST'}")
"""

DISK_FULL = """
import errno
with MaskArchive(path, "w") as w:
    for k in range(4):
        w.add_segmask(small_mask(k), f"e{k}")
a = MaskArchive(path, "a")
real = os.fsync
def full(fd):
    raise OSError(errno.ENOSPC, "No space left on device")
os.fsync = full
try:
    a.add_segmask(small_mask(), "e4")
    out = "no error"
except Exception as exc:
    out = name(exc)
os.fsync = real
n_obj = len(a.names)
a.remove("e0")
done(f"{out}; object then had {n_obj} entries; after a later remove the file has {sorted(MaskArchive(path).names)}")
"""

SURROGATE = """
with MaskArchive(path, "w") as w:
    w.add_segmask(small_mask(), "e0")
a = MaskArchive(path, "a")
try:
    a.add_segmask(small_mask(), "liver\\udce9")
    out = "no error"
except Exception as exc:
    out = name(exc)
try:
    a.add_segmask(small_mask(), "fine")
    later = "later edit works"
except Exception as exc:
    later = "later edit fails: " + type(exc).__name__
done(f"{out}; {later}")
"""

DEEP = """
d = {}
c = d
for _ in range(1200):
    c["x"] = {}
    c = c["x"]
a = MaskArchive(path, "w")
try:
    a.add_segmask(small_mask(metadata=d), "deep")
    done("no error")
except BaseException as exc:
    done(name(exc))
"""

ONTO_DIR = """
os.makedirs(path, exist_ok=True)
try:
    with MaskArchive(path, "w") as a:
        a.add_segmask(small_mask(), "x")
    done("no error")
except Exception as exc:
    done(name(exc) + (" (names a temp file)" if ".tmp" in str(exc) else ""))
"""

SYMLINK = """
target = path + ".real.mska"
with MaskArchive(target, "w") as w:
    w.add_segmask(small_mask(), "old")
os.symlink(target, path)
with MaskArchive(path, "a") as a:
    a.add_segmask(small_mask(), "new")
done(f"link {'still a link' if os.path.islink(path) else 'replaced by a file'}; target has "
     f"{sorted(MaskArchive(target).names)}")
"""

READ_ONLY = """
with MaskArchive(path, "w") as w:
    w.add_segmask(small_mask(), "old")
os.chmod(path, 0o444)
try:
    with MaskArchive(path, "a") as a:
        a.add_segmask(small_mask(), "new")
    done(f"edited (mode now {oct(os.stat(path).st_mode & 0o777)})")
except Exception as exc:
    done(name(exc))
"""

READ_URL_1S = """
try:
    a = MaskArchive(path, storage_options={"read_timeout": 1})
    for n in a.names:
        a.load_segmask(n).data
    done("read")
except BaseException as exc:
    done(name(exc))
"""

VERIFY_DEEP = """
from medmask.cli import main
import io, contextlib
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    args = ["verify", "--deep", path]
    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
done(f"exit {code}: {buf.getvalue().strip()[:60]}")
"""


def attacks(d: str):
    from tests.reliability import hostile as H

    def f(name: str, data: bytes) -> str:
        return H.write(os.path.join(d, name), data)

    for kind in H.INDEX_BOMBS[:3]:
        yield f"1 index bomb: {kind}", READ, f(f"ib_{kind}.mska", H.index_bomb(kind))
    for i, (label, data, ext, need) in enumerate(H.payload_bombs()):
        yield f"2 payload bomb: {label}", READ, f(f"pb{i}.{ext}", data)
    yield "3 two processes x 20 adds", EDITORS, os.path.join(d, "editors.mska")
    yield "3 long-lived handle", LONG_LIVED, os.path.join(d, "long.mska")
    yield "4 disk full during add", DISK_FULL, os.path.join(d, "full.mska")
    yield "4 lone surrogate in a name", SURROGATE, os.path.join(d, "sur.mska")
    yield "4 metadata nested 1200 deep", DEEP, os.path.join(d, "deep.mska")
    yield "4 saving onto a directory", ONTO_DIR, os.path.join(d, "adir.mska")
    yield "5 editing through a symlink", SYMLINK, os.path.join(d, "link.mska")
    yield "5 editing a 0444 file", READ_ONLY, os.path.join(d, "ro.mska")
    compat = [p for p in H.compat_files() if p.endswith(".mska")]
    if compat:
        data = bytearray(open(compat[0], "rb").read())
        h = H.v1.unpack_archive_header(bytes(data), len(data), None)
        data[h["index_offset"]:h["index_offset"] + h["index_length"]] = bytes(h["index_length"])
        p = f("v1_zeroed.mska", bytes(data))
        yield "6 v1 archive, index zeroed", READ, p
        yield "6 ... and `verify --deep`", VERIFY_DEEP, p
    forged = {
        "trailing zstd frame": (H.zstd(b"\x01" * 64) + H.zstd(b"\x01" * 64), {"id": "zstd"}, {}),
        "unnamed voxel value": (H.zstd(bytes([1] * 32 + [2] * 32)), {"id": "zstd"}, {}),
        "varint wrapping 2**64": (H.zstd(bytes([2, 0, 1]) + bytes([0xFF] * 9 + [0x7F]) + bytes([64])), {"id": "rle-zstd"}, {}),
        "counts that lie": (H.zstd(bytes([1] * 64)), {"id": "zstd"}, {"counts": {"1": 60}}),
    }
    for label, (payload, codec, kw) in forged.items():
        p = f(f"forged_{label.split()[0]}.mska", H.craft_v2(H.entry_doc(payload, codec=codec, **kw), payload))
        yield f"7 forged: {label}", READ, p
        if label == "counts that lie":
            yield "7 ... and `verify --deep`", VERIFY_DEEP, p


def remote_attacks(d: str):
    """Issue 20.6: servers started here (tests/storage/remote_servers.py) for the rows' lifetime."""
    from tests.conftest import organ_masks
    from tests.storage.remote_servers import EndlessHTTPServer, RangeIgnoringHTTPServer, SilentServer

    from medmask import MaskArchive

    www = os.path.join(d, "www")
    os.makedirs(www, exist_ok=True)
    masks = organ_masks((60, 120, 120))
    with MaskArchive(os.path.join(www, "case.mska"), "w", space=masks["liver"].space) as a:
        a.add_segmasks(masks)
    with RangeIgnoringHTTPServer(www) as server:
        yield "20.6 http.server (ignores Range)", READ, f"{server.url}/case.mska"
    with EndlessHTTPServer(b"MSKA\x02\x02") as server:
        yield "20.6 Range ignored, endless body", READ, f"{server.url}/case.mska"
    with SilentServer() as server:
        yield "20.6 server never answers", READ, f"{server.url}/case.mska"
        yield "20.6 ... read_timeout=1 in storage_options", READ_URL_1S, f"{server.url}/case.mska"


# --- issue 20 ---------------------------------------------------------------------------------
CLI = """
from medmask.cli import main
import io, contextlib
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        code = main(ARGS)
    except SystemExit as e:
        code = e.code
    except BaseException as exc:
        code = "raised " + type(exc).__name__
text = (err.getvalue() + out.getvalue()).strip()
lines = [x for x in text.splitlines() if "error" in x.lower() or "FAIL" in x or "unreadable" in x or "wrote" in x]
said = (lines[-1] if lines else text.splitlines()[-1] if text else "")
said = said.replace(os.path.dirname(path) + "/", "")
done(f"exit {code}: {said[:110]}")
"""


def cli(*args: str) -> str:
    """A snippet running the medmask command line with ``args`` ("{path}" is the attack's path)."""
    return CLI.replace("ARGS", "[" + ", ".join("path" if a == "{path}" else f"path + {a[6:]!r}"
                                                if a.startswith("{path}") else repr(a) for a in args) + "]")


READ_IMAGE = """
from medmask.convert.image_io import read_image
try:
    a, s = read_image(path)
    done(f"read {a.shape}")
except BaseException as exc:
    done(name(exc) + ": " + str(exc).replace(path, "<file>")[:90])
"""

EDIT_AFTER_UPGRADE = """
from medmask.cli import main
import contextlib, io
with MaskArchive(path, "w", format_version=1) as w:
    w.add_segmask(small_mask(), "first")
handle = MaskArchive(path, "a")
with contextlib.redirect_stdout(io.StringIO()):
    main(["upgrade", path])
with MaskArchive(path, "a") as other:
    other.set_attributes("first", colors={"a": (1, 0, 0, 1)}, metadata={"rater": "x"})
first = "no error"
for attempt in range(3):
    try:
        handle.add_segmask(small_mask(2), "second")
        break
    except Exception as exc:
        first = type(exc).__name__
head = open(path, "rb").read(6)
info = MaskArchive(path).entry_info("first")
done(f"{first}, applied again: file v{head[4]}.{head[5] if head[4] > 1 else 0}, metadata "
     f"{'kept' if info.metadata else 'LOST'}, colours {'kept' if info.colors else 'LOST'}")
"""

MSK_UPGRADE_RACE = """
from medmask.cli import main
from medmask.storage import container_v1
import contextlib, io
save_mask(small_mask(), path, format_version=1)
real_load = container_v1.V1Container.load
calls = []
def load_then_someone_saves(self, name):  # another program saves while upgrade holds the old content
    m = real_load(self, name)
    calls.append(name)
    if len(calls) == 2:  # (the first load is upgrade's check of the file, the second the one it rewrites)
        container_v1.V1Container.load = real_load
        save_mask(small_mask(3, metadata={"new": 1}), path)
    return m
container_v1.V1Container.load = load_then_someone_saves
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["upgrade", path])
m = load_mask(path)
last = out.getvalue().strip().splitlines()[-1][:70] if out.getvalue().strip() else ""
kept = "kept" if m.metadata == {"new": 1} else "LOST"
done(f"exit {code}; the concurrent save is {kept}; " + last.replace(path, "<file>"))
"""

OVERWRITE_FOLDER = """
from medmask.cli import main
import contextlib, io
os.makedirs(path)
for n in ("other_case_liver.nii.gz", "notes.txt"):
    open(os.path.join(path, n), "w").write("x")
arch = path + ".mska"
with MaskArchive(arch, "w") as w:
    w.add_segmask(small_mask(), "liver")
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    code = main(["convert", arch, path, "--overwrite"])
left = sorted(os.listdir(path))
done(f"exit {code}: folder holds {left}; {err.getvalue().strip().replace(path, '<dir>')[-80:]}")
"""

NAN_METADATA = """
import json
try:
    with MaskArchive(path, "w") as w:
        w.add_segmask(small_mask(metadata={"dice": float("nan"), "max": float("inf")}), "x")
    from medmask.format import v2
    data = open(path, "rb").read()
    h = v2.unpack_header(data, len(data))
    doc = v2.index_document(data[h.index_offset:h.index_offset + h.index_length], h)
    text = json.dumps(doc)
    strict = "not strict JSON" if "NaN" in text or "Infinity" in text else "strict JSON"
    done(f"written ({strict}): {MaskArchive(path).entry_info('x').metadata}")
except BaseException as exc:
    done(name(exc) + ": " + str(exc).replace(path, "<file>")[:80])
"""

DEEP_100 = """
d = c = {}
for _ in range(99):
    c["x"] = {}
    c = c["x"]
with MaskArchive(path, "w") as w:
    w.add_segmask(small_mask(), "x")
# forge: the index carries metadata 100 deep (checksums recomputed), as another writer might
sys.path.insert(0, os.environ["ATTACK_TESTS"])
from tests.reliability import hostile as H
doc, payloads, magic = H.valid_v2_doc(path)
doc["entries"][0]["metadata"] = {"deep": d}
open(path, "wb").write(H.craft_v2(doc, payloads, magic=magic))
try:
    m = MaskArchive(path).load_segmask("x")
    with MaskArchive(path, "a") as a:
        a.add_segmask(small_mask(2), "y")
    done("read and re-written")
except BaseException as exc:
    done(name(exc) + ": " + str(exc).replace(path, "<file>")[:80])
"""

KILLED_WRITERS = """
import subprocess, sys
with MaskArchive(path, "w") as w:
    w.add_segmask(small_mask(), "a")
sys.path.insert(0, os.environ["ATTACK_TESTS"])
from tests.reliability.attacks20 import STALLED_WRITER as child
folder = os.path.dirname(path)
for k in range(5):
    p = subprocess.Popen([sys.executable, "-c", child, path], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    p.kill(); p.wait()
before = len([n for n in os.listdir(folder) if n.endswith((".tmp", ".tmpdir"))])
with MaskArchive(path, "a") as a:  # the next write
    a.add_segmask(small_mask(2), "c")
after = len([n for n in os.listdir(folder) if n.endswith((".tmp", ".tmpdir"))])
done(f"5 writers killed: {before} temporary files left; after the next write: {after}")
"""


def attacks20(d: str):
    from tests.reliability import attacks20 as A

    def sub(name: str) -> str:
        os.makedirs(os.path.join(d, name), exist_ok=True)
        return os.path.join(d, name)

    yield "20.1 rows sharing one extra (1.2 KB): info", cli("info", "{path}"), \
        A.shared_extra(os.path.join(d, "x1.mska"))
    p = A.shared_metadata(os.path.join(d, "x2.mska"))
    yield "20.1 5000 rows x 60000-key shared metadata: info", cli("info", "{path}"), p
    yield "20.1 ... : verify", cli("verify", "{path}"), p
    yield "20.2 edit applied again after a concurrent upgrade", EDIT_AFTER_UPGRADE, os.path.join(d, "up.mska")
    scans = [("FIFO", "fifo", None, "ct.nii.gz"), ("symlink to /dev/zero", "link", "/dev/zero", "ct.nrrd"),
             ("symlink to /proc/self/mem", "link", "/proc/self/mem", "ct.nii.gz"),
             ("8 GB sparse file, no newline", "sparse", None, "ct.nrrd")]
    for label, kind, target, fname in scans:
        arch = A.archive_recording(sub(f"scan_{kind}_{fname}"), fname, target, kind)
        scan = os.path.join(os.path.dirname(arch), fname)
        yield f"20.3 recorded scan is a {label}: read_image", READ_IMAGE, scan
        yield "20.3 ... : medmask info", cli("info", "{path}"), arch
        yield "20.3 ... : stats --intensity", cli("stats", "{path}", "--intensity"), arch
    arch = A.archive_recording(sub("scan_proc"), "x", "/proc", "path")
    yield "20.3 recorded scan '/proc': info (8: scanned as DICOM?)", cli("info", "{path}"), arch
    with open(os.path.join(d, "outside.raw"), "wb") as f:
        f.write(bytes(256))
    yield "20.3 .nhdr data file outside its folder", READ_IMAGE, A.nhdr_outside(sub("nhdr"), "../outside.raw")
    yield "20.4 .nii.gz bomb (2.6 MB, 8 voxels): convert", cli("convert", "{path}", "{path}.msk"), \
        A.nifti_bomb(os.path.join(d, "bomb.nii.gz"))
    yield "20.4 .seg.nrrd bomb (2.6 MB, 8 voxels): convert", cli("convert", "{path}", "{path}.mska"), \
        A.seg_nrrd_bomb(os.path.join(d, "bomb.seg.nrrd"))
    yield "20.5 DICOM-SEG, one frame moved 1e9 mm: convert", cli("convert", "{path}", "{path}.mska"), \
        A.seg_frame_moved(sub("segmoved"))
    yield "20.5 CT series, Rows/Columns 65535: read_image", READ_IMAGE, A.ct_series_65535(sub("ct65535"))
    yield "20.7 convert --overwrite into another case's folder", OVERWRITE_FOLDER, os.path.join(d, "outdir")
    yield "20.7 writers killed before their rename", KILLED_WRITERS, os.path.join(sub("killed"), "k.mska")
    yield "20.7 NaN/Infinity in metadata", NAN_METADATA, os.path.join(d, "nan.mska")
    yield "20.7 metadata nested 100 deep in a file", DEEP_100, os.path.join(d, "deep100.mska")
    yield "20.8 .msk upgrade while another process saves", MSK_UPGRADE_RACE, os.path.join(d, "race.msk")


def run(tree: str, snippet: str, path: str, limit_gb: float, timeout: float = 300) -> dict:
    code = PRELUDE + textwrap.dedent(snippet)
    env = dict(os.environ, PYTHONPATH=tree, ATTACK_TESTS=ROOT)
    limit = int(limit_gb * 2**30)
    pre = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
    try:
        out = subprocess.run([sys.executable, "-c", pre + code, path], env=env, capture_output=True, text=True,
                             timeout=timeout, cwd=tree)
    except subprocess.TimeoutExpired:
        return {"outcome": f"still running after {timeout:g} s (killed)"}
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not lines:
        return {"outcome": f"crashed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}"}
    return json.loads(lines[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", default=ROOT)
    ap.add_argument("--limit-gb", type=float, default=3.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--timeout", type=float, default=300, help="seconds before an attack counts as a hang")
    ap.add_argument("--only", metavar="PREFIX", help="only the attacks whose label starts with PREFIX (e.g. 20.6)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for label, snippet, path in itertools.chain(attacks(d), remote_attacks(d), attacks20(d)):
            if args.only and not label.startswith(args.only):
                continue
            r = run(os.path.abspath(args.tree), snippet, path, args.limit_gb, args.timeout)
            rows.append({"attack": label, **r})
            if not args.json:
                print(f"{label:52s} {r.get('seconds', ''):>7} s {r.get('peak_mib', ''):>8} MiB  {r['outcome']}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
