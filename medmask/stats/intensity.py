"""Image intensities inside each label (mean, std, median, p5, p95), reading only what is needed.

Only the entries' crops are decoded, and of an uncompressed NIfTI only the pages under
each entry's box are read (memory map); a ``.nii.gz`` or NRRD cannot be read in part
(gzip does not seek), so it is inflated once, whole, by medmask's image reader.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..core.geometry import BBox
from ..core.grid_match import IDENTITY
from ..errors import GeometryError, MedMaskError
from ..storage.bytesource import RemoteFile, is_url
from .source import MaskSource
from .volumes import entry_labels

INTENSITY_COLUMNS = ["mean", "std", "median", "p5", "p95"]
# every row of a run with images has these, whether or not its case's scan could be read
IMAGE_COLUMNS = ["image", "image_error", *INTENSITY_COLUMNS]


def resolve_image(spec: Any, source: MaskSource, n_cases: int) -> Path:
    """The scan of one case: ``spec`` as given (path, ``{case}`` template, mapping, callable) or,
    when None, the image reference recorded in the archive."""
    if spec is None:
        ref = source.image_reference()
        if ref is None:
            raise MedMaskError("records no image; pass the scan with --image (or image=...)", str(source.path))
        if isinstance(source.path, RemoteFile):
            raise MedMaskError(f"its recorded image {ref.path!r} lies next to the remote archive and is not read "
                               f"over the network; pass the scan with --image", str(source.path))
        path = Path(ref.resolve(source.path))
        if not os.path.lexists(path):  # something there (a DICOM folder, or a FIFO the reader refuses): read it
            raise MedMaskError(f"its recorded image {ref.path!r} is not at {path}; pass the scan with --image",
                               str(source.path))
        return path
    if callable(spec):
        return Path(spec(source.case, source.path))
    if isinstance(spec, Mapping):
        if source.case not in spec:
            raise MedMaskError(f"no image given for case {source.case!r}", str(source.path))
        return Path(spec[source.case])
    text = os.fspath(spec)
    if is_url(text):  # a Path of it would be "https:/host/..." and "not found"
        raise MedMaskError("scans are read from local files only (archives are read by URL); download the scan "
                           "first", text)
    if "{case}" in text:
        return Path(text.replace("{case}", source.case))
    if n_cases > 1:
        raise MedMaskError(f"one image for {n_cases} cases; give a template such as 'data/{{case}}/ct.nii.gz'", text)
    return Path(text)


class ImageRegion:
    """A scan opened header-first; ``read(box)`` returns that box of voxels in medmask axis order.

    An uncompressed NIfTI is memory-mapped: only the pages under the masks are read; gzip cannot seek,
    so a ``.nii.gz`` (and NRRD) is inflated once, whole, by medmask's image reader.
    """

    def __init__(self, path: str | os.PathLike):
        from ..convert.image_io import image_format, read_image_header

        self.path = Path(path)
        if not self.path.is_file():
            raise MedMaskError("image not found" if not self.path.exists() else "image is not a file", str(self.path))
        self.space = read_image_header(self.path)
        self._partial = image_format(self.path) == "nifti" and not self.path.name.lower().endswith(".gz")
        self._array: np.ndarray | None = None
        self._slope, self._inter = 1.0, 0.0
        self.order = IDENTITY  # scan -> masks' axis order, set by :func:`check_same_grid`

    def read(self, box: BBox) -> np.ndarray:
        """Voxel values inside ``box`` of the masks' grid (stored values: apply :meth:`scale` to what you take out)."""
        if self._array is None:
            # a scan of the masks' voxels in another axis order is read through a view in theirs
            self._array = self.order.reorder(self._map() if self._partial else self._whole())
        return self._array[tuple(slice(a, b) for a, b in box)]

    def scale(self, values: np.ndarray) -> np.ndarray:
        values = values.astype(np.float64)
        if self._slope != 1.0 or self._inter != 0.0:
            values = values * self._slope + self._inter
        return values

    def _whole(self) -> np.ndarray:
        from ..convert.image_io import read_image

        return read_image(self.path)[0]  # scaling already applied

    def _map(self) -> np.ndarray:
        """The file's voxels memory-mapped in medmask axis order: only pages a box touches are read."""
        import nibabel as nib

        try:
            img = nib.load(str(self.path))
            proxy = img.dataobj
            shape = tuple(int(v) for v in img.shape[:3])
            dtype = img.get_data_dtype()
            if self.path.stat().st_size < int(proxy.offset) + int(np.prod(shape)) * dtype.itemsize:
                raise MedMaskError("file is shorter than its header says (truncated)", str(self.path))
            raw = np.memmap(self.path, dtype=dtype, mode="r", offset=int(proxy.offset), shape=shape, order="F")
        except MedMaskError:
            raise
        except Exception as exc:
            raise MedMaskError(f"cannot read the image voxels: {exc}", str(self.path)) from None
        slope, inter = float(proxy.slope), float(proxy.inter)
        self._slope = slope if np.isfinite(slope) and slope != 0 else 1.0
        self._inter = inter if np.isfinite(inter) else 0.0
        return raw.transpose(2, 1, 0)  # nibabel's (i, j, k), Fortran order = medmask's (k, j, i), C order


def check_same_grid(image: ImageRegion, source: MaskSource) -> None:
    """The image must hold the masks' voxels (same rule as recording an image reference); in another
    axis order, ``image`` is set to read them in the masks' order."""
    from ..convert.image_link import image_reference_for
    from ..core.grid_match import match

    try:
        image_reference_for(image.path, source.path, source.space, reordered="read in the masks' order (a view)")
    except GeometryError as exc:
        raise GeometryError(f"case {source.case!r}: {exc.problem}", str(source.path)) from None
    image.order = match(image.space, source.space) or IDENTITY


def summarize(values: np.ndarray) -> dict[str, float]:
    """mean, population std, median and 5th/95th percentiles (numpy's linear interpolation)."""
    v = np.asarray(values, dtype=np.float64)
    p5, median, p95 = np.percentile(v, [5.0, 50.0, 95.0])
    mean = float(v.mean())
    return {"mean": mean, "std": float(np.sqrt(np.mean(np.square(v - mean)))), "median": float(median),
            "p5": float(p5), "p95": float(p95)}


def add_intensities(rows: list[dict[str, Any]], source: MaskSource, image_path: Path) -> None:
    """Fill the intensity columns of ``rows`` (this source's rows, from :func:`source_rows`)."""
    image = ImageRegion(image_path)
    check_same_grid(image, source)
    wanted = {(r["entry"], r["value"]) for r in rows if r["voxels"]}
    stats: dict[tuple[str, int], dict[str, float]] = {}
    for name in dict.fromkeys(e for e, _ in wanted):
        info = source.info(name)
        crop = source.crop(name)
        if crop is None:
            continue
        sub = image.read(info.bbox)  # type: ignore[arg-type]
        for _, value in entry_labels(info):
            if (name, value) in wanted:
                values = sub[crop if crop.dtype == bool else crop == value]
                if values.size:
                    stats[(name, value)] = summarize(image.scale(values))
    for row in rows:
        found = stats.get((row["entry"], row["value"]))
        row["image"], row["image_error"] = str(image_path), None
        row.update(found if found else dict.fromkeys(INTENSITY_COLUMNS))
