"""SegmentationMask: a label array, its name<->label mapping and its geometry."""
from __future__ import annotations

import math
import os
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from spacetransformer import Space

from .. import limits
from ..errors import GeometryError, LabelError, LimitError, MaskOverlapWarning, MedMaskError, OverlapError
from .dtypes import BIT_DEPTH_DTYPES, DTYPE_BIT_DEPTHS, dtype_max, smallest_label_dtype
from .geometry import BBox, bbox_shape, bbox_slices, compute_bbox, crop_space, spaces_equal
from .mapping import LabelMapping
from .overlap import OVERLAP_POLICIES, apply_overlap_policy, describe_clashes, labels_without_voxels

# .msk reading and writing live in medmask.storage, which builds on this module; it registers
# its two functions here, so mask.save() / SegmentationMask.load() need no import cycle.
_file_io: dict[str, Callable[..., Any]] = {}


def register_file_io(save: Callable[..., None], load: Callable[..., "SegmentationMask"]) -> None:
    """Called once by medmask.storage.maskfile: the functions behind save() and load()."""
    _file_io.update(save=save, load=load)


def _io(what: str) -> Callable[..., Any]:
    try:
        return _file_io[what]
    except KeyError:  # only if someone imports medmask.core without the medmask package
        raise MedMaskError("medmask.storage is not loaded; import medmask first") from None

Color = tuple[float, float, float, float]


