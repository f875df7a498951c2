"""Build a whole new archive from (name, mask) pairs in one atomic commit."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from spacetransformer import Space

from .archive import MaskArchive


def write_archive(dst: Path, space: Space, masks: Iterable[tuple[str, Any]], *, image=None,
                  format_version: int | str | None = None, attributes: dict | None = None) -> None:
    """Write (name, mask) pairs to a fresh archive at ``dst`` in one atomic commit.

    ``image``: an :class:`~medmask.core.image_ref.ImageReference` to record with them;
    ``format_version``: see :class:`MaskArchive` (None: the current one); ``attributes``: archive-level facts.

    Nothing appears under ``dst`` until every entry is encoded: a crash leaves the old
    file (or none), never a partial one, which is what makes batch runs resumable.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    it = iter(masks)
    first = next(it, None)
    if first is None:
        with MaskArchive(dst, mode="w", space=space, format_version=format_version) as archive:
            archive.image_reference = image
            archive.attributes = attributes or {}
            return
    # no space given: MaskArchive writes nothing until the block ends (it takes the masks' space)
    with MaskArchive(dst, mode="w", format_version=format_version) as archive:
        archive.image_reference = image
        archive.add_segmask(first[1], first[0])
        archive.attributes = attributes or {}
        for name, mask in it:
            archive.add_segmask(mask, name)
