"""The one wording for a source file that cannot be opened at all (missing, a folder, no permission)."""
from __future__ import annotations

import os

from ..errors import ConversionError


def unopenable(exc: BaseException, path: str | os.PathLike, what: str) -> ConversionError | None:
    """The ConversionError naming ``path`` for an open that failed on the file itself, else None
    (a damaged file is the caller's to describe). ``what``: e.g. "a NIfTI file"."""
    if isinstance(exc, FileNotFoundError):
        return ConversionError("no such file", path)
    if isinstance(exc, IsADirectoryError):
        return ConversionError(f"is a folder, not {what}", path)
    if isinstance(exc, PermissionError):
        return ConversionError(f"cannot read ({exc.strerror})", path)
    return None