class SegmentationMask:
    """A 3D label array with names and geometry.

    The array may be held whole or as its bounding-box crop only (what archives
    hand out): ``bbox``, ``crop_data`` and ``crop_space`` never build the full
    volume; ``data`` builds it on first use and caches it.
    """

    _shape: tuple[int, int, int] | None = None  # the space's shape as ints, once asked for

    def __init__(
        self,
        mask_array: np.ndarray,
        mapping: Mapping[str, int] | LabelMapping | None = None,
        space: Space | None = None,
        *,
        colors: Mapping[str, Sequence[float]] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        array = _as_label_array(mask_array)
        if space is None:
            space = Space(shape=tuple(int(v) for v in array.shape))
        elif tuple(space.shape) != array.shape:
            raise GeometryError(f"space shape {tuple(space.shape)} does not match array shape {array.shape}")
        self._space = space
        self._full: np.ndarray | None = array
        self._crop: np.ndarray | None = None
        self._bbox: BBox | None | bool = False  # False = not computed yet
        if array is mask_array and array.flags.writeable:
            # the caller may keep changing its array: own a copy of the labelled box only (a full copy
            # of every input volume, empty ones included, was half the time of writing a case), so
            # add_label cannot write into it and the bbox cannot go stale; .data rebuilds the volume
            # on demand. A read-only array is shared as it is.
            self._full = None
            self._bbox = compute_bbox(array)
            self._crop = (np.zeros((0, 0, 0), array.dtype) if self._bbox is None
                          else array[bbox_slices(self._bbox)].copy())
        self._mapping = mapping.copy() if isinstance(mapping, LabelMapping) else LabelMapping(mapping or {})
        _check_labels_fit(self._mapping, array.dtype)
        self.colors: dict[str, Color] = {k: normalize_color(v) for k, v in (colors or {}).items()}
        self.metadata: dict[str, Any] = dict(metadata or {})

    # construction -----------------------------------------------------------------------
    @classmethod
    def lazy_init(cls, bit_depth: int = 8, *, space: Space, mapping: Mapping[str, int] | None = None) -> "SegmentationMask":
        """An all-background mask to be filled with :meth:`add_label`."""
        if bit_depth not in BIT_DEPTH_DTYPES:
            raise LabelError(f"bit_depth must be one of {sorted(BIT_DEPTH_DTYPES)}, got {bit_depth!r}")
        return cls.from_crop(None, None, mapping or {}, space, BIT_DEPTH_DTYPES[bit_depth])  # volume built by add_label

    @classmethod
    def from_crop(
        cls,
        crop: np.ndarray | None,
        bbox: BBox | None,
        mapping: Mapping[str, int] | LabelMapping,
        space: Space,
        dtype: np.dtype | str,
        *,
        colors: Mapping[str, Sequence[float]] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> "SegmentationMask":
        """A mask known only by its bounding-box crop (bbox None = empty mask)."""
        mapping = mapping.copy() if isinstance(mapping, LabelMapping) else LabelMapping(mapping)
        _check_labels_fit(mapping, np.dtype(dtype))
        return cls._from_checked_crop(crop, bbox, mapping, space, dtype, colors, metadata)

    @classmethod
    def _from_checked_crop(cls, crop: np.ndarray | None, bbox: BBox | None, mapping: LabelMapping, space: Space,
                           dtype: np.dtype | str, colors: Mapping[str, Sequence[float]] | None = None,
                           metadata: Mapping[str, Any] | None = None) -> "SegmentationMask":
        """:meth:`from_crop` for a mapping already checked to fit ``dtype`` (an index record's,
        validated when the index row was read): reading every entry of an archive then pays the
        checks once, at the record, not again per mask (``mapping`` is owned by the new mask)."""
        self = cls.__new__(cls)
        self._space = space
        self._full = None
        if bbox is None:
            self._crop = _empty_crop(dtype)
        else:
            if crop is None or crop.shape != bbox_shape(bbox):
                raise GeometryError(f"crop shape {None if crop is None else crop.shape} does not match bbox {bbox}")
            self._crop = crop
            self._crop.flags.writeable = False
        self._bbox = bbox
        self._mapping = mapping
        self.colors = {k: normalize_color(v) for k, v in colors.items()} if colors else {}
        self.metadata = dict(metadata) if metadata else {}
        return self

    # core properties ---------------------------------------------------------------------
    @property
    def space(self) -> Space:
        return self._space

    @property
    def mapping(self) -> LabelMapping:
        return self._mapping

    @property
    def shape(self) -> tuple[int, int, int]:
        shape = self._shape
        if shape is None:  # the space never changes: built once (reading many entries asks often)
            shape = self._shape = tuple(int(v) for v in self._space.shape)
        return shape  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return (self._full if self._full is not None else self._crop).dtype  # type: ignore[union-attr]

    @property
    def bit_depth(self) -> int:
        return DTYPE_BIT_DEPTHS[self.dtype]

    @property
    def data(self) -> np.ndarray:
        """The full label volume, read-only (change it with add_label or a new mask)."""
        if self._full is None:
            shape, dtype = self.shape, self.dtype
            need = math.prod(shape) * dtype.itemsize
            if need > limits.MEMORY_BUDGET:
                limits.check_allocation(need, self._volume_name())
            try:
                full = np.zeros(shape, dtype=dtype)
            except MemoryError:
                raise LimitError(f"{self._volume_name()}: out of memory allocating {need} bytes; "
                                 f"use crop_data") from None
            if self._bbox:
                full[bbox_slices(self._bbox)] = self._crop
            self._full = full
        view = self._full.view()
        view.flags.writeable = False
        return view

    def _volume_name(self) -> str:
        return f"the full {'x'.join(map(str, self.shape))} {self.dtype} volume of this mask (.data)"

    @property
    def bbox(self) -> BBox | None:
        """Half-open ((z0, z1), (y0, y1), (x0, x1)) box of the labelled voxels; None if empty."""
        if self._bbox is False:
            self._bbox = compute_bbox(self._full)  # type: ignore[arg-type]
        return self._bbox  # type: ignore[return-value]

    @property
    def crop_data(self) -> np.ndarray:
        """The labels inside :attr:`bbox` (shape (0, 0, 0) when empty), read-only, no full volume built."""
        if self._crop is None:
            box = self.bbox
            crop = np.zeros((0, 0, 0), self.dtype) if box is None else self._full[bbox_slices(box)]  # type: ignore[index]
            self._crop = crop
        view = self._crop.view()
        view.flags.writeable = False
        return view

    @property
    def crop_space(self) -> Space | None:
        """Geometry of :attr:`crop_data` (origin moved to the box corner); None if empty."""
        box = self.bbox
        return None if box is None else crop_space(self._space, box)

    @property
    def is_empty(self) -> bool:
        return self.bbox is None

    def voxel_counts(self) -> dict[int, int]:
        """Non-zero label -> voxel count, computed on the crop only."""
        crop = self.crop_data
        if crop.size == 0:
            return {}
        if crop.dtype == bool:  # counting beats sorting (np.unique sorts the whole crop)
            n = int(np.count_nonzero(crop))
            return {1: n} if n else {}
        if crop.dtype == np.uint8:
            if int(crop.max()) <= 1:  # a 0/1 mask (what nibabel hands over): counting is ~10x bincount
                n = int(np.count_nonzero(crop))
                return {1: n} if n else {}
            counts = np.bincount(crop.ravel(), minlength=1)
            return {int(v): int(counts[v]) for v in np.flatnonzero(counts) if v}
        values, counts = np.unique(crop, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts) if v}

    # editing --------------------------------------------------------------------------------
    def add_label(self, mask: np.ndarray, label: int, name: str, *, overlap: str = "raise",
                  color: Sequence[float] | None = None) -> int:
        """Paint ``mask`` with ``label`` named ``name``; returns the number of voxels painted.

        ``overlap`` decides what happens to voxels that already carry another label:
        ``"raise"`` (default) refuses with an OverlapError naming the labels and counts,
        ``"overwrite"`` gives them to the new label, ``"keep"`` leaves them. Either way a
        MaskOverlapWarning reports the counts, and a label that vanishes is named.
        """
        if overlap not in OVERLAP_POLICIES:
            raise LabelError(f"overlap must be one of {OVERLAP_POLICIES}, got {overlap!r}")
        region = np.asarray(mask)
        if region.shape != self.shape:
            raise GeometryError(f"mask shape {region.shape} does not match {self.shape}")
        region = region if region.dtype == bool else region != 0
        label = int(label)
        dtype = self.dtype
        if dtype == bool and label != 1:
            raise LabelError(f"a 1-bit mask can only hold label 1, got {label}")
        if label <= 0 or label > dtype_max(dtype):
            raise LabelError(f"label {label} does not fit a {self.bit_depth}-bit mask")
        if name in self._mapping and self._mapping[name] != label:
            raise LabelError(f"name {name!r} already has label {self._mapping[name]}")
        if self._mapping.has_label(label) and self._mapping.inverse(label) != name:
            raise LabelError(f"label {label} already belongs to {self._mapping.inverse(label)!r}")
        full = self._writable_full()
        result = apply_overlap_policy(full, region, label, overlap)
        region = result.region
        if result.clashes:
            desc = describe_clashes(result.clashes, self._name_of)
            if overlap == "raise":
                raise OverlapError(f"adding {name!r} (label {label}) would overwrite {desc}; "
                                   f"pass overlap='overwrite' or overlap='keep'")
            if overlap == "keep":
                warnings.warn(f"add_label {name!r}: kept {result.clashing_voxels} voxels of {desc}; {name!r} gets "
                              f"{int(region.sum())} voxels", MaskOverlapWarning, stacklevel=2)
            else:
                warnings.warn(f"add_label {name!r}: overwrote {desc}", MaskOverlapWarning, stacklevel=2)
        full[region] = label
        self._mapping[name] = label
        if color is not None:
            self.colors[name] = normalize_color(color)
        self._bbox = False
        self._crop = None
        lost = [self._name_of(v) for v in labels_without_voxels(full, result.clashes)] if overlap == "overwrite" else []
        if lost or (overlap == "keep" and result.clashes and not region.any()):
            warnings.warn(f"add_label {name!r}: label(s) {lost or [name]} now have no voxels at all",
                          MaskOverlapWarning, stacklevel=2)
        return int(region.sum())

    def _writable_full(self) -> np.ndarray:
        self.data  # materialize
        if not self._full.flags.writeable:  # type: ignore[union-attr]
            self._full = self._full.copy()  # type: ignore[union-attr]
        return self._full  # type: ignore[return-value]

    def _name_of(self, label: int) -> str:
        return repr(self._mapping.inverse(label)) if self._mapping.has_label(label) else f"unnamed label {label}"

    # queries --------------------------------------------------------------------------------
    def get_binary_mask_by_names(self, names: str | Iterable[str]) -> np.ndarray:
        names = [names] if isinstance(names, str) else list(names)
        return self.get_binary_mask_by_labels([self._mapping[n] for n in names])

    def get_binary_mask_by_labels(self, labels: int | Iterable[int]) -> np.ndarray:
        labels = [labels] if isinstance(labels, (int, np.integer)) else list(labels)
        out = np.zeros(self.shape, dtype=bool)
        box = self.bbox
        if box is not None and labels:
            crop, target = self.crop_data, out[bbox_slices(box)]
            if crop.dtype == bool and labels == [1]:
                target[...] = crop
            elif len(labels) == 1:  # one organ: a compare, not np.isin's sort (4x slower on a real crop)
                np.equal(crop, labels[0], out=target)
            else:
                target[...] = np.isin(crop, labels)
        return out

    # persistence ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, **kwargs) -> None:
        """Write a .msk file; same as :func:`medmask.save_mask`."""
        _io("save")(self, path, **kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SegmentationMask":
        """Read a .msk file; same as :func:`medmask.load_mask`."""
        return _io("load")(path)

    def same_content(self, other: "SegmentationMask") -> bool:
        """Same labels, names and geometry (what a lossless round trip must keep)."""
        return (self._mapping == other._mapping and spaces_equal(self._space, other._space)
                and self.dtype == other.dtype and self.bbox == other.bbox
                and np.array_equal(self.crop_data, other.crop_data))

    def __repr__(self) -> str:
        return (f"SegmentationMask(shape={self.shape}, dtype={self.dtype}, mapping={self._mapping.to_dict()}, "
                f"bbox={self.bbox})")


def _check_labels_fit(mapping: LabelMapping, dtype: np.dtype) -> None:
    """A name for a label the array cannot hold would be written and then refused on reading."""
    top = dtype_max(dtype)
    too_big = {n: v for n, v in mapping.items() if v > top}
    if too_big:
        raise LabelError(f"labels {too_big} do not fit a {dtype} mask (largest label {top}); "
                         f"use a wider dtype" + (", a boolean mask can only carry label 1" if dtype == bool else ""))


_EMPTY_CROPS: dict[np.dtype, np.ndarray] = {}


def _empty_crop(dtype: np.dtype | str) -> np.ndarray:
    """The (0, 0, 0) crop of an empty mask: one read-only array per dtype, shared."""
    dtype = np.dtype(dtype)
    crop = _EMPTY_CROPS.get(dtype)
    if crop is None:
        crop = _EMPTY_CROPS[dtype] = np.zeros((0, 0, 0), dtype)
        crop.flags.writeable = False
    return crop


def _as_label_array(array: Any) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim != 3:
        raise GeometryError(f"a mask array must be 3D (z, y, x), got shape {arr.shape}")
    if arr.dtype in DTYPE_BIT_DEPTHS:
        return arr
    if arr.dtype.kind in "iu":
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0:
            raise LabelError(f"labels must be >= 0, the array holds {lo}")
        try:
            return arr.astype(smallest_label_dtype(hi))
        except ValueError:
            pass
    raise LabelError(f"mask dtype {arr.dtype} is not supported; use bool, uint8, uint16 or uint32")


def normalize_color(color: Sequence[float] | str) -> Color:
    """RGBA floats in [0, 1] from '#rrggbb', RGB(A) in 0..1 or RGB(A) in 0..255."""
    if isinstance(color, str):
        h = color.lstrip("#")
        if len(h) not in (6, 8):
            raise LabelError(f"colour {color!r} is not #rrggbb or #rrggbbaa")
        vals = [int(h[i:i + 2], 16) / 255 for i in range(0, len(h), 2)]
    else:
        vals = [float(v) for v in color]
        if len(vals) not in (3, 4):
            raise LabelError(f"colour must have 3 or 4 components, got {color!r}")
        if any(v > 1 for v in vals):
            vals = [v / 255 for v in vals]
    if len(vals) == 3:
        vals.append(1.0)
    if not all(0 <= v <= 1 for v in vals):
        raise LabelError(f"colour components must lie in [0, 1] or [0, 255], got {color!r}")
    return tuple(round(v, 6) for v in vals)  # type: ignore[return-value]
