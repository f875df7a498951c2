"""What ``medmask verify`` checks in one file, as data (the CLI prints it).

v2: every checksum, every entry decoded (the cheap decode checks run: run lengths, trailing
frames, unnamed values); with ``deep`` also the stored voxel counts and the tightness of
every bounding box, which a forged file with recomputed checksums could contradict.
v1 files have no checksums: their structure is checked and every entry decoded, but a
damaged voxel or coordinate cannot be detected; the result says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import FormatError, LimitError
from ..format.checks import loose_faces, voxel_counts

V1_NOTE = ("format version 1 has no checksums: its structure was checked and every entry decoded, but damaged "
           "voxels or coordinates cannot be detected; `medmask upgrade` rewrites it as version 2 with checksums")


@dataclass
class Verification:
    path: str
    version: int
    kind: str
    entries: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # deep-check findings (the file reads, but lies)
    note: str | None = None  # said of every v1 file
    minor: int = 0  # the file's minor format version
    damaged: list[str] = field(default_factory=list)  # v2 entries whose record or bytes do not read

    @property
    def format(self) -> str:
        return f"{self.version}.{self.minor}" if self.version >= 2 else str(self.version)

    @property
    def ok(self) -> bool:
        return not self.problems


def _open(path: str, storage_options: dict | None = None):
    from .reader import open_container
    return open_container(path, storage_options)


def verify_file(path: str | os.PathLike, deep: bool = False, storage_options: dict | None = None) -> Verification:
    """Check one .msk/.mska file (a path or a URL read with ``storage_options``); a file that does not
    read raises its MedMaskError."""
    path = os.fspath(path)
    container = _open(path, storage_options)
    try:
        result = Verification(path, container.version, container.kind, minor=container.minor)
        for name in container.names:
            try:
                mask = container.load(name)  # record + checksum + decode + cheap checks
            except FormatError as exc:
                if container.version < 2 or isinstance(exc, LimitError):
                    raise
                # one damaged entry (record or bytes): name it and check the others too
                problem = exc.problem if repr(name) in exc.problem else f"entry {name!r}: {exc.problem}"
                result.problems.append(problem)
                result.damaged.append(name)
                continue
            result.entries.append(name)
            if deep and container.version >= 2:
                result.problems += _deep_problems(name, container.info(name), mask)
        if container.version == 1:
            result.note = V1_NOTE
        return result
    finally:
        container.close()


def _deep_problems(name: str, info, mask) -> list[str]:
    crop = mask.crop_data if mask.bbox is not None else None
    problems = []
    actual = voxel_counts(crop)
    stored = {int(k): int(v) for k, v in (info.counts or {}).items() if v}
    if actual != stored:
        diff = {v: (stored.get(v, 0), actual.get(v, 0)) for v in sorted(set(actual) | set(stored))
                if stored.get(v, 0) != actual.get(v, 0)}
        problems.append(f"entry {name!r}: stored voxel counts differ from the voxels "
                        f"(value: (stored, actual)) {dict(list(diff.items())[:5])}")
    if crop is not None:
        loose = loose_faces(crop)
        if loose:
            problems.append(f"entry {name!r}: bounding box {info.bbox} is not tight (no voxel on its "
                            f"{', '.join(loose)} face)")
    return problems


def verify_archive(path: str | os.PathLike, deep: bool = False) -> list[str]:
    """The deep-check problems of one file ([] when it checks out)."""
    return verify_file(path, deep).problems
