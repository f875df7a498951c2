"""MaskArchive: many named, possibly overlapping masks sharing one geometry in one file."""
from __future__ import annotations

import contextlib
import copy
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any, Iterator, Mapping, Sequence

from ..core.geometry import spaces_equal
from ..core.image_ref import ImageReference
from ..core.mapping import LabelMapping
from ..core.segmask import SegmentationMask, normalize_color
from ..errors import (ArchiveModeError, ChecksumError, ConcurrentModificationError, EntryExistsError,
                      EntryNotFoundError, FormatError, GeometryError, LabelError, LimitError, MedMaskError, WriteError)
from .. import limits
from ..format import v2
from ..format.records import EntryInfo
from .atomic import check_replaceable, resolve_target
from .bytesource import Source, source_name, writable_path
from .container import Container, StagedEntry, preview_names
from .entries import decode_mask, describe_mask, encode_mask
from .locking import FileIdentity, commit_lock
from .reader import container_class, open_container, parse_format_version
from .review import ReviewMixin

MODES = ("r", "w", "a")


class MaskArchive(ReviewMixin):
    """A ``.mska`` file. ``mode``: ``"r"`` read, ``"w"`` create/overwrite, ``"a"`` edit or create.

    ``"r"`` also reads a URL (``s3://``, ``https://``, ``memory://``... through fsspec, with
    ``storage_options``), bytes or a binary file object; writing needs a local path.

    In ``"w"`` mode the file is first written by the first change (or ``commit``/``close``).
    Every change (add, replace, delete, rename, metadata) is written atomically at once;
    inside a ``with`` block changes are collected and written once when the block ends
    (and dropped if it raises). Reading an entry touches only the header, the index
    and that entry's bytes.

    Several handles (processes, or a viewer session kept open) may edit one file: commits
    are serialised by an advisory lock, and a commit onto a file that changed since this
    handle read it raises :class:`ConcurrentModificationError` instead of dropping the
    other edit. A commit that fails for any reason leaves the handle as the file is.
    """

    def __init__(self, path: Source, mode: str = "r", space=None, *,
                 format_version: int | str | None = None, level: int = v2.DEFAULT_LEVEL,
                 storage_options: dict | None = None):
        if mode not in MODES:
            raise ArchiveModeError(f"mode must be one of {MODES}, got {mode!r}", source_name(path))
        if mode != "r":  # URLs, bytes and file objects are read-only
            path = writable_path(path, f"mode={mode!r} (writing)")
        # refuse an unknown version before touching anything; None: write the file's own version
        # (re-read on every reload: a handle never lowers a file another program upgraded)
        self._asked_version = parse_format_version(format_version, source_name(path))
        self.format_version, self._minor = self._asked_version or (2, None)
        self._source = path
        self._storage_options = storage_options
        self.path = source_name(path)
        self.mode = mode
        self.level = level
        self._reader: Container | None = None
        # name -> (record, pending payload); (None, None) = as on disk, record parsed on first use;
        # (Future, None) = added inside a with block, being encoded (the Future gives both)
        self._entries: dict[str, tuple[EntryInfo | Future | None, bytes | None]] = {}
        self._depth = 0
        self._closed = False
        self._dirty = False
        self._space = space
        self._identity: FileIdentity | None = None  # the file this handle's state came from
        self._written = False  # "w": the first commit overwrites whatever is there
        # inside a with block, entries are encoded by these threads while the caller builds the next mask
        self._encoder: ThreadPoolExecutor | None = None
        self._encoding: deque = deque()
        self._image: ImageReference | None = None
        self._attributes: dict[str, Any] = {}
        self._load_review({})
        if mode == "r" or (mode == "a" and os.path.exists(self.path)):
            self._load_from_disk()
            if self._reader.kind != "archive":  # type: ignore[union-attr]
                raise MedMaskError("is a single-mask .msk file, not an archive; use load_mask", self.path)
            if space is not None and not spaces_equal(space, self._space):
                raise GeometryError(f"space given ({space}) differs from the archive's ({self._space})", self.path)
        else:
            # nothing touches the disk until the first change, commit() or close(): a crash
            # before then leaves any previous file intact and no empty "finished-looking" one
            self._dirty = True

    # opening ------------------------------------------------------------------------------
    def _load_from_disk(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader = None
        reader = open_container(self._source, self._storage_options)
        self._reader = reader
        self._identity = reader.identity()
        self._space = reader.space
        self._image = reader.image
        self._attributes = reader.attributes
        self._load_review(reader.review)
        self._entries = dict.fromkeys(reader.names, (None, None))
        self._dirty = False
        if self._asked_version is None:  # the file's version as it is now (another program may have upgraded it)
            self.format_version, self._minor = reader.version, None

    @property
    def space(self):
        return self._space

    @property
    def image_reference(self) -> ImageReference | None:
        """The scan these masks were drawn on (relative path + geometry), or None.

        Set it in "w"/"a" mode (None removes it); like any change it is written atomically
        at once, or at the end of a ``with`` block. Format version 1 cannot store it.
        Build one with :meth:`ImageReference.from_image` or
        :func:`medmask.convert.image_link.image_reference_for`.
        """
        self._check_open()
        return self._image

    @image_reference.setter
    def image_reference(self, ref: ImageReference | None) -> None:
        self._check_writable()
        if ref is not None and not isinstance(ref, ImageReference):
            raise MedMaskError(f"image_reference must be an ImageReference or None, got {type(ref).__name__}",
                               self.path)
        if ref == self._image:
            return
        if ref is not None and self.format_version == 1:
            raise ArchiveModeError("format version 1 files cannot store an image reference; "
                                   "open with format_version=2 to upgrade the file", self.path)
        self._image = ref
        self._changed()

    @property
    def attributes(self) -> dict[str, Any]:
        """Archive-level facts (a JSON object stored once in the index), e.g. the study, the
        model that made the masks, a licence. A copy: assign a new dict in "w"/"a" mode to
        change them (written atomically like any change). Format version 1 cannot store them.
        """
        self._check_open()
        return copy.deepcopy(self._attributes)

    @attributes.setter
    def attributes(self, value: Mapping[str, Any]) -> None:
        self._check_writable()
        if not isinstance(value, Mapping):
            raise MedMaskError(f"attributes must be a dict, got {type(value).__name__}", self.path)
        try:
            value = v2.json_safe_metadata(dict(value), "attributes")
        except MedMaskError as exc:
            raise MedMaskError(exc.problem.replace("metadata of 'attributes' is", "the archive attributes are")
                               .replace("metadata of 'attributes' holds", "the archive attributes hold"),
                               self.path) from None
        if value == self._attributes:
            return
        if value and self.format_version == 1:
            raise ArchiveModeError("format version 1 files cannot store archive attributes; "
                                   "open with format_version=2 to upgrade the file", self.path)
        self._attributes = value
        self._changed()

    # reading ------------------------------------------------------------------------------
    def all_names(self) -> list[str]:
        return list(self._entries)

    names = property(all_names)

    def entry_info(self, name: str) -> EntryInfo:
        info, payload = self._get(name)
        return self._reader.info(name) if payload is None else info  # type: ignore[union-attr]

    def entries(self) -> list[EntryInfo]:
        return [self.entry_info(n) for n in self._entries]

    def load_segmask(self, name: str) -> SegmentationMask:
        """The entry as a crop-backed mask: cheap until ``.data`` asks for the full volume."""
        info, payload = self._get(name)
        if payload is None:
            return self._reader.load(name)  # type: ignore[union-attr]
        return decode_mask(info, payload, self._space, self.path)

    __getitem__ = load_segmask

    def read_all_mapping(self) -> dict[str, LabelMapping]:
        return {name: LabelMapping(self._get(name)[0].mapping) for name in self._entries}

    def read_all_masks(self) -> dict[str, SegmentationMask]:
        return {name: self.load_segmask(name) for name in self._entries}

    def verify(self) -> list[str]:
        """Check every entry's record and checksum and decode it (v1 files: decode every entry);
        returns the names checked. Like ``medmask verify``, every entry is checked: damaged ones
        raise one error at the end listing each with its problem (``.damaged``: name -> problem);
        a ChecksumError when every problem is a checksum mismatch, else a FormatError."""
        damaged: dict[str, str] = {}
        kinds: set[type] = set()
        for name in self._entries:
            try:
                self.load_segmask(name)
            except LimitError:
                raise  # the file as a whole costs too much: no use checking the others
            except FormatError as exc:
                damaged[name] = exc.problem if repr(name) in exc.problem else f"entry {name!r}: {exc.problem}"
                kinds.add(type(exc))
        if damaged:
            cls = ChecksumError if kinds == {ChecksumError} else FormatError
            err = cls(f"{len(damaged)} of {len(self._entries)} entries are damaged: " + "; ".join(damaged.values()),
                      self.path)
            err.damaged = damaged
            raise err
        return list(self._entries)

    def raw_payload(self, name: str) -> bytes:
        """An entry's stored bytes, as on disk (for copying between archives without re-coding)."""
        info, payload = self._get(name)
        return payload if payload is not None else self._reader.raw_payload(name)  # type: ignore[union-attr]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def _check_exists(self, name: str) -> None:
        self._check_open()
        if name not in self._entries:
            raise EntryNotFoundError(f"no entry named {name!r}; entries: {preview_names(self._entries)}",
                                     self.path)

    def _get(self, name: str) -> tuple[EntryInfo, bytes | None]:
        self._check_open()
        try:
            info, payload = self._entries[name]
        except KeyError:
            raise EntryNotFoundError(f"no entry named {name!r}; entries: {preview_names(self._entries)}",
                                     self.path) from None
        if info is None:
            info = self._reader.info(name, exact=False)  # type: ignore[union-attr]
        elif isinstance(info, Future):
            info, payload = info.result()
            self._entries[name] = (info, payload)
        return info, payload

    # writing ------------------------------------------------------------------------------
    def add_segmask(self, mask: SegmentationMask, name: str, *, replace: bool = False) -> EntryInfo:
        """Store ``mask`` as entry ``name``; an existing name needs ``replace=True``. Returns its record.

        Inside a ``with`` block (or :meth:`add_segmasks`) the entry is encoded by background
        threads while the caller builds the next mask, and written when the block ends; the
        record returned then has no codec, length or checksum yet (:meth:`entry_info` waits for
        them). What is stored is the mask as it is now: its voxels are copied for the encoder.
        """
        self._check_writable()
        if not isinstance(name, str) or not name:
            raise LabelError(f"entry name must be a non-empty string, got {name!r}", self.path)
        v2.check_text(name, "entry name", self.path)
        if not isinstance(mask, SegmentationMask):
            raise MedMaskError(f"add_segmask needs a SegmentationMask, got {type(mask).__name__}", self.path)
        if name in self._entries and not replace:
            raise EntryExistsError(f"entry {name!r} exists; pass replace=True to overwrite it", self.path)
        if self._space is None:
            self._space = mask.space
        elif not spaces_equal(mask.space, self._space):
            raise GeometryError(f"mask {name!r} has space {mask.space}, the archive has {self._space}", self.path)
        if self._depth > 0:  # written when the block ends: encode in the background meanwhile
            info, crop = describe_mask(mask, name)
            v2.check_entry(info, self.path)  # a bad name or metadata is refused here, not at the block's end
            # the job owns its voxels: the caller may change the mask (or its array) once this returns
            job = self._encoder_pool().submit(v2.encode_entry, info, None if crop is None else crop.copy(),
                                              self.level, self.path)
            self._encoding.append(job)
            entry: tuple = (job, None)
        else:
            info, payload = encode_mask(mask, name, self.level, self.path)
            entry = (info, payload)
        if name in self._entries:
            self._note_voxels(name, mask)
        self._entries[name] = entry
        self._changed()
        return info

    def _encoder_pool(self) -> ThreadPoolExecutor:
        """The block's encoder threads; a few entries in flight at most (what they hold stays bounded)."""
        workers = limits.usable_cores()
        if self._encoder is None:
            self._encoder = ThreadPoolExecutor(workers, thread_name_prefix="medmask-encode")
        self._encoding = deque(f for f in self._encoding if not f.done())
        while len(self._encoding) >= 2 * workers:
            wait([self._encoding.popleft()])
        return self._encoder

    def _stop_encoder(self) -> None:
        """Wait for (or cancel, when nothing will be written) the background encoding; its threads end."""
        if self._encoder is not None:
            self._encoder.shutdown(wait=True, cancel_futures=True)
            self._encoder, self._encoding = None, deque()

    def add_segmasks(self, masks: Mapping[str, SegmentationMask], *, replace: bool = False) -> None:
        """Add many entries with one write."""
        with self._batch():
            for name, mask in masks.items():
                self.add_segmask(mask, name, replace=replace)

    def add_labelmap(self, labels, names: Mapping[str, int] | None = None,
                     colors: Mapping[str, Sequence[float]] | None = None, metadata: Mapping[str, Any] | None = None,
                     *, space=None, replace: bool = False) -> list[str]:
        """One entry per name of a label map (a model's output, TotalSegmentator ``--ml``), one write.

        ``labels``: a 3D integer array in medmask (z, y, x) order on ``space`` (default: the
        archive's), or a SegmentationMask (its space, and its names, colours and metadata
        unless given). ``names``: name -> label value. A named value without voxels becomes an
        empty entry; a value present but unnamed becomes ``label_<v>``. ``colors``: name -> rgba;
        ``metadata``: stored on every entry. All bounding boxes come from one pass over the
        volume. Returns the entry names written.
        """
        from ..core.labelmap import split_labelmap

        if isinstance(labels, SegmentationMask):
            space = labels.space if space is None else space
            names = labels.mapping.to_dict() if names is None else names
            colors = labels.colors if colors is None else colors
            metadata = labels.metadata if metadata is None else metadata
            labels = labels.data
        space = self._space if space is None else space
        if space is None:
            raise GeometryError("the archive has no space yet: pass space= with the label map", self.path)
        try:
            masks = split_labelmap(labels, names or {}, space, colors=colors, metadata=metadata)
        except MedMaskError as exc:
            raise type(exc)(exc.problem, self.path) from None
        self.add_segmasks(masks, replace=replace)
        return list(masks)

    def replace(self, name: str, mask: SegmentationMask) -> EntryInfo:
        self._check_exists(name)  # not its record: an entry whose index row is damaged can be replaced
        return self.add_segmask(mask, name, replace=True)

    def __setitem__(self, name: str, mask: SegmentationMask) -> None:
        self.add_segmask(mask, name, replace=True)

    def remove(self, name: str) -> None:
        self._check_writable()
        self._check_exists(name)  # not its record: an entry whose index row is damaged can be removed
        self._note_remove(name)
        del self._entries[name]
        self._changed()

    __delitem__ = remove

    def rename(self, old: str, new: str) -> None:
        self._check_writable()
        info, payload = self._get(old)
        if not isinstance(new, str) or not new:
            raise LabelError(f"entry name must be a non-empty string, got {new!r}", self.path)
        v2.check_text(new, "entry name", self.path)
        if new in self._entries and new != old:
            raise EntryExistsError(f"cannot rename {old!r} to {new!r}: that entry exists", self.path)
        if payload is None:  # the reader knows the bytes by the old name: take them along
            info, source = self._reader.staged(old, self.level).v2_item()  # type: ignore[union-attr]
            payload = source()
        self._note_rename(old, new)
        self._entries = {(new if n == old else n): ((replace(info, name=new), payload) if n == old else v)
                         for n, v in self._entries.items()}
        self._changed()

    def set_attributes(self, name: str, *, colors: Mapping[str, Sequence[float]] | None = None,
                       metadata: Mapping[str, Any] | None = None) -> EntryInfo:
        """Change an entry's colours and/or metadata without touching its stored voxels."""
        self._check_writable()
        info, payload = self._get(name)
        if payload is None and not self._reader.stores_attributes:  # type: ignore[union-attr]
            raise ArchiveModeError("format version 1 files cannot store colours or metadata", self.path)
        changes: dict[str, Any] = {}
        if colors is not None:
            unknown = set(colors) - set(info.mapping)
            if unknown:
                raise LabelError(f"entry {name!r} has no labels named {sorted(unknown)}", self.path)
            changes["colors"] = {k: normalize_color(v) for k, v in colors.items()}
        if metadata is not None:
            changes["metadata"] = v2.json_safe_metadata(dict(metadata), name, self.path)
        new = replace(info, **changes)
        self._entries[name] = (new, payload)
        self._changed()
        return new

    def _check_writable(self) -> None:
        self._check_open()
        if self.mode == "r":
            raise ArchiveModeError("archive is open read-only (mode='r'); open it with mode='a' to change it", self.path)

    def _check_open(self) -> None:
        if self._closed:
            raise ArchiveModeError("archive is closed; open it again", self.path)

    def _changed(self) -> None:
        self._dirty = True
        if self._depth == 0:
            self._commit()

    def rewrite(self) -> None:
        """Write the whole file again now, changed or not: with ``format_version=2`` this upgrades a
        version-1 file (entries re-coded one at a time, checksums added)."""
        self._check_writable()
        self._changed()

    def commit(self) -> None:
        """Write pending changes now (normally automatic; inside ``with`` at block end)."""
        if self._dirty:
            self._commit()

    flush = commit

    def _commit(self) -> None:
        if self._space is None:
            return  # nothing can be written before the geometry is known
        try:
            target = resolve_target(self.path)
            check_replaceable(target, self.path)  # a directory or read-only file: say so before locking
            with commit_lock(target) as current:
                self._check_unchanged(current)
                self._write()
                self._load_from_disk()
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, MedMaskError) or not isinstance(exc, (OSError, ValueError, RecursionError)):
                raise
            if isinstance(exc, OSError):
                raise WriteError(f"could not write the archive, it is unchanged: {exc.strerror or exc}",
                                 self.path, exc.errno) from exc
            raise MedMaskError(f"could not write the archive, it is unchanged: {type(exc).__name__}: {exc}",
                               self.path) from exc
        self._written = True

    def _check_unchanged(self, current: FileIdentity | None) -> None:
        if self.mode == "w" and not self._written:
            return  # "w" replaces whatever is there
        if current == self._identity:
            return
        if current is None:
            what = "was deleted"
        elif self._identity is None:
            what = "was created by someone else"
        else:
            what = (f"was changed by another program or handle ({self._identity.describe()} when read, "
                    f"{current.describe()} now)")
        raise ConcurrentModificationError(
            f"{what} since this handle read it; this change was NOT written (it would have dropped the "
            f"other edit). The handle now shows the file as it is: apply the change again", self.path)

    def _rollback(self) -> None:
        """After a failed commit: forget the failed change, show the file as it is on disk."""
        if self.mode == "w" and not self._written:
            self._entries, self._image, self._attributes, self._dirty = {}, None, {}, False
            self._load_review({})
            return
        try:
            if os.path.exists(self.path):
                self._load_from_disk()
                return
        except MedMaskError:
            pass
        if self._reader is not None:
            self._reader.close()
        self._reader, self._identity, self._image = None, None, None
        self._entries, self._attributes, self._dirty = {}, {}, False
        self._load_review({})

    def reload(self) -> None:
        """Drop pending changes and read the file again (e.g. after ConcurrentModificationError)."""
        self._check_open()
        self._rollback()

    def _write(self) -> None:
        container_class(self.format_version).write_archive(self.path, self._space,
                                                           [self._staged(n) for n in self._entries], self._image,
                                                           self._attributes, self._review_head(),
                                                           minor=self._minor)

    def _staged(self, name: str) -> StagedEntry:
        info, payload = self._get(name)
        if payload is not None:
            return StagedEntry(info, True, lambda: (info, lambda: payload),
                               lambda: decode_mask(info, payload, self._space, self.path))
        staged = self._reader.staged(name, self.level)  # type: ignore[union-attr]
        if self._entries[name][0] is None:
            return staged
        # stored voxels with a changed record (set_attributes): the new record, the old bytes

        def mask() -> SegmentationMask:
            m = staged.mask()
            m.colors, m.metadata = dict(info.colors), dict(info.metadata)
            return m
        return StagedEntry(info, True, lambda: (info, staged.v2_item()[1]), mask)

    # lifetime ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _batch(self) -> Iterator["MaskArchive"]:
        """Collect changes and write them once at the end (dropped if the block raises)."""
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._end_batch(failed=True)
            raise
        self._end_batch(failed=False)

    def _end_batch(self, failed: bool) -> None:
        self._depth -= 1
        if self._depth == 0:
            try:
                if not failed:
                    self.commit()
                elif self._dirty:
                    self._discard()
            finally:
                self._stop_encoder()

    def _discard(self) -> None:
        self._rollback()

    def __enter__(self) -> "MaskArchive":
        self._depth += 1
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._end_batch(failed=exc_type is not None)
        if self._depth == 0:
            self.close()
        return False

    def close(self) -> None:
        if self._closed:
            return
        if self._depth == 0 and self._dirty and self.mode != "r":
            self.commit()
        if self._reader is not None:
            self._reader.close()
        self._closed = True

    def __repr__(self) -> str:
        return f"MaskArchive({self.path!r}, mode={self.mode!r}, entries={len(self._entries)})"
