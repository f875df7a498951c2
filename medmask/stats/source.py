"""One opened .msk/.mska file as stats sees it: geometry, index records, crops on demand.

The only place in ``medmask.stats`` that touches the storage layer, so a change there
is one edit here.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..format.records import EntryInfo
from ..storage.bytesource import RemoteFile
from ..storage.reader import ContainerReader


class MaskSource:
    """Header and index of one file, held open; an entry's crop is decoded only when asked for."""

    def __init__(self, path: str | os.PathLike | RemoteFile, case: str | None = None):
        from .inputs import case_name

        self.path = path if isinstance(path, RemoteFile) else Path(path)  # a URL is not a Path
        self.case = case if case is not None else case_name(self.path)
        self._reader = ContainerReader(self.path)
        self.space = self._reader.space
        self.names: list[str] = list(self._reader.names)
        self.info = self._reader.info  # the index record; v1 files (no counts or bbox in the index)
        #                                are decoded once to learn them

    def infos(self) -> list[EntryInfo]:
        return [self.info(n) for n in self.names]

    def crop(self, name: str) -> np.ndarray | None:
        """The entry's labels inside its bbox (None when empty), checksum verified."""
        mask = self._reader.load(name)
        return None if mask.bbox is None else mask.crop_data

    def payload(self, name: str) -> bytes:
        """The entry's stored bytes: equal bytes mean equal voxels, no decoding needed."""
        return self._reader.raw_payload(name)

    def review(self) -> dict[str, dict[str, str]]:
        """The latest review decision per entry (``MaskArchive.review``); {} for files without any."""
        from ..format.review import parse

        return parse(getattr(self._reader, "review", {}) or {}, self.names, str(self.path)).decisions

    def image_reference(self):
        """The scan recorded in the archive (an ImageReference), or None."""
        return getattr(self._reader, "image", None)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> "MaskSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
