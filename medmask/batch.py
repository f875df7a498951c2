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
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .reporting import human_bytes, progress_bar
from .storage.atomic import remove_stale_temporaries

__all__ = ["CaseResult", "BatchSummary", "find_cases", "convert_case", "convert_dataset", "format_summary"]


@dataclass
class CaseResult:
    case: str
    status: str  # "converted" | "skipped" | "failed"
    src_bytes: int = 0
    dst_bytes: int = 0
    n_entries: int = 0
    seconds: float = 0.0
    error: str | None = None
    image: str | None = None  # the scan the archive records (path relative to it), if any
    note: str | None = None   # e.g. why a scan found next to the masks was not recorded


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
    def src_bytes(self) -> int:
        return sum(r.src_bytes for r in self.results if r.status != "failed")

    @property
    def dst_bytes(self) -> int:
        return sum(r.dst_bytes for r in self.results if r.status != "failed")

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "converted": len(self.converted), "skipped": len(self.skipped),
                "failed": len(self.failed), "src_bytes": self.src_bytes, "dst_bytes": self.dst_bytes,
                "results": [asdict(r) for r in self.results]}


def _has_nifti(folder: Path) -> bool:
    from .convert.nifti import is_nifti_path

    try:
        return any(p.is_file() and is_nifti_path(p) and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return False


def find_cases(src_root: str | os.PathLike) -> list[tuple[str, Path]]:
    """(case name, folder of masks) for every case under ``src_root``."""
    from .errors import ConversionError

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


def convert_case(case: str, src_dir: str | os.PathLike, dst_path: str | os.PathLike, *,
                 voxel_tolerance: float = 0.1) -> CaseResult:
    """Convert one case; never raises for a bad case (the error goes in the result).

    A module-level function with plain arguments, so any executor (process pool, dask)
    can pickle it.
    """
    import warnings

    from .convert.image_link import ImageNotRecordedWarning
    from .convert.nifti_folder import nifti_folder_to_archive

    start = time.perf_counter()
    src_dir, dst_path = Path(src_dir), Path(dst_path)
    try:
        src_bytes = _nifti_bytes(src_dir)
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(dst_path)
        with warnings.catch_warnings(record=True) as caught:  # workers' warnings would be lost: keep them
            warnings.simplefilter("always", ImageNotRecordedWarning)
            nifti_folder_to_archive(src_dir, dst_path, voxel_tolerance=voxel_tolerance)  # records <case>/ct.nii.gz
        note = "; ".join(str(w.message) for w in caught if issubclass(w.category, ImageNotRecordedWarning)) or None
        from .storage.reader import ContainerReader

        reader = ContainerReader(dst_path)
        try:
            n = len(reader.names)
            image = reader.image.path if reader.image is not None else None
        finally:
            reader.close()
        return CaseResult(case, "converted", src_bytes, dst_path.stat().st_size, n, time.perf_counter() - start,
                          image=image, note=note)
    except Exception as exc:  # one bad case must not stop the dataset
        msg = str(exc) or type(exc).__name__
        if not hasattr(exc, "problem"):
            msg = f"{type(exc).__name__}: {msg}"
        return CaseResult(case, "failed", seconds=time.perf_counter() - start, error=msg.replace("\n", " "))


def convert_dataset(src_root: str | os.PathLike, dst_root: str | os.PathLike,
                    executor: cf.Executor | None = None, *, overwrite: bool = False, progress: bool = False,
                    cases: Iterable[str] | None = None, voxel_tolerance: float = 0.1,
                    on_result: Callable[[CaseResult], None] | None = None) -> BatchSummary:
    """Convert every case under ``src_root`` to ``dst_root/<case>.mska``.

    ``executor``: any ``concurrent.futures.Executor`` (None = this process, one case at a
    time). Finished cases are skipped unless ``overwrite``. ``cases`` limits the run to
    those case names. ``on_result`` is called for every case as it completes.
    Returns a :class:`BatchSummary`; failures are in ``summary.failed``.
    """
    start = time.perf_counter()
    dst_root = Path(dst_root)
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
            summary.results.append(CaseResult(case, "skipped", src_bytes, dst.stat().st_size))
        else:
            todo.append((case, folder, dst))

    bar = progress_bar(progress and bool(todo), "cases", total=len(todo), unit="case")

    def record(result: CaseResult) -> None:
        summary.results.append(result)
        if bar is not None:
            bar.update(1)
            if result.status == "failed":
                bar.write(f"failed: {result.case}: {result.error}")
        if on_result is not None:
            on_result(result)

    try:
        if executor is None:
            for case, folder, dst in todo:
                record(convert_case(case, str(folder), str(dst), voxel_tolerance=voxel_tolerance))
        else:
            futures = {executor.submit(convert_case, case, str(folder), str(dst), voxel_tolerance=voxel_tolerance): case
                       for case, folder, dst in todo}
            for fut in cf.as_completed(futures):
                case = futures[fut]
                try:
                    record(fut.result())
                except Exception as exc:  # the worker died (killed, out of memory, pool broken)
                    record(CaseResult(case, "failed", error=f"worker failed: {type(exc).__name__}: {exc}"))
    finally:
        if bar is not None:
            bar.close()
    order = {case: i for i, (case, _) in enumerate(found)}
    summary.results.sort(key=lambda r: order.get(r.case, 0))
    summary.seconds = time.perf_counter() - start
    return summary


def format_summary(summary: BatchSummary) -> str:
    """A short human summary: counts, bytes before/after, and every failure."""
    lines = [f"cases: {len(summary.converted)} converted, {len(summary.skipped)} already done, "
             f"{len(summary.failed)} failed  ({summary.seconds:.1f} s)"]
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
    if summary.failed:
        lines.append("failures:")
        lines += [f"  {r.case}: {r.error}" for r in summary.failed]
    return "\n".join(lines)
