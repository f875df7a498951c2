"""One exception hierarchy for everything a bad file or a bad call can cause.

Every error raised while reading names the file (when there is one) and what is
wrong with it, so a user with ten thousand cases can find the broken one.
"""
from __future__ import annotations

import os


class MedMaskError(Exception):
    """Base class of every error medmask raises on purpose."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = os.fspath(path) if path is not None else None
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class FormatError(MedMaskError):
    """The bytes are not a valid medmask file (bad magic, truncated, lying header...)."""


class UnsupportedVersionError(FormatError):
    """The file is a medmask file of a version this installation cannot read."""


class CodecError(FormatError):
    """An entry names an unknown codec or its payload does not decode."""


class ChecksumError(FormatError):
    """Stored bytes do not match their checksum: the file was changed or damaged."""


class LimitError(FormatError):
    """The file declares a size beyond what medmask will allocate for it."""


class EntryNotFoundError(MedMaskError, KeyError):
    """An archive has no entry with the requested name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return Exception.__str__(self)


class EntryExistsError(MedMaskError):
    """An entry with this name already exists and replace was not asked for."""


class LabelError(MedMaskError, ValueError):
    """A label or name is invalid, unknown or already used."""


class OverlapError(LabelError):
    """add_label would overwrite voxels of another label."""


class GeometryError(MedMaskError, ValueError):
    """Shapes or spaces do not agree."""


class ArchiveModeError(MedMaskError):
    """The archive was opened in a mode that does not allow this operation."""


class ConcurrentModificationError(MedMaskError):
    """The file changed on disk since this handle read it (another program or handle committed).

    Nothing was written: writing would have dropped the other edit. The handle has been
    reloaded from the file as it is now, so the change can be applied again on top of it.
    """


class WriteError(MedMaskError, OSError):
    """Writing a file failed (disk full, no permission, a directory in the way...).

    Also an ``OSError`` carrying the original ``errno``; the message names the medmask file,
    not a temporary one. The file on disk is unchanged.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, errno: int | None = None):
        super().__init__(message, path)
        self.errno = errno
        self.filename = self.path

    def __str__(self) -> str:  # OSError would print "[Errno n] None: path"
        return Exception.__str__(self)


class ConversionError(MedMaskError):
    """A foreign file (NIfTI, NRRD) cannot be converted."""


class MissingDependencyError(MedMaskError, ImportError):
    """An optional package a conversion needs (nibabel, pynrrd) is not installed; names the extra."""


class MedMaskWarning(UserWarning):
    """Something the user should know about (the command line prints it on one line)."""


class SkippedFileWarning(MedMaskWarning):
    """A file of a folder was left out (``skip_bad``): not a mask, another grid, unreadable."""


class GeometryWarning(MedMaskWarning):
    """The geometry of a file is ambiguous (e.g. a NIfTI's sform and qform disagree)."""


class MaskOverlapWarning(MedMaskWarning):
    """add_label replaced voxels of another label (counts are in the message)."""
