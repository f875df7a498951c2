"""Convert a whole dataset of NIfTI mask folders into one ``.mska`` per case.

Layouts found under ``src_root`` (one case per sub-folder, sorted by name):

* TotalSegmentator: ``src_root/s0000/segmentations/*.nii.gz``
* flat:             ``src_root/case001/*.nii.gz``

Each case becomes ``dst_root/<case>.mska``, written atomically, so a crash or Ctrl-C
never leaves a half file under the final name and a re-run skips the cases already
done (a finished file is recognised by opening its index). One bad case never stops
the others: its error is recorded and listed in the summary.

Work is handed to any :class:`concurrent.futures.Executor`: ``None`` runs in this
process, a ``ProcessPoolExecutor`` uses the cores of one machine, and a
``dask.distributed`` client's ``client.get_executor()`` spreads the cases over a cluster,
with no change to this code.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .optional import available, require
from .reporting import human_bytes
from .storage.atomic import remove_stale_temporaries

__all__ = ["CaseResult", "BatchSummary", "BatchInterrupted", "find_cases", "convert_case", "convert_dataset",
           "format_summary", "process_pool", "worker_init"]


@dataclass
class CaseResult:
    case: str
    status: str  # "converted" | "skipped" | "failed" | "cancelled"
    src_bytes: int = 0
    dst_bytes: int = 0
    n_entries: int = 0
    seconds: float = 0.0
    error: str | None = None
    image: str | None = None  # the scan the archive records (path relative to it), if any
    note: str | None = None   # e.g. why a scan found next to the masks was not recorded
    reason: str | None = None  # why a case was skipped or cancelled
    skipped_files: list[str] = field(default_factory=list)  # files left out under skip_bad, with why


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch run; ``summary`` holds what was done (pending cases are "cancelled")."""

    def __init__(self, summary: "BatchSummary"):
        super().__init__("interrupted")
        self.summary = summary


@dataclass
class BatchSummary:
    results: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0

    def _of(self, status: str) -> list[CaseResult]:
        return [r for r in self.results if r.status == status]

    @property
    def converted(self) -> list[CaseResult]:
        return self._of("converted")

    @property
    def skipped(self) -> list[CaseResult]:
        return self._of("skipped")

    @property
    def failed(self) -> list[CaseResult]:
        return self._of("failed")

    @property
    def cancelled(self) -> list[CaseResult]:
        return self._of("cancelled")

    @property
    def src_bytes(self) -> int:
        return sum(r.src_bytes for r in self.results if r.status != "failed")

    @property
    def dst_bytes(self) -> int:
        return sum(r.dst_bytes for r in self.results if r.status != "failed")

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "converted": len(self.converted), "skipped": len(self.skipped),
                "failed": len(self.failed), "cancelled": len(self.cancelled), "src_bytes": self.src_bytes,
                "dst_bytes": self.dst_bytes, "results": [_result_dict(r) for r in self.results]}


def _result_dict(r: CaseResult) -> dict:
    d = asdict(r)
    if r.status in ("skipped", "cancelled"):  # nothing was measured: say why, not n_entries 0 / seconds 0
        d.pop("seconds")
        d.pop("error")
    if r.status != "converted" and not r.skipped_files:
        d.pop("skipped_files")
    if r.reason is None:
        d.pop("reason")
    return d


