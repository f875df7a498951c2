"""Coded terminology of DICOM-SEG segments: where a segment's codes come from.

In order: codes kept in the entry's metadata (``metadata["dicom"]``, written by a SEG
import, or a 3D Slicer ``TerminologyEntry`` string anywhere in the metadata); the
SNOMED CT codes TotalSegmentator publishes for its class names
(``data/totalsegmentator_snomed_mapping.csv``, Apache-2.0, see ``data/NOTICE.md``);
otherwise the generic SNOMED CT "Tissue" (85756007) as category and type, the code
3D Slicer gives a segment it knows nothing about. No code is ever invented.
"""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

Code = tuple[str, str, str]  # (coding scheme designator, code value, code meaning)

TISSUE: Code = ("SCT", "85756007", "Tissue")
_CSV = Path(__file__).with_name("data") / "totalsegmentator_snomed_mapping.csv"
_FIELDS = {
    "category": "SegmentedPropertyCategoryCodeSequence",
    "type": "SegmentedPropertyTypeCodeSequence",
    "type_modifier": "SegmentedPropertyTypeModifierCodeSequence",
    "anatomic_region": "AnatomicRegionSequence",
    "anatomic_region_modifier": "AnatomicRegionModifierSequence",
}


@dataclass(frozen=True)
class SegmentCodes:
    category: Code
    type: Code
    type_modifier: Code | None = None
    anatomic_region: Code | None = None
    anatomic_region_modifier: Code | None = None
    source: str = ""  # where they came from: "metadata", "slicer", "totalsegmentator", "generic"

    def to_json(self) -> dict[str, list[str]]:
        return {k: list(getattr(self, k)) for k in _FIELDS if getattr(self, k) is not None}


GENERIC = SegmentCodes(TISSUE, TISSUE, source="generic")


@functools.lru_cache(maxsize=1)
def totalsegmentator_table() -> dict[str, SegmentCodes]:
    """TotalSegmentator class name -> its published codes."""
    out: dict[str, SegmentCodes] = {}
    with open(_CSV, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            codes = {}
            for key, prefix in _FIELDS.items():
                code = tuple(row[f"{prefix}.{part}"].strip()
                             for part in ("CodingSchemeDesignator", "CodeValue", "CodeMeaning"))
                codes[key] = code if all(code) else None
            out[row["Structure"].strip()] = SegmentCodes(source="totalsegmentator", **codes)  # type: ignore[arg-type]
    return out


def _code(value: Any) -> Code | None:
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(isinstance(v, str) and v for v in value):
        return tuple(value)  # type: ignore[return-value]
    return None


def codes_from_json(data: Any, source: str = "metadata") -> SegmentCodes | None:
    """Codes stored by :meth:`SegmentCodes.to_json` (category and type required)."""
    if not isinstance(data, Mapping):
        return None
    cat, typ = _code(data.get("category")), _code(data.get("type"))
    if cat is None or typ is None:
        return None
    return SegmentCodes(cat, typ, _code(data.get("type_modifier")), _code(data.get("anatomic_region")),
                        _code(data.get("anatomic_region_modifier")), source=source)


def parse_slicer_terminology(entry: str) -> SegmentCodes | None:
    """Codes of a 3D Slicer ``TerminologyEntry`` tag, or None when it carries no type code.

    Format: ``context~category~type~typeModifier~anatomicContext~region~regionModifier``,
    each code ``scheme^value^meaning``.
    """
    if not isinstance(entry, str) or "~" not in entry:
        return None
    parts = entry.split("~")
    if len(parts) < 4:
        return None

    def code(i: int) -> Code | None:
        if i >= len(parts):
            return None
        bits = parts[i].split("^")
        if len(bits) != 3 or not all(b.strip() for b in bits):
            return None
        return tuple(b.strip() for b in bits)  # type: ignore[return-value]

    cat, typ = code(1), code(2)
    if cat is None or typ is None:
        return None
    return SegmentCodes(cat, typ, code(3), code(5), code(6), source="slicer")


TYPE_CONTEXT = "Segmentation category and type - DICOM master list"
REGION_CONTEXT = "Anatomic codes - DICOM master list"


def slicer_terminology_entry(codes: SegmentCodes) -> str:
    """The 3D Slicer ``TerminologyEntry`` tag of ``codes`` (inverse of :func:`parse_slicer_terminology`)."""
    def code(c: Code | None) -> str:
        return "^".join(c) if c else "^^"

    return "~".join([TYPE_CONTEXT, code(codes.category), code(codes.type), code(codes.type_modifier),
                     REGION_CONTEXT, code(codes.anatomic_region), code(codes.anatomic_region_modifier)])


def _find_terminology(meta: Any, depth: int = 0) -> str | None:
    if depth > 4:
        return None
    if isinstance(meta, Mapping):
        for k, v in meta.items():
            if isinstance(k, str) and k.lower().endswith("terminologyentry") and isinstance(v, str):
                return v
        for v in meta.values():
            found = _find_terminology(v, depth + 1)
            if found:
                return found
    return None


def normalize(name: str) -> str:
    return "_".join(name.strip().replace("-", " ").split()).lower()


def _totalseg_lookup(name: str) -> SegmentCodes | None:
    table = totalsegmentator_table()
    if name in table:
        return table[name]
    key = normalize(name)
    for k, v in table.items():
        if k.lower() == key:
            return v
    return None


def codes_for(label_name: str, *, entry_name: str | None = None, metadata: Mapping[str, Any] | None = None,
              single_label: bool = True) -> SegmentCodes:
    """The codes a segment gets (see the module docstring for the order)."""
    metadata = metadata or {}
    dicom = metadata.get("dicom")
    if isinstance(dicom, Mapping):
        per_label = dicom.get("segments")
        stored = per_label.get(label_name) if isinstance(per_label, Mapping) else (dicom if single_label else None)
        found = codes_from_json(stored)
        if found is not None:
            return found
    if single_label:
        term = _find_terminology(metadata)
        found = parse_slicer_terminology(term) if term else None
        if found is not None:
            return found
    for name in (label_name, entry_name if single_label else None):
        if name:
            found = _totalseg_lookup(name)
            if found is not None:
                return found
    return GENERIC


__all__ = ["Code", "SegmentCodes", "GENERIC", "TISSUE", "codes_for", "codes_from_json",
           "parse_slicer_terminology", "slicer_terminology_entry", "totalsegmentator_table"]
