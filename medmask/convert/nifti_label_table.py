"""The XML label table TotalSegmentator (and Connectome Workbench) embed in a NIfTI header extension."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Mapping

from ..optional import LazyModule

nib = LazyModule("nibabel")


def embedded_label_names(img: nib.Nifti1Image) -> dict[int, str]:
    """Names in a TotalSegmentator-style XML label table extension (empty when there is none)."""
    out: dict[int, str] = {}
    for ext in getattr(img.header, "extensions", []):
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
        for el in root.iter("Label"):
            try:
                out[int(el.get("Key"))] = (el.text or "").strip()
            except (TypeError, ValueError):
                continue
        return {k: v for k, v in out.items() if k > 0 and v}
    return out


def label_table_extension(names: Mapping[int, str], colors: Mapping[int, tuple] | None = None) -> nib.nifti1.Nifti1Extension:
    """A label table in the XML layout TotalSegmentator writes (readable by its loader and ours)."""
    rows = []
    for label, name in sorted(names.items()):
        r, g, b, a = (colors or {}).get(label, (1.0, 1.0, 1.0, 1.0))
        rows.append(f'<Label Key="{int(label)}" Red="{r:g}" Green="{g:g}" Blue="{b:g}" Alpha="{a:g}">'
                    f"<![CDATA[{name.replace(']]>', ']] >')}]]></Label>")
    xml = ('<?xml version="1.0" encoding="UTF-8"?><CaretExtension><VolumeInformation Index="0"><LabelTable>\n'
           + "\n".join(rows) + "\n</LabelTable><VolumeType><![CDATA[Label]]></VolumeType>"
           "</VolumeInformation></CaretExtension>\n")
    return nib.nifti1.Nifti1Extension(0, xml.encode("utf-8"))
