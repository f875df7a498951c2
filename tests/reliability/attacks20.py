"""Hostile inputs of issue 20 (round 3 of the reliability attack), made on demand.

Each function writes one file (or folder) and returns its path; the tests in
``test_attacks20.py`` and the rows of ``benchmarks/bench_attacks.py`` use the same makers,
so the measured attack and the tested one are the same bytes.
"""
from __future__ import annotations

import json
import os
import zlib

from medmask.format import table, v2

from . import hostile as H


def _table_file(path: str, head: dict, rows: list[bytes], extras: bytes) -> str:
    """A 2.2 archive with checksums right, whatever the table says."""
    text = json.dumps(head, separators=(",", ":")).encode()
    raw = table.HEAD.pack(table.MAGIC, len(text), len(rows), table.RECORD.size, len(extras)) + text \
        + b"".join(rows) + extras
    blob = H.zstd(raw)
    data = v2.pack_header(v2.MAGIC_ARCHIVE, v2.HEADER_SIZE, len(blob), zlib.crc32(blob)) + blob
    return H.write(path, data)


def _empty_row(meta: int = table.NONE, xoff: int = 0, xlen: int = 0) -> bytes:
    """An empty entry (no bbox) named after itself, one voxel count of 0."""
    return table.RECORD.pack(64, 0, 0, 0, 0, 0, 0, 0, 0, 0, table.NONE, meta, xoff, xlen, 1,
                             table.MAPPING_SELF | table.COUNT_ONE, 0)


def shared_extra(path: str, rows: int = 1_000, values: int = 200_000) -> str:
    """Every row points at the same per-entry extra (metadata holding a list of ``values`` zeros):
    parsed, and its list built, once per row (1.2 KB of file)."""
    extra = b'{"metadata":{"a":[' + b",".join([b"0"] * values) + b"]}}"
    head = {"kind": "archive", "writer": "attack", "space": {"shape": [1, 1, 1]}, "codecs": [],
            "names": [f"{i}" for i in range(rows)]}
    return _table_file(path, head, [_empty_row(xlen=len(extra))] * rows, extra)


def shared_metadata(path: str, rows: int = 5_000, keys: int = 60_000) -> str:
    """Every row inherits one shared-metadata object of ``keys`` keys: copied once per row."""
    head = {"kind": "archive", "writer": "attack", "space": {"shape": [1, 1, 1]}, "codecs": [],
            "metadata": [{f"k{i}": i for i in range(keys)}], "names": [f"{i}" for i in range(rows)]}
    return _table_file(path, head, [_empty_row(meta=0)] * rows, b"")


# --- 7. a writer killed between writing its temporary file and renaming it -------------------
STALLED_WRITER = """
import os, sys, time, numpy as np
from medmask import MaskArchive, SegmentationMask
from spacetransformer import Space
os.replace = lambda *a, **k: (print("ready", flush=True), time.sleep(60))  # stops before its rename
a = np.zeros((4, 8, 8), np.uint8); a[1:3, 1:4, 2:5] = 1
with MaskArchive(sys.argv[1], "a") as w:
    w.add_segmask(SegmentationMask(a, {"a": 1}, Space(shape=(4, 8, 8))), "b")
"""


# --- 3. a recorded scan that is not a regular file ----------------------------------------------
def archive_recording(folder: str, scan_name: str, target: str | None = None, kind: str = "link") -> str:
    """An archive in ``folder`` recording the scan ``scan_name`` beside it; that name is made a
    symlink to ``target`` (kind "link"), a FIFO ("fifo"), an 8 GB sparse file without newlines
    ("sparse") or left as ``target`` names it ("path": e.g. "/proc")."""
    import numpy as np

    from medmask import MaskArchive, SegmentationMask
    from medmask.core.image_ref import ImageReference, fingerprint_of

    os.makedirs(folder, exist_ok=True)
    space = H.sample_space((4, 8, 8))
    arr = np.zeros((4, 8, 8), np.uint8)
    arr[1:3, 2:5, 2:5] = 1
    archive = os.path.join(folder, "case.mska")
    scan = os.path.join(folder, scan_name)
    if kind == "link":
        os.symlink(target, scan)
    elif kind == "fifo":
        os.mkfifo(scan)
    elif kind == "sparse":
        with open(scan, "wb") as f:
            f.truncate(8 << 30)
    with MaskArchive(archive, "w") as a:
        a.add_segmask(SegmentationMask(arr, {"liver": 1}, space), "liver")
        a.image_reference = (ImageReference(target, fingerprint_of(space)) if kind == "path"
                             else ImageReference.from_image(scan, space, archive))
    return archive