def _has_nifti(folder: Path) -> bool:
    from .convert.nifti import is_nifti_path

    try:
        return any(p.is_file() and is_nifti_path(p) and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return False


def find_cases(src_root: str | os.PathLike) -> list[tuple[str, Path]]:
    """(case name, folder of masks) for every case under ``src_root``."""
    from .errors import ConversionError
    from .storage.bytesource import is_url

    if is_url(os.fspath(src_root)):  # NIfTI cases are read from local folders; archives are read by URL
        raise ConversionError("batch converts a local dataset folder; download the dataset first (URLs are "
                              "read by info, verify, convert, extract, stats and compare, for .mska/.msk)",
                              os.fspath(src_root))
    root = Path(src_root)
    if not root.is_dir():
        raise ConversionError("no such folder" if not root.exists() else "not a folder", root)
    cases = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (sub / "segmentations").is_dir():
            cases.append((sub.name, sub / "segmentations"))
        elif _has_nifti(sub):
            cases.append((sub.name, sub))
    if not cases and _has_nifti(root):
        raise ConversionError("holds .nii.gz files itself, not one folder per case; convert it with "
                              "'medmask convert FOLDER case.mska'", root)
    if not cases:
        raise ConversionError("no cases found: expected one folder per case holding .nii.gz masks "
                              "(case/segmentations/*.nii.gz or case/*.nii.gz)", root)
    return cases


def _nifti_bytes(folder: Path) -> int:
    from .convert.nifti import list_nifti_files

    return sum(p.stat().st_size for p in list_nifti_files(folder))


def _is_finished(path: Path) -> bool:
    """A complete archive: its header and index read back (atomic writes make that enough)."""
    if not path.is_file():
        return False
    try:
        from .storage.reader import ContainerReader

        reader = ContainerReader(path)
        try:
            return reader.kind == "archive"
        finally:
            reader.close()
    except Exception:
        return False


def _clean_stale_temps(dst: Path, older_than_s: float = 60.0) -> None:
    """Temporaries of ``dst``: the one sweeper of storage.atomic, with batch's own age limit."""
    remove_stale_temporaries(str(dst), older_than_s)


# ------------------------------------------------------------------------------------------
# worker processes: Ctrl-C is the parent's business; SIGTERM means "drop your temporaries, exit now"

_CURRENT_OUTPUT: Path | None = None  # the archive this worker is writing, if any


def _on_sigterm(signum, frame) -> None:
    # Delete this worker's temporaries and leave at once. Raising instead would not do:
    # an exception raised in a signal handler is swallowed when it lands in a __del__.
    if _CURRENT_OUTPUT is not None:
        _clean_stale_temps(_CURRENT_OUTPUT, older_than_s=0.0)
    os._exit(128 + signum)


def worker_init() -> None:
    """Initializer of batch worker processes (see :func:`process_pool`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C reaches the whole group
    signal.signal(signal.SIGTERM, _on_sigterm)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A process pool whose workers :func:`convert_dataset` can stop within a second on Ctrl-C."""
    return cf.ProcessPoolExecutor(workers, initializer=worker_init)


def convert_case(case: str, src_dir: str | os.PathLike, dst_path: str | os.PathLike, *,
                 voxel_tolerance: float = 0.1, skip_bad: bool = False, threads: int | None = None) -> CaseResult:
    """Convert one case; never raises for a bad case (the error goes in the result).

    A module-level function with plain arguments, so any executor (process pool, dask)
    can pickle it. Files left out under ``skip_bad`` are listed in ``skipped_files``.
    """
    global _CURRENT_OUTPUT
    _CURRENT_OUTPUT = Path(dst_path)
    try:
        return _convert_case(case, src_dir, dst_path, voxel_tolerance=voxel_tolerance, skip_bad=skip_bad,
                             threads=threads)
    finally:
        _CURRENT_OUTPUT = None


def _convert_case(case: str, src_dir, dst_path, *, voxel_tolerance: float, skip_bad: bool,
                  threads: int | None) -> CaseResult:
    import warnings

    from .convert.image_link import ImageNotRecordedWarning
    from .convert.nifti_folder import nifti_folder_to_archive
    from .errors import SkippedFileWarning

    start = time.perf_counter()
    src_dir, dst_path = Path(src_dir), Path(dst_path)
    try:
        src_bytes = _nifti_bytes(src_dir)
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_temps(dst_path)
        with warnings.catch_warnings(record=True) as caught:  # workers' warnings would be lost: keep them
            warnings.simplefilter("always", SkippedFileWarning)
            warnings.simplefilter("always", ImageNotRecordedWarning)
            nifti_folder_to_archive(src_dir, dst_path, voxel_tolerance=voxel_tolerance,  # records <case>/ct.nii.gz
                                    skip_bad=skip_bad, threads=threads)
        skipped = [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, SkippedFileWarning)]
        note = "; ".join(str(w.message) for w in caught if issubclass(w.category, ImageNotRecordedWarning)) or None
        for w in caught:
            if not issubclass(w.category, (SkippedFileWarning, ImageNotRecordedWarning)):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        from .storage.reader import ContainerReader

        reader = ContainerReader(dst_path)
        try:
            n = len(reader.names)
            image = reader.image.path if reader.image is not None else None
        finally:
            reader.close()
        return CaseResult(case, "converted", src_bytes, dst_path.stat().st_size, n, time.perf_counter() - start,
                          image=image, note=note, skipped_files=skipped)
    except Exception as exc:  # one bad case must not stop the dataset
        msg = str(exc) or type(exc).__name__
        if not hasattr(exc, "problem"):
            msg = f"{type(exc).__name__}: {msg}"
        return CaseResult(case, "failed", seconds=time.perf_counter() - start, error=msg.replace("\n", " "))


