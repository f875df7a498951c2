"""Image intensities inside each label (mean, std, median, p5, p95), reading only what is needed.

Only the entries' crops are decoded, and of the image only the box around all
requested entries is read: for an uncompressed NIfTI nibabel reads just those bytes
(``dataobj[slices]``), for ``.nii.gz`` it stops inflating after the box's last slice.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..core.geometry import BBox
from ..errors import GeometryError, MedMaskError
from ..optional import require
from .source import MaskSource
from .volumes import entry_labels

INTENSITY_COLUMNS = ["mean", "std", "median", "p5", "p95"]
ImageSpec = "str | os.PathLike | Mapping[str, str | os.PathLike] | Callable[[str, Path], str | os.PathLike] | None"


def resolve_image(spec: Any, source: MaskSource, n_cases: int) -> Path:
    """The scan of one case: ``spec`` as given (path, ``{case}`` template, mapping, callable) or,
    when None, the image reference recorded in the archive."""
    if spec is None:
        ref = source.image_reference()
        if ref is None:
            raise MedMaskError("records no image; pass the scan with --image (or image=...)", str(source.path))
        return Path(ref.resolve(source.path))
    if callable(spec):
        return Path(spec(source.case, source.path))
    if isinstance(spec, Mapping):
        if source.case not in spec:
            raise MedMaskError(f"no image given for case {source.case!r}", str(source.path))
        return Path(spec[source.case])
    text = os.fspath(spec)
    if "{case}" in text:
        return Path(text.replace("{case}", source.case))
    if n_cases > 1:
        raise MedMaskError(f"one image for {n_cases} cases; give a template such as 'data/{{case}}/ct.nii.gz'", text)
    return Path(text)


class ImageRegion:
    """An image file opened header-first; ``read(box)`` returns that box in medmask axis order."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise MedMaskError("image not found", str(self.path))
        name = self.path.name.lower()
        self._nib = None
        self._array = None
        if name.endswith((".nii", ".nii.gz")):
            from ..convert._geometry import space_from_ras_affine

            nib = require("nibabel")
            try:
                img = nib.load(str(self.path))
            except Exception as exc:  # nibabel raises several kinds for a bad header
                raise MedMaskError(f"cannot read the image: {exc}", str(self.path)) from None
            if len(img.shape) != 3:
                raise GeometryError(f"image must be 3D, has shape {img.shape}", str(self.path))
            self.space = space_from_ras_affine(img.affine, img.shape, path=str(self.path))
            self._nib = img
        else:
            self.space, self._array = _read_whole(self.path)

    def read(self, box: BBox) -> np.ndarray:
        if self._nib is not None:
            # medmask axis a is nibabel axis 2 - a
            slices = tuple(slice(a, b) for a, b in reversed(box))
            try:
                region = np.asarray(self._nib.dataobj[slices])
            except Exception as exc:
                raise MedMaskError(f"cannot read the image voxels: {exc}", str(self.path)) from None
            return region.transpose(2, 1, 0)
        return self._array[tuple(slice(a, b) for a, b in box)]  # type: ignore[index]


def _read_whole(path: Path):
    try:
        from ..convert.image_io import read_image  # the image-reference work: NIfTI and NRRD
    except ImportError:
        raise MedMaskError("only NIfTI images (.nii, .nii.gz) can be read by this medmask", str(path)) from None
    array, space = read_image(path)
    return space, array


def check_same_grid(image: ImageRegion, source: MaskSource) -> None:
    from ..convert._geometry import max_corner_distance, spaces_close

    if tuple(image.space.shape) != tuple(source.space.shape):
        raise GeometryError(f"image shape {tuple(image.space.shape)} differs from the mask's "
                            f"{tuple(source.space.shape)} (case {source.case!r}, {source.path})", str(image.path))
    if not spaces_close(image.space, source.space):
        raise GeometryError(f"image grid lies up to {max_corner_distance(image.space, source.space):.3g} mm away "
                            f"from the mask's (case {source.case!r}, {source.path}); resample one onto the other",
                            str(image.path))


def union_box(boxes: Iterable[BBox]) -> BBox | None:
    boxes = list(boxes)
    if not boxes:
        return None
    return tuple((min(b[a][0] for b in boxes), max(b[a][1] for b in boxes)) for a in range(3))  # type: ignore[return-value]


def summarize(values: np.ndarray) -> dict[str, float]:
    """mean, population std, median and 5th/95th percentiles (numpy's linear interpolation)."""
    v = values.astype(np.float64, copy=False)
    p5, median, p95 = np.percentile(v, [5.0, 50.0, 95.0])
    mean = float(v.mean())
    return {"mean": mean, "std": float(np.sqrt(np.mean(np.square(v - mean)))), "median": float(median),
            "p5": float(p5), "p95": float(p95)}


def add_intensities(rows: list[dict[str, Any]], source: MaskSource, image_path: Path) -> None:
    """Fill the intensity columns of ``rows`` (this source's rows, from :func:`source_rows`)."""
    image = ImageRegion(image_path)
    check_same_grid(image, source)
    wanted = {(r["entry"], r["value"]) for r in rows if r["voxels"]}
    entries = sorted({e for e, _ in wanted}, key=source.names.index)
    infos = {e: source.info(e) for e in entries}
    box = union_box(i.bbox for i in infos.values() if i.bbox is not None)
    stats: dict[tuple[str, int], dict[str, float]] = {}
    if box is not None:
        region = image.read(box)
        for name, info in infos.items():
            crop = source.crop(name)
            if crop is None:
                continue
            sub = region[tuple(slice(a - u0, b - u0) for (a, b), (u0, _) in zip(info.bbox, box))]  # type: ignore[union-attr]
            for _, value in entry_labels(info):
                if (name, value) not in wanted:
                    continue
                inside = crop if crop.dtype == bool else crop == value
                values = sub[inside]
                if values.size:
                    stats[(name, value)] = summarize(values)
    for row in rows:
        found = stats.get((row["entry"], row["value"]))
        row["image"] = str(image_path)
        row.update(found if found else dict.fromkeys(INTENSITY_COLUMNS))
