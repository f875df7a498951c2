"""Single-mask files (.msk): one entry in the same container as an archive."""
from __future__ import annotations

import os
import warnings

from ..core.segmask import SegmentationMask
from ..errors import FormatError, MedMaskError
from ..format import v2
from .reader import ContainerReader
from .writer import write_v1_mask, write_v2


def save_mask(mask: SegmentationMask, path: str | os.PathLike, *, format_version: int = 2,
              level: int = v2.DEFAULT_LEVEL) -> None:
    """Write ``mask`` atomically; ``format_version=1`` writes what medmask 0.1.3 can read."""
    if format_version == 1:
        warn_v1_drops(mask.colors, mask.metadata, path)
        write_v1_mask(path, mask.space, mask.mapping.to_dict(), mask.data)
        return
    if format_version != 2:
        raise MedMaskError(f"format_version must be 1 or 2, got {format_version!r}", path)
    info, payload = v2.encode_entry(mask, "mask", level, os.fspath(path))
    write_v2(path, "mask", mask.space, [(info, lambda: payload)])


def warn_v1_drops(colors, metadata, path, name: str | None = None) -> None:
    """Format 1.0 has no place for colours or metadata: say so instead of dropping them silently."""
    lost = [what for what, value in (("colours", colors), ("metadata", metadata)) if value]
    if lost:
        where = f"entry {name!r} of " if name else ""
        warnings.warn(f"{where}{os.fspath(path)}: format version 1 cannot store {' and '.join(lost)}; "
                      f"not written (format_version=2 keeps them)", UserWarning, stacklevel=3)


def load_mask(path: str | os.PathLike) -> SegmentationMask:
    """Read a .msk file of format version 1 or 2."""
    reader = ContainerReader(path)
    try:
        if reader.kind != "mask":
            raise FormatError(f"is a multi-mask archive ({len(reader.names)} entries); open it with MaskArchive", path)
        (name,) = reader.names
        return reader.load(name)
    finally:
        reader.close()
