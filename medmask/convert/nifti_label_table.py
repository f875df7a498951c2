"""The XML label table TotalSegmentator (and Connectome Workbench) embed in a NIfTI header extension.

TotalSegmentator's ``--ml`` output carries ``<CaretExtension><Date>..</Date>
<VolumeInformation><LabelTable><Label Key="1" Red=".." Green=".." Blue=".." Alpha="1">
spleen</Label>...``. The names are the only record of which task (``total``, ``total_mr``
...) wrote the file, so they win over any class map guessed on the command line; the
colours and the date are kept so the table written back is the one read.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

from ..optional import LazyModule

nib = LazyModule("nibabel")

RGBA = Tuple[float, float, float, float]


@dataclass
class LabelTable:
    names: Dict[int, str]
    colors: Dict[int, RGBA] = field(default_factory=dict)
    date: Optional[str] = None


def _float(text: Optional[str]) -> Optional[float]:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and 0.0 <= value <= 1.0 else None


def read_label_table(hdr) -> Optional[LabelTable]:
    """The first XML label table among the extensions of a nibabel NIfTI header (or image's), or None."""
    hdr = getattr(hdr, "header", hdr)
    for ext in getattr(hdr, "extensions", []):
        try:
            content = ext.get_content()
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        except Exception:
            continue
        if "<LabelTable" not in text:
            continue
        try:
            root = ET.fromstring(text.strip().rstrip("\x00").strip())
        except ET.ParseError:
            continue
        table = LabelTable({})
        date = root.find("Date")
        if date is not None and (date.text or "").strip():
            table.date = date.text.strip()
        for el in root.iter("Label"):
            try:
                key = int(el.get("Key"))
            except (TypeError, ValueError):
                continue
            name = (el.text or "").strip()
            if key <= 0 or not name:
                continue
            table.names[key] = name
            rgba = [_float(el.get(c)) for c in ("Red", "Green", "Blue", "Alpha")]
            if all(v is not None for v in rgba[:3]):
                table.colors[key] = (rgba[0], rgba[1], rgba[2], rgba[3] if rgba[3] is not None else 1.0)
        return table
    return None


def embedded_label_names(img) -> dict[int, str]:
    """Names in a TotalSegmentator-style XML label table extension (empty when there is none)."""
    table = read_label_table(img)
    return dict(table.names) if table else {}


def _num(v: float) -> str:
    return repr(float(v)) if v not in (0, 1) else str(int(v))  # exact, as TotalSegmentator's rgb/255


def label_table_extension(names: Mapping[int, str], colors: Mapping[int, tuple] | None = None,
                          date: str | None = None):
    """A label table in the XML layout TotalSegmentator writes (readable by its loader and ours)."""
    rows = []
    for label, name in sorted(names.items()):
        c = tuple((colors or {}).get(label) or (1.0, 1.0, 1.0, 1.0))
        r, g, b = c[:3]
        a = c[3] if len(c) > 3 else 1.0
        rows.append(f'<Label Key="{int(label)}" Red="{_num(r)}" Green="{_num(g)}" Blue="{_num(b)}" Alpha="{_num(a)}">'
                    f"<![CDATA[{name.replace(']]>', ']] >')}]]></Label>")
    date_xml = f"<Date><![CDATA[{date}]]></Date>" if date else ""
    xml = ('<?xml version="1.0" encoding="UTF-8"?><CaretExtension>' + date_xml
           + '<VolumeInformation Index="0"><LabelTable>\n'
           + "\n".join(rows) + "\n</LabelTable><VolumeType><![CDATA[Label]]></VolumeType>"
           "</VolumeInformation></CaretExtension>\n")
    return nib.nifti1.Nifti1Extension(0, xml.encode("utf-8"))
