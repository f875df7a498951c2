"""Issue 11.4: Ctrl-C in ``medmask batch -j 2``, with real signals sent to a real process group."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from interop_helpers import REPO, alive, children_of, foreground_sigint, make_affine

N_CASES = 24


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """N_CASES cases (symlinks to one folder of 24 masks of 80^3 voxels): each takes a moment to convert."""
    root = tmp_path_factory.mktemp("interrupt")
    case = root / "_one_case"
    case.mkdir()
    rng = np.random.default_rng(1)
    shape = (80, 80, 80)
    idx = np.indices(shape, sparse=True)
    for n in range(24):
        c = rng.uniform(15, 65, 3)
        r = rng.uniform(6, 14, 3)
        arr = sum(((idx[a] - c[a]) / r[a]) ** 2 for a in range(3)) <= 1
        nib.save(nib.Nifti1Image(arr.astype(np.uint8), make_affine("oblique")), str(case / f"organ_{n:02d}.nii.gz"))
    ds = root / "ds"
    ds.mkdir()
    for i in range(N_CASES):
        os.symlink(case, ds / f"s{i:04d}")
    return ds


def start_batch(ds: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # its own process group, like a shell job, and Ctrl-C's default action, like a job in the foreground:
    # a test run started in the background (`make test &`, nohup) ignores SIGINT, and children inherit that
    return subprocess.Popen([sys.executable, "-m", "medmask", "batch", str(ds), str(out), "-j", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
                            start_new_session=True, preexec_fn=foreground_sigint)


def wait_first_case(proc: subprocess.Popen, out: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.is_dir() and any(p.suffix == ".mska" for p in out.iterdir()):
            return
        if proc.poll() is not None:
            pytest.fail(f"batch ended before the interrupt: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no case finished in time")


def batch_past_first_case(ds: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path, list[int]]:
    """A ``batch -j 2`` run that has finished its first case: (process, output folder, its workers)."""
    out = tmp_path / "out"
    proc = start_batch(ds, out)
    wait_first_case(proc, out)
    return proc, out, children_of(proc.pid)


def leftovers(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if not p.name.endswith(".mska") or p.name.startswith(".")]


def test_one_ctrl_c_cancels_and_exits_within_2s(dataset, tmp_path):
    proc, out, workers = batch_past_first_case(dataset, tmp_path)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
    try:
        stdout, stderr = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("batch still running 10 s after Ctrl-C")
    elapsed = time.monotonic() - t0
    assert elapsed < 2.0, f"took {elapsed:.2f} s to stop"
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr, stderr
    assert "cancelled" in stdout
    done = sorted(p.name for p in out.iterdir() if p.suffix == ".mska")
    assert 0 < len(done) < N_CASES, "the queue went on after Ctrl-C"
    assert leftovers(out) == [], "temporary files left behind"
    time.sleep(0.2)
    assert not [w for w in workers if alive(w)], "worker processes outlived the batch"
    # every archive left is complete, and the next run resumes with the rest
    verify = subprocess.run([sys.executable, "-m", "medmask", "verify", "-q", *map(str, sorted(out.glob("*.mska")))],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert verify.returncode == 0, verify.stdout


@pytest.mark.parametrize("gap", [0.05, 0.4, 0.9])
def test_second_ctrl_c_never_hangs(dataset, tmp_path, gap):
    proc, out, _ = batch_past_first_case(dataset, tmp_path)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(gap)
    with_second = proc.poll() is None
    if with_second:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("batch hung after a second Ctrl-C")
    assert time.monotonic() - t0 < 2.0
    # 130, or killed by the SIGINT itself when it lands while Python is finalizing (default action
    # restored): the shell reports 130 either way, and nothing is left behind
    assert proc.returncode in (130, -signal.SIGINT) and "Traceback" not in stderr, stderr
    assert leftovers(out) == []


def test_interrupt_only_the_parent(dataset, tmp_path):
    """``kill -INT <pid>`` (not the group): the workers are stopped by the parent all the same."""
    proc, out, workers = batch_past_first_case(dataset, tmp_path)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 2.0
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert leftovers(out) == []
    time.sleep(0.2)
    assert not [w for w in workers if alive(w)]