def convert_dataset(src_root: str | os.PathLike, dst_root: str | os.PathLike,
                    executor: cf.Executor | None = None, *, overwrite: bool = False, progress: bool = False,
                    cases: Iterable[str] | None = None, voxel_tolerance: float = 0.1,
                    on_result: Callable[[CaseResult], None] | None = None, skip_bad: bool = False) -> BatchSummary:
    """Convert every case under ``src_root`` to ``dst_root/<case>.mska``.

    ``executor``: any ``concurrent.futures.Executor`` (None = this process, one case at a
    time). Finished cases are skipped unless ``overwrite``. ``cases`` limits the run to
    those case names. ``on_result`` is called for every case as it completes.
    Returns a :class:`BatchSummary`; failures are in ``summary.failed``.

    Ctrl-C (KeyboardInterrupt) cancels the cases not started, stops the workers of a
    :func:`process_pool` (they delete their temporary files), and raises
    :class:`BatchInterrupted` carrying the summary so far, within about a second. A second
    Ctrl-C during that stop kills the workers at once.
    """
    from .storage.bytesource import writable_path

    start = time.perf_counter()
    dst_root = Path(writable_path(dst_root, "batch output to"))  # a URL: refused before anything is read
    require("nibabel")  # every case needs it: say so once, not once per case
    found = find_cases(src_root)  # before creating anything: a wrong source leaves no empty folder
    dst_root.mkdir(parents=True, exist_ok=True)
    if cases is not None:
        wanted = set(cases)
        found = [c for c in found if c[0] in wanted]
    summary = BatchSummary()
    todo = []
    for case, folder in found:
        dst = dst_root / f"{case}.mska"
        if not overwrite and _is_finished(dst):
            try:
                src_bytes = _nifti_bytes(folder)
            except OSError:
                src_bytes = 0
            summary.results.append(CaseResult(case, "skipped", src_bytes, dst.stat().st_size, _n_entries(dst),
                                              reason="already converted (pass --overwrite to convert it again)"))
        else:
            todo.append((case, folder, dst))

    bar = None
    if progress and todo and available("tqdm"):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="cases", unit="case")

    def record(result: CaseResult) -> None:
        summary.results.append(result)
        if bar is not None:
            bar.update(1)
            if result.status == "failed":
                bar.write(f"failed: {result.case}: {result.error}")
        if on_result is not None:
            on_result(result)

    def finish() -> BatchSummary:
        order = {case: i for i, (case, _) in enumerate(found)}
        summary.results.sort(key=lambda r: order.get(r.case, 0))
        summary.seconds = time.perf_counter() - start
        return summary

    try:
        if executor is None:
            for case, folder, dst in todo:
                record(convert_case(case, str(folder), str(dst), voxel_tolerance=voxel_tolerance, skip_bad=skip_bad))
        else:
            # cases already run in parallel: one file at a time in each, or threads would fight over the cores
            futures = _submit_all(executor, todo, voxel_tolerance=voxel_tolerance, skip_bad=skip_bad, threads=1)
            for fut in cf.as_completed(futures):
                case = futures[fut]
                try:
                    record(fut.result())
                except Exception as exc:  # the worker died (killed, out of memory, pool broken)
                    record(CaseResult(case, "failed", error=f"worker failed: {type(exc).__name__}: {exc}"))
    except KeyboardInterrupt:
        _stop(executor, [dst for _, _, dst in todo])
        done = {r.case for r in summary.results}
        for case, _, _ in todo:
            if case not in done:
                summary.results.append(CaseResult(case, "cancelled", reason="interrupted (Ctrl-C) before it finished"))
        raise BatchInterrupted(finish()) from None
    finally:
        if bar is not None:
            bar.close()
    return finish()


