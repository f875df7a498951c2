"""Which archives a stats/compare run covers, and the case name each one answers to."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable

from ..errors import MedMaskError

SUFFIXES = (".mska", ".msk")


def case_name(path: str | os.PathLike) -> str:
    """``liver_v2.mska`` -> ``liver_v2``: the name rows and pairs of cases are keyed by."""
    name = Path(path).name
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_mask_file(path: Path) -> bool:
    return path.name.endswith(SUFFIXES) and not path.name.startswith(".")  # skip atomic-write temporaries


def _folder_cases(folder: Path) -> list[tuple[str, Path]]:
    files = sorted(p for p in folder.rglob("*") if _is_mask_file(p) and p.is_file())
    out = []
    for p in files:
        rel = p.relative_to(folder)
        case = case_name(rel.name) if rel.parent == Path(".") else (rel.parent / case_name(rel.name)).as_posix()
        out.append((case, p))
    return out


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[tuple[str, Path]]:
    """(case, path) for archive files, folders (searched recursively) and glob patterns.

    A folder's cases are named by their path below the folder without the suffix
    (``sub/case1``), a file by its name without the suffix. A name given twice is an
    error: rows keyed by case would silently mix two files.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: list[tuple[str, Path]] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            cases = _folder_cases(path)
            if not cases:
                raise MedMaskError("folder holds no .mska or .msk files", text)
            found.extend(cases)
        elif path.exists():
            found.append((case_name(path), path))
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file() and _is_mask_file(m)]
            if not files:
                raise MedMaskError("pattern matches no .mska or .msk files", text)
            found.extend((case_name(m), m) for m in files)
        else:
            raise MedMaskError("no such file or folder", text)
    seen: dict[str, Path] = {}
    for case, p in found:
        if case in seen and seen[case].resolve() != p.resolve():
            raise MedMaskError(f"case name {case!r} is given by two files ({seen[case]} and {p}); "
                               f"give them different names or folders", str(p))
        seen[case] = p
    unique = {}
    for case, p in found:
        unique.setdefault(case, p)
    return list(unique.items())
