"""One opened .msk/.mska file as stats sees it: geometry, index records, crops on demand.

The only place in ``medmask.stats`` that touches the storage layer, so a change there
is one edit here.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from ..core.grid_match import AxisMatch
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
        """The latest review decision per entry, and per label keyed ``entry/label``
        (``MaskArchive.review``); {} for files without any."""
        from ..format.review import parse

        return parse(getattr(self._reader, "review", {}) or {}, self.names, str(self.path)).flat()

    def image_reference(self):
        """The scan recorded in the archive (an ImageReference), or None."""
        return getattr(self._reader, "image", None)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> "MaskSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ReorderedSource:
    """A :class:`MaskSource` read in another grid's axis order: the same voxels, boxes and crops reordered.

    Why: a reference made from a dicom2nifti NIfTI stores the rows of the model's grid reversed;
    compared with the model's archive, it is read through this (crops are numpy views, nothing
    resampled) instead of being refused. ``order`` is how the source's arrays read in the target's order.
    """

    def __init__(self, source: MaskSource, order: AxisMatch):
        self.source, self.order = source, order
        self.path, self.case, self.names = source.path, source.case, source.names
        self.space = order.space(source.space)  # the source's own values, in the target's axis order

    def info(self, name: str) -> EntryInfo:
        info = self.source.info(name)
        if info.bbox is None:
            return info
        return dataclasses.replace(info, bbox=self.order.box(info.bbox, self.source.space.shape))

    def infos(self) -> list[EntryInfo]:
        return [self.info(n) for n in self.names]

    def crop(self, name: str) -> np.ndarray | None:
        crop = self.source.crop(name)
        return None if crop is None else self.order.reorder(crop)

    def payload(self, name: str) -> None:
        """None: the stored bytes hold the voxels in the source's order, so equal bytes prove nothing here."""
        return None

    def review(self) -> dict[str, dict[str, str]]:
        return self.source.review()

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> "ReorderedSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
