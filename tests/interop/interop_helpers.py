"""Helpers for the interop tests: synthetic NIfTI cases with oblique / flipped affines and non-cubic shapes."""
from __future__ import annotations

import signal
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TOTALSEG = REPO.parent / "shared/data/totalseg_s0000"


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def make_affine(kind: str) -> np.ndarray:
    """RAS affines: 'plain', 'oblique' (rotated, anisotropic), 'flipped' (axes reversed, left-handed)."""
    aff = np.eye(4)
    if kind == "plain":
        aff[:3, :3] = np.diag([0.8, 0.9, 2.5])
        aff[:3, 3] = [-100.5, 20.25, 7.0]
    elif kind == "oblique":
        aff[:3, :3] = rotation(0.3, -0.2, 0.7) @ np.diag([0.7, 1.1, 3.0])
        aff[:3, 3] = [12.5, -230.75, 81.125]
    elif kind == "flipped":
        aff[:3, :3] = rotation(0.1, 0.05, -0.4) @ np.diag([-1.25, 0.6, -2.0])
        aff[:3, 3] = [150.0, 99.5, -40.25]
    elif kind == "permuted":  # array axes not aligned with x, y, z in order (e.g. a sagittal scan)
        aff[:3, :3] = np.array([[0, 0, -1.5], [0.75, 0, 0], [0, -0.8, 0]])
        aff[:3, 3] = [30.0, -60.0, 90.0]
    else:
        raise ValueError(kind)
    return aff


SHAPE_IJK = (13, 17, 11)  # non-cubic: a swapped axis cannot go unnoticed


def blob(shape, center, radius) -> np.ndarray:
    idx = np.indices(shape).astype(float)
    d = sum(((idx[a] - center[a]) / radius[a]) ** 2 for a in range(3))
    return d <= 1.0


def write_case(folder: Path, kind: str = "oblique", *, with_empty: bool = True, dtype=np.uint8,
               shape=SHAPE_IJK, sform_code: int = 1, qform_code: int = 1) -> dict[str, np.ndarray]:
    """A folder of binary NIfTI masks (nibabel i,j,k arrays); returns name -> array."""
    folder.mkdir(parents=True, exist_ok=True)
    aff = make_affine(kind)
    arrays = {
        "liver": blob(shape, (4, 5, 3), (3, 4, 2.5)),
        "spleen": blob(shape, (9, 12, 7), (2.5, 3, 2)),
        "tumor": blob(shape, (4, 6, 3), (1.5, 1.5, 1.2)),  # overlaps liver
    }
    if with_empty:
        arrays["empty_organ"] = np.zeros(shape, bool)
    for name, arr in arrays.items():
        img = nib.Nifti1Image(arr.astype(dtype), aff)
        img.header.set_data_dtype(dtype)
        img.set_sform(aff, code=sform_code)
        img.set_qform(aff, code=qform_code)
        nib.save(img, str(folder / f"{name}.nii.gz"))
    return arrays


def write_multilabel(path: Path, kind: str = "oblique", dtype=np.int16, names: dict | None = None,
                     shape=SHAPE_IJK) -> np.ndarray:
    aff = make_affine(kind)
    data = np.zeros(shape, dtype=dtype)
    data[blob(shape, (4, 5, 3), (3, 4, 2.5))] = 1
    data[blob(shape, (9, 12, 7), (2.5, 3, 2))] = 3
    data[0, 0, 0] = 7
    img = nib.Nifti1Image(data, aff)
    img.header.set_data_dtype(dtype)
    if names:
        from medmask.convert.nifti_label_table import label_table_extension

        img.header.extensions.append(label_table_extension(names))
    nib.save(img, str(path))
    return data




# TotalSegmentator's label table layout (nifti_ext_header.add_label_map_to_nifti): a fixed
# Date, a 12-colour cycle indexed by label % 12, values rgb/255, a StudyMetaDataLinkSet.
TOTALSEG_CYCLE = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255],
                  [255, 128, 0], [255, 0, 128], [128, 255, 128], [0, 128, 255], [128, 128, 128], [185, 170, 155]]
TOTALSEG_DATE = "2013-07-14T05:45:09"


def totalseg_color(label: int) -> tuple:
    rgb = TOTALSEG_CYCLE[label % len(TOTALSEG_CYCLE)]
    return (rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, 1.0)


def totalseg_extension(label_map: dict):
    body = "".join(f'<Label Key="{k}" Red="{totalseg_color(k)[0]}" Green="{totalseg_color(k)[1]}" '
                   f'Blue="{totalseg_color(k)[2]}" Alpha="1"><![CDATA[{v}]]></Label>\n' for k, v in label_map.items())
    xml = ('<?xml version="1.0" encoding="UTF-8"?> <CaretExtension>  <Date><![CDATA[' + TOTALSEG_DATE
           + ']]></Date>   <VolumeInformation Index="0">   <LabelTable>\n' + body
           + '\n  </LabelTable>  <StudyMetaDataLinkSet>  </StudyMetaDataLinkSet>  <VolumeType><![CDATA[Label]]>'
           '</VolumeType>   </VolumeInformation></CaretExtension>\n              ')
    return nib.nifti1.Nifti1Extension(0, xml.encode("utf-8"))


def write_totalseg_ml(path: Path, label_map: dict, kind: str = "oblique", shape=(20, 22, 18)) -> np.ndarray:
    """A TotalSegmentator ``--ml`` style file: one small block per label of ``label_map``, its label table embedded."""
    data = np.zeros(shape, dtype=np.uint8)
    for n, label in enumerate(sorted(label_map)):
        i, j, k = n % 5, (n // 5) % 5, n // 25
        data[1 + 3 * i:3 + 3 * i, 1 + 4 * j:4 + 4 * j, 1 + 8 * k:7 + 8 * k] = label
    img = nib.Nifti1Image(data, make_affine(kind))
    img.header.set_data_dtype(np.uint8)
    img.header.extensions.append(totalseg_extension(label_map))
    nib.save(img, str(path))
    return data


def read_totalseg_table(path: Path) -> tuple[dict, dict, str | None]:
    """(names, colours, date) the way TotalSegmentator's loader reads the first extension."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(nib.load(str(path)).header.extensions[0].get_content().decode().strip())
    names = {int(e.get("Key")): e.text for e in root.iter("Label")}
    colors = {int(e.get("Key")): tuple(float(e.get(c)) for c in ("Red", "Green", "Blue", "Alpha"))
              for e in root.iter("Label")}
    date = root.find("Date")
    return names, colors, (date.text if date is not None else None)


# --- processes, for the Ctrl-C tests ----------------------------------------------------------
def children_of(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def foreground_sigint() -> None:
    """``preexec_fn`` giving a child Ctrl-C's default action, as a job in the foreground has (a test
    run started in the background ignores SIGINT, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
