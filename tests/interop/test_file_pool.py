"""A mask folder read in forked worker processes (``medmask convert``'s default) gives what threads give.

The process mode only runs where this process has no other thread, so what it does is
checked in fresh child processes, as a user's ``medmask convert`` runs.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import multiprocessing
import nibabel as nib
import numpy as np
import pytest

from interop_helpers import REPO, alive, children_of, foreground_sigint, make_affine
from medmask import MaskArchive
from medmask.convert.file_pool import ordered_map
from medmask.convert.nifti_folder import nifti_folder_to_archive
from medmask.errors import ConversionError

fork_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked on Linux only")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _python(code: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=_env(), cwd=REPO, timeout=120, **kw)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """12 masks on an oblique grid: ellipsoids, one empty, one holding two values, one stored with rows reversed."""
    root = tmp_path_factory.mktemp("pool") / "segmentations"
    root.mkdir()
    rng = np.random.default_rng(5)
    shape = (40, 36, 30)
    idx = np.indices(shape, sparse=True)
    affine = make_affine("oblique")
    for n in range(12):
        c, r = rng.uniform(8, 28, 3), rng.uniform(3, 9, 3)
        arr = (sum(((idx[a] - c[a]) / r[a]) ** 2 for a in range(3)) <= 1).astype(np.uint8)
        if n == 3:
            arr[:] = 0
        if n == 5:
            arr[arr.shape[0] // 2:] *= 2
        if n == 7:  # rows reversed, as dicom2nifti writes them: the same voxels in another order
            flip = np.diag([1.0, -1.0, 1.0, 1.0])
            flip[1, 3] = shape[1] - 1
            nib.save(nib.Nifti1Image(arr[:, ::-1].copy(), affine @ flip), str(root / f"organ_{n:02d}.nii.gz"))
            continue
        nib.save(nib.Nifti1Image(arr, affine), str(root / f"organ_{n:02d}.nii.gz"))
    return root


@fork_only
def test_convert_in_worker_processes_writes_the_archive_threads_write(folder, tmp_path):
    one = nifti_folder_to_archive(folder, tmp_path / "one.mska", threads=1)
    threaded = nifti_folder_to_archive(folder, tmp_path / "threads.mska", threads=3, processes=False)
    run = subprocess.run([sys.executable, "-m", "medmask", "convert", str(folder), str(tmp_path / "cli.mska")],
                         capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    assert one.read_bytes() == threaded.read_bytes() == (tmp_path / "cli.mska").read_bytes()
    with MaskArchive(one) as a:
        assert len(a) == 12 and a.entry_info("organ_03").bbox is None
        assert a.load_segmask("organ_05").mapping.to_dict() == {"organ_05_1": 1, "organ_05_2": 2}
        flipped = np.asarray(a.load_segmask("organ_07").data)
    ref = np.asanyarray(nib.load(str(folder / "organ_07.nii.gz")).dataobj)[:, ::-1].transpose(2, 1, 0)
    np.testing.assert_array_equal(flipped.astype(np.uint8), ref)


@fork_only
def test_processes_only_where_forking_is_safe():
    run = _python("""
        import threading, time
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
        from medmask.convert.file_pool import make_pool
        pool = make_pool(2)
        assert isinstance(pool, ProcessPoolExecutor), pool
        assert sorted(pool.map(abs, [-1, -2])) == [1, 2]
        pool.shutdown()
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()  # another thread: a lock it holds at fork time would stay held in the child
        try:
            assert isinstance(make_pool(2), ThreadPoolExecutor)
            assert isinstance(make_pool(2, processes=True), ThreadPoolExecutor)
        finally:
            stop.set()
        print("ok")
    """)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def _warn_or_fail(n: int) -> int:
    if n % 3 == 1:
        warnings.warn(f"odd file {n}", UserWarning)
    if n % 3 == 2:
        raise ConversionError(f"bad file {n}", f"/data/f{n}.nii.gz")
    return n * 10


@fork_only
def test_worker_processes_hand_back_results_in_order_with_their_warnings_and_errors():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = list(ordered_map(pool, _warn_or_fail, range(9), ahead=3))
    assert [r for r, e in out] == [0, 10, None, 30, 40, None, 60, 70, None]
    errors = [e for _, e in out if e is not None]
    assert [type(e) for e in errors] == [ConversionError] * 3
    assert [e.path for e in errors] == ["/data/f2.nii.gz", "/data/f5.nii.gz", "/data/f8.nii.gz"]
    assert [str(w.message) for w in caught] == ["odd file 1", "odd file 4", "odd file 7"]


@fork_only
def test_a_bad_file_is_named_or_skipped_from_a_worker_process(folder, tmp_path):
    bad = tmp_path / "with_bad"
    bad.mkdir()
    for f in sorted(folder.iterdir())[:4]:
        (bad / f.name).symlink_to(f)
    img = nib.load(str(folder / "organ_00.nii.gz"))
    ct = np.random.default_rng(0).integers(-1000, 1000, img.shape).astype(np.int16)  # a scan among the masks
    nib.save(nib.Nifti1Image(ct, img.affine), str(bad / "ct.nii.gz"))
    cmd = [sys.executable, "-m", "medmask", "convert", str(bad), str(tmp_path / "x.mska")]
    run = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
    assert run.returncode != 0 and "ct.nii.gz" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "x.mska").exists()
    run = subprocess.run(cmd + ["--skip-bad"], capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "skipped" in run.stderr and "ct.nii.gz" in run.stderr and "Traceback" not in run.stderr
    with MaskArchive(tmp_path / "x.mska") as a:
        assert sorted(a.all_names()) == ["organ_00", "organ_01", "organ_02", "organ_03"]


SLOW_CONVERT = """
    import sys, time
    import medmask.convert.nifti_folder as nf
    real = nf.binary_file_mask
    def slow(*a, **k):
        time.sleep(0.3)
        return real(*a, **k)
    nf.binary_file_mask = slow
    from medmask.cli import main
    sys.exit(main(["convert", sys.argv[1], sys.argv[2]]))
"""


@fork_only
def test_ctrl_c_stops_convert_and_its_workers_cleanly(folder, tmp_path):
    out = tmp_path / "x.mska"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SLOW_CONVERT), str(folder), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO,
                            start_new_session=True, preexec_fn=foreground_sigint)
    deadline = time.monotonic() + 60
    while len(children_of(proc.pid)) < 2 and time.monotonic() < deadline:  # the workers are up
        time.sleep(0.05)
    workers = children_of(proc.pid)
    assert len(workers) >= 2, "no worker processes started"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends: to the whole group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name != out.name]
    time.sleep(0.2)
    assert not [p for p in workers if alive(p)]
