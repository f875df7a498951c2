"""Which archives a stats/compare run covers, and the case name each one answers to.

Local files come back as :class:`~pathlib.Path`, URLs (``s3://bucket/*.mska``, a folder URL
ending in ``/``, one ``https://`` file) as :class:`~medmask.storage.bytesource.RemoteFile`
carrying the ``storage_options`` to read them with.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path, PurePosixPath
from typing import Iterable, Union

from ..errors import MedMaskError
from ..storage.bytesource import RemoteFile, is_url

SUFFIXES = (".mska", ".msk")
Location = Union[Path, RemoteFile]


def case_name(path: str | os.PathLike | RemoteFile) -> str:
    """``liver_v2.mska`` -> ``liver_v2``: the name rows and pairs of cases are keyed by."""
    name = path.basename if isinstance(path, RemoteFile) else Path(path).name
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_mask_file(path: Path) -> bool:
    return path.name.endswith(SUFFIXES) and not path.name.startswith(".")  # skip atomic-write temporaries


def _relative_case(rel: PurePosixPath) -> str:
    """``sub/case1.mska`` below a folder -> ``sub/case1``."""
    return case_name(rel.name) if rel.parent == PurePosixPath(".") else (rel.parent / case_name(rel.name)).as_posix()


def _folder_cases(folder: Path) -> list[tuple[str, Path]]:
    files = sorted(p for p in folder.rglob("*") if _is_mask_file(p) and p.is_file())
    return [(_relative_case(PurePosixPath(p.relative_to(folder).as_posix())), p) for p in files]


def _remote_cases(url: str, storage_options: dict | None) -> list[tuple[str, Location]]:
    from ..storage.remote import list_remote

    if not (glob.has_magic(url) or url.endswith("/")):
        return [(case_name(RemoteFile(url)), RemoteFile(url, storage_options))]
    urls = list_remote(url, SUFFIXES, storage_options)
    if not urls:
        raise MedMaskError(f"{'pattern' if glob.has_magic(url) else 'folder'} matches no .mska or .msk files", url)
    if glob.has_magic(url):
        return [(case_name(RemoteFile(u)), RemoteFile(u, storage_options)) for u in urls]
    base = url.rstrip("/").split("://", 1)[1] + "/"  # a folder: cases named by their path below it
    return [(_relative_case(PurePosixPath(u.split("://", 1)[1].split(base, 1)[-1])), RemoteFile(u, storage_options))
            for u in urls]


def _same_file(a: Location, b: Location) -> bool:
    if isinstance(a, RemoteFile) or isinstance(b, RemoteFile):
        return str(a) == str(b)
    return a.resolve() == b.resolve()


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike], *,
                  storage_options: dict | None = None) -> list[tuple[str, Location]]:
    """(case, path) for archive files, folders (searched recursively) and glob patterns, local or
    URLs (``s3://bucket/cases/*.mska``, ``s3://bucket/cases/``, read with ``storage_options``).

    A folder's cases are named by their path below the folder without the suffix
    (``sub/case1``), a file by its name without the suffix. A name given twice is an
    error: rows keyed by case would silently mix two files.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: list[tuple[str, Location]] = []
    for item in inputs:
        text = os.fspath(item)
        if is_url(text):
            found.extend(_remote_cases(text, storage_options))
            continue
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
    seen: dict[str, Location] = {}
    for case, p in found:
        if case in seen and not _same_file(seen[case], p):
            raise MedMaskError(f"case name {case!r} is given by two files ({seen[case]} and {p}); "
                               f"give them different names or folders", str(p))
        seen[case] = p
    unique = {}
    for case, p in found:
        unique.setdefault(case, p)
    return list(unique.items())