def _n_entries(path: Path) -> int:
    from .storage.reader import ContainerReader

    try:
        reader = ContainerReader(path)
    except Exception:
        return 0
    try:
        return len(reader.names)
    finally:
        reader.close()


def _submit_all(executor: cf.Executor, todo, **kwargs) -> dict:
    """Submit every case; Ctrl-C is held back meanwhile so forked workers start with it blocked."""
    mask = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if mask:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return {executor.submit(convert_case, case, str(folder), str(dst), **kwargs): case
                for case, folder, dst in todo}
    finally:
        if mask:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop(executor: cf.Executor | None, outputs: list[Path], grace_s: float = 1.0) -> None:
    """Cancel what has not started, stop the workers, delete every temporary they may have left.

    Bounded in time: workers get SIGTERM (they clean up and exit), stragglers SIGKILL after
    ``grace_s``. A second Ctrl-C meanwhile skips the wait and kills them at once.
    """
    procs: list = []
    if executor is not None:
        if isinstance(executor, cf.ProcessPoolExecutor):
            procs = list(multiprocessing.active_children())
        try:
            executor.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass

    def sweep() -> None:
        for dst in outputs:
            _clean_stale_temps(dst, older_than_s=0.0)

    def hard_stop(signum=None, frame=None) -> None:
        for p in procs:
            with contextlib.suppress(Exception):
                p.kill()
        sweep()
        if signum is not None:  # second Ctrl-C: the user wants out now
            os._exit(130)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, hard_stop) if main else None
    try:
        for p in procs:
            with contextlib.suppress(Exception):
                p.terminate()
        deadline = time.monotonic() + grace_s
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        if any(p.is_alive() for p in procs):
            hard_stop()
            for p in procs:
                p.join(0.5)
        sweep()
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def format_summary(summary: BatchSummary) -> str:
    """A short human summary: counts, bytes before/after, and every failure."""
    cancelled = f", {len(summary.cancelled)} cancelled" if summary.cancelled else ""
    lines = [f"cases: {len(summary.converted)} converted, {len(summary.skipped)} already done, "
             f"{len(summary.failed)} failed{cancelled}  ({summary.seconds:.1f} s)"]
    if summary.src_bytes:
        ratio = summary.src_bytes / summary.dst_bytes if summary.dst_bytes else float("inf")
        lines.append(f"size:  {human_bytes(summary.src_bytes)} of NIfTI -> {human_bytes(summary.dst_bytes)} of .mska "
                     f"({ratio:.1f}x smaller)")
    with_scan = [r for r in summary.converted if r.image]
    if with_scan:
        lines.append(f"scans: {len(with_scan)} of {len(summary.converted)} converted cases record their scan "
                     f"(e.g. {with_scan[0].case}: {with_scan[0].image})")
    notes = [r for r in summary.results if r.note]
    if notes:
        lines.append("notes:")
        lines += [f"  {r.case}: {r.note}" for r in notes]
    left_out = [(r.case, f) for r in summary.results for f in r.skipped_files]
    if left_out:
        lines.append("files left out (--skip-bad):")
        lines += [f"  {case}: {f}" for case, f in left_out]
    if summary.failed:
        lines.append("failures:")
        lines += [f"  {r.case}: {r.error}" for r in summary.failed]
    return "\n".join(lines)
