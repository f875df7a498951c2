"""What every byte source is (:class:`ByteSource`) and what names a remote file (:class:`RemoteFile`).

Apart from :mod:`.bytesource` (local files, bytes, file objects, and choosing one) so that
:mod:`.remote` can build on them without an import cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .locking import FileIdentity


class ByteSource:
    """Read-only, random-access bytes.

    ``size`` is the total size; ``known_size`` is the size when it costs nothing to know
    (remote sources learn theirs only if asked, which costs a request).
    """

    name: str | None
    known_size: int | None = None

    @property
    def size(self) -> int:
        assert self.known_size is not None
        return self.known_size

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the data)."""
        raise NotImplementedError

    def identity(self) -> FileIdentity | None:
        """What tells a later look whether someone replaced the file; None where that cannot
        be known (bytes, file objects, URLs: all read-only, so never committed to)."""
        return None

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class RemoteFile:
    """A URL together with the ``storage_options`` to read it with.

    What a list of inputs (``medmask stats``, ``compare``) holds for a remote file, so that
    whoever opens it (another process too: it pickles) reads it with the same credentials
    and timeouts. ``str()`` is the URL.
    """

    url: str
    storage_options: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return self.url

    @property
    def basename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]