def nhdr_outside(folder: str, data_file: str) -> str:
    """A detached NRRD header whose ``data file:`` points out of its folder."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "ct.nhdr")
    with open(path, "w") as f:
        f.write("NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\nsizes: 8 8 4\n"
                "space directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\nencoding: raw\n"
                f"data file: {data_file}\n\n")
    return path


# --- 4. decompression bombs in converter inputs --------------------------------------------------
def _gzip_of_zeros(n_bytes: int, prefix: bytes) -> bytes:
    """One gzip member of ``prefix`` followed by ``n_bytes`` zero bytes (a multiple of 16 MiB), made
    in seconds: after a full flush deflate forgets its history, so one compressed 16 MiB block of
    zeros repeats byte for byte."""
    step = 16 << 20
    assert n_bytes % step == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(step)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(step)) + c.flush(zlib.Z_FULL_FLUSH)
    assert again == block
    crc = zlib.crc32(prefix)
    zeros = bytes(step)
    for _ in range(n_bytes // step):
        crc = zlib.crc32(zeros, crc)
    size = (len(prefix) + n_bytes) & 0xFFFFFFFF
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head + block * (n_bytes // step) + c.flush()
            + crc.to_bytes(4, "little") + size.to_bytes(4, "little"))


def nifti_bomb(path: str, inflated: int = 2_608 << 20) -> str:
    """A .nii.gz declaring 2x2x2 uint8 voxels whose gzip stream inflates to ``inflated`` bytes."""
    import nibabel as nib
    import numpy as np

    head = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4)).to_bytes()
    return H.write(path, _gzip_of_zeros(inflated, head))


def seg_nrrd_bomb(path: str, inflated: int = 2_608 << 20) -> str:
    """A .seg.nrrd declaring 2x2x2 uint8 voxels whose gzip data inflates to ``inflated`` bytes."""
    header = (b"NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\nsizes: 2 2 2\n"
              b"space directions: (1,0,0) (0,1,0) (0,0,1)\nkinds: domain domain domain\nencoding: gzip\n"
              b"space origin: (0,0,0)\nSegment0_ID: s1\nSegment0_Name: s1\nSegment0_LabelValue: 1\n"
              b"Segment0_Layer: 0\n\n")
    return H.write(path, header + _gzip_of_zeros(inflated, b"\x01" * 8))


# --- 5. DICOM sizes ------------------------------------------------------------------------------
def ct_series_65535(folder: str, slices: int = 20) -> str:
    """A small CT series whose every slice says Rows = Columns = 65535 (the pixel data is 8x8)."""
    import pydicom

    from tests.dicom.dicom_helpers import make_series

    files = make_series(__import__("pathlib").Path(folder), H.sample_space((slices, 8, 8)))
    for f in files:
        ds = pydicom.dcmread(f)
        ds.Rows = ds.Columns = 65535
        ds.save_as(f)
    return folder


def seg_frame_moved(folder: str, mm: float = 1e9) -> str:
    """A DICOM-SEG (written by medmask) one of whose frames was moved ``mm`` along the slice normal."""
    import numpy as np
    import pydicom

    from medmask import SegmentationMask
    from medmask.convert.dicom_seg import write_dicom_seg
    from tests.dicom.dicom_helpers import make_series

    from medmask.convert.dicom_series import read_dicom_series_header

    series = os.path.join(folder, "ct")
    make_series(__import__("pathlib").Path(series), H.sample_space((6, 16, 16)))
    space = read_dicom_series_header(series).space
    arr = np.zeros(space.shape, bool)
    arr[1:5, 3:9, 4:10] = True
    seg = os.path.join(folder, "seg.dcm")
    write_dicom_seg([("liver", SegmentationMask(arr, {"liver": 1}, space))], space, seg, series=series, manual=True)
    ds = pydicom.dcmread(seg)
    item = ds.PerFrameFunctionalGroupsSequence[-1].PlanePositionSequence[0]
    normal = np.asarray(space.x_orientation, float)  # medmask's axis 0: the slice normal
    item.ImagePositionPatient = [f"{v:.10g}" for v in np.asarray([float(v) for v in item.ImagePositionPatient])
                                 + mm * normal]
    for tag in [t for t in ds.keys() if t.group % 2]:
        del ds[tag]  # medmask's private copy would rebuild the entries without the frames' positions
    ds.save_as(seg)
    return seg
