"""Label description files of the field, as pure text <-> :class:`LabelTable` pairs.

Each format has a parser and a formatter that are inverses (``parse_x(format_x(t)) == t``
for the names and colours a format can hold), in the style of pynrrd:

* ITK-SNAP label descriptions: ``IDX R G B A VIS MSH "LABEL"`` (``# ITK-SnAP Label Description File``);
* 3D Slicer colour tables (``.ctbl``/``.txt``): ``value name R G B A`` (``# Color table file``),
  and Slicer's CSV colour tables (``LabelValue,Name,Color_R,...``);
* nnU-Net ``dataset.json``: v1 ``{"labels": {"0": "background", "1": "liver"}}`` and
  v2 ``{"labels": {"background": 0, "liver": 1}}``;
* a JSON ``{label: name}`` map, CSV/TSV ``label,name`` rows, a plain list of names (label 1, 2, 3...).

The format is found from the content (:func:`detect_format`), so an ITK-SNAP file called
``names.txt`` is read as one. A file whose lines start with a number followed by more fields but
match no known layout is refused, naming the line: read as a list of names it would give every
label a wrong name. Label 0 (background / "Clear Label") is skipped in every format.
File I/O lives in :func:`read_table_file` / :func:`write_table_file`.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Optional

from ..errors import ConversionError
from .nifti_label_table import LabelTable

RGBA = tuple[float, float, float, float]
FORMATS = ("itksnap", "slicer", "slicer_csv", "nnunet", "json", "csv", "tsv", "names")
FORMAT_NAMES = {"itksnap": "ITK-SNAP label description", "slicer": "3D Slicer colour table",
                "slicer_csv": "3D Slicer CSV colour table", "nnunet": "nnU-Net dataset.json",
                "json": "JSON {label: name}", "csv": "CSV label,name", "tsv": "TSV label<TAB>name",
                "names": "list of names"}

ITKSNAP_HEADER = """\
################################################
# ITK-SnAP Label Description File
# File format: 
# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
# Fields: 
#    IDX:   Zero-based index 
#    -R-:   Red color component (0..255)
#    -G-:   Green color component (0..255)
#    -B-:   Blue color component (0..255)
#    -A-:   Label transparency (0.00 .. 1.00)
#    VIS:   Label visibility (0 or 1)
#    IDX:   Label mesh visibility (0 or 1)
#  LABEL:   Label description 
################################################
"""
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_ITKSNAP_LINE = re.compile(rf'^\s*(-?\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+({_NUM})\s+(\d+)\s+(\d+)\s+"(.*)"\s*$')
_SLICER_LINE = re.compile(r"^\s*(-?\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+(\d+))?\s*$")
_NUMBERED = re.compile(rf"^\s*{_NUM}[\s,;]+\S")  # a number, then more fields


class _Problem(Exception):
    """A parse error before the file's name is known (becomes a ConversionError)."""


def _rgba255(r: Any, g: Any, b: Any, a: Any = 255, *, line: str) -> RGBA:
    vals = [int(r), int(g), int(b)]
    if any(not 0 <= v <= 255 for v in vals) or not 0 <= float(a) <= 255:
        raise _Problem(f"colour out of 0..255 in line {line.strip()!r}")
    return (vals[0] / 255, vals[1] / 255, vals[2] / 255, float(a) / 255)


def _to255(c: float) -> int:
    return int(round(min(max(float(c), 0.0), 1.0) * 255))


def _add(names: dict[int, str], label: int, name: str, line: str) -> bool:
    """Record ``label -> name``; False for label 0 (background, skipped)."""
    if label < 0:
        raise _Problem(f"negative label {label} in line {line.strip()!r}")
    if label == 0:
        return False
    if not name:
        raise _Problem(f"label {label} has an empty name in line {line.strip()!r}")
    if label in names:
        raise _Problem(f"label {label} is named twice ({names[label]!r} and {name!r})")
    names[label] = name
    return True


def _data_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


# ------------------------------------------------------------------------------------------
# ITK-SNAP


def parse_itksnap(text: str) -> LabelTable:
    """An ITK-SNAP label description file (``IDX R G B A VIS MSH "LABEL"``; alpha 0..1)."""
    table = LabelTable({})
    for line in _data_lines(text):
        m = _ITKSNAP_LINE.match(line)
        if m is None:
            raise _Problem(f"line {line.strip()!r} is not an ITK-SNAP label line (IDX R G B A VIS MSH \"LABEL\")")
        label, r, g, b, a = int(m[1]), m[2], m[3], m[4], float(m[5])
        if not 0.0 <= a <= 1.0:
            raise _Problem(f"opacity {m[5]} out of 0..1 in line {line.strip()!r}")
        if _add(table.names, label, m[8], line):
            table.colors[label] = _rgba255(r, g, b, line=line)[:3] + (a,)
    return table


def format_itksnap(table: LabelTable) -> str:
    """ITK-SNAP's own layout: its header block, ``Clear Label`` at 0, one line per label."""
    rows = [ITKSNAP_HEADER, '    0     0    0    0        0  0  0    "Clear Label"\n']
    for label, name in sorted(table.names.items()):
        if '"' in name or "\n" in name:
            raise ConversionError(f"label {label} name {name!r} holds a quote or line break, which an ITK-SNAP "
                                  f"label file cannot hold")
        r, g, b, a = _color(table, label)
        rows.append(f"{label:5d} {_to255(r):5d} {_to255(g):4d} {_to255(b):4d} {_alpha(a):>8s}  1  1    \"{name}\"\n")
    return "".join(rows)


def _alpha(a: float) -> str:
    return f"{float(a):.6g}"


def _color(table: LabelTable, label: int) -> RGBA:
    c = table.colors.get(label)
    if c is None:
        from ..core.colors import default_color

        c = default_color(table.names[label], label)
    c = tuple(float(v) for v in c)
    return (c[0], c[1], c[2], c[3] if len(c) > 3 else 1.0)


# ------------------------------------------------------------------------------------------
# 3D Slicer colour tables


def parse_slicer_ctbl(text: str) -> LabelTable:
    """A 3D Slicer (or FreeSurfer) colour table: ``value name R G B [A]``, values 0..255."""
    table = LabelTable({})
    for line in _data_lines(text):
        m = _SLICER_LINE.match(line)
        if m is None:
            raise _Problem(f"line {line.strip()!r} is not a colour table line (value name R G B A)")
        label = int(m[1])
        if _add(table.names, label, m[2], line):
            table.colors[label] = _rgba255(m[3], m[4], m[5], m[6] if m[6] is not None else 255, line=line)
    return table


def format_slicer_ctbl(table: LabelTable) -> str:
    """Slicer's ``.ctbl`` layout (``# Color table file``, ``# N values``, background at 0).

    Slicer names hold no spaces: a space becomes ``_``, as Slicer itself writes them.
    """
    rows = ["0 Background 0 0 0 0"]
    for label, name in sorted(table.names.items()):
        r, g, b, a = _color(table, label)
        word = re.sub(r"\s+", "_", name.strip())
        rows.append(f"{label} {word} {_to255(r)} {_to255(g)} {_to255(b)} {_to255(a)}")
    return f"# Color table file medmask\n# {len(rows)} values\n" + "\n".join(rows) + "\n"


def parse_slicer_csv(text: str) -> LabelTable:
    """Slicer's CSV colour table: columns ``LabelValue,Name,Color_R,Color_G,Color_B[,Color_A]`` (more ignored)."""
    reader = csv.DictReader(io.StringIO(text))
    table = LabelTable({})
    for row in reader:
        line = ",".join(str(v) for v in row.values())
        try:
            label = int(str(row["LabelValue"]).strip())
        except ValueError:
            raise _Problem(f"LabelValue {row['LabelValue']!r} is not an integer") from None
        if _add(table.names, label, str(row.get("Name") or "").strip(), line) and row.get("Color_R"):
            table.colors[label] = _rgba255(row["Color_R"], row["Color_G"], row["Color_B"],
                                           row.get("Color_A") or 255, line=line)
    return table


# ------------------------------------------------------------------------------------------
# JSON: nnU-Net dataset.json, or a plain {label: name} map


def _int_value(v: Any) -> Optional[int]:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        return int(v)
    return None


def parse_json_labels(data: Any) -> tuple[str, LabelTable]:
    """(format, table) of a parsed JSON document: nnU-Net ``dataset.json`` (v1 or v2), ``{"labels": ...}``,
    a ``{label: name}`` / ``{name: label}`` map, or a list of names (label 1, 2, 3...)."""
    fmt = "json"
    if isinstance(data, Mapping) and "labels" in data:
        fmt = "nnunet" if ({"channel_names", "modality", "file_ending", "numTraining", "training"} & set(data)
                           or _nnunet_like(data["labels"])) else "json"
        data = data["labels"]
    table = LabelTable({})
    if isinstance(data, list):
        for i, name in enumerate(data):
            _add(table.names, i + 1, str(name), repr(name))
        return fmt, table
    if not isinstance(data, Mapping):
        raise _Problem("label names JSON must be an object {label: name} or an nnU-Net dataset.json")
    for k, v in data.items():
        key_label, value_label = _int_value(k), _int_value(v)
        if isinstance(v, list):  # nnU-Net v2 region: [1, 2, 3] is a union of labels
            if len(v) == 1 and _int_value(v[0]) is not None:
                value_label = _int_value(v[0])
            else:
                raise _Problem(f"labels {k!r}: {v!r} is an nnU-Net region (a union of labels), which names no "
                               f"single label; give each label its own name ({{\"name\": value}})")
        if key_label is not None and isinstance(v, str) and value_label is None:
            label, name = key_label, v
        elif value_label is not None and isinstance(k, str) and key_label is None:
            label, name = value_label, k
        else:
            raise _Problem(f"cannot tell the label in {k!r}: {v!r}")
        _add(table.names, label, name.strip(), f"{k}: {v}")
    return fmt, table


def _nnunet_like(labels: Any) -> bool:
    if not isinstance(labels, Mapping):
        return False
    return any(str(n).strip().lower() == "background" and _int_value(v) == 0 for n, v in labels.items()) or any(
        _int_value(k) == 0 for k in labels)


def format_nnunet(table: LabelTable) -> str:
    """The ``labels`` of an nnU-Net v2 ``dataset.json`` (``{"background": 0, "liver": 1}``) and its
    ``file_ending``; merge it into the dataset's own ``dataset.json`` (channel names, case count)."""
    labels = {"background": 0, **{name: int(label) for label, name in sorted(table.names.items())}}
    if len(labels) != len(table.names) + 1:
        raise ConversionError("a label named 'background' clashes with nnU-Net's background (label 0)")
    return json.dumps({"labels": labels, "file_ending": ".nii.gz"}, indent=4) + "\n"


def format_json_labels(table: LabelTable) -> str:
    """``{"1": "liver", ...}``, what :func:`parse_json_labels` reads back."""
    return json.dumps({str(k): v for k, v in sorted(table.names.items())}, indent=2) + "\n"


# ------------------------------------------------------------------------------------------
# CSV / TSV / list of names


def parse_delimited(text: str, delimiter: str) -> LabelTable:
    """Rows ``label,name`` (or ``name,label``), header row and ``#`` comments allowed."""
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter)
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    table = LabelTable({})
    for row in rows:
        cells = [c.strip() for c in row]
        if len(cells) < 2:
            raise _Problem(f"row {row!r} needs two columns: label and name")
        a, b = _int_value(cells[0]), _int_value(cells[1])
        if a is not None:
            _add(table.names, a, cells[1], delimiter.join(row))
        elif b is not None:
            _add(table.names, b, cells[0], delimiter.join(row))
        elif not table.names and row is rows[0]:  # header row
            continue
        else:
            raise _Problem(f"row {row!r} has no integer label")
    return table


def format_delimited(table: LabelTable, delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["label", "name"])
    for label, name in sorted(table.names.items()):
        writer.writerow([label, name])
    return out.getvalue()


def parse_names(text: str) -> LabelTable:
    """One name per line, label 1, 2, 3...; a line that starts with a number and more fields is refused."""
    table = LabelTable({})
    for i, line in enumerate(_data_lines(text)):
        if _NUMBERED.match(line):
            raise _Problem(f"line {line.strip()!r} starts with a number followed by more fields, but the file "
                           f"matches no label table medmask knows (ITK-SNAP, 3D Slicer colour table, nnU-Net "
                           f"dataset.json, CSV label,name); read as a list of names it would misname every label")
        _add(table.names, i + 1, line.strip(), line)
    return table


def format_names(table: LabelTable) -> str:
    labels = sorted(table.names)
    if labels != list(range(1, len(labels) + 1)):
        raise ConversionError(f"a list of names holds labels 1, 2, 3... only; labels {labels[:8]} need a table "
                              f"with values (.txt ITK-SNAP, .ctbl, .json, .csv)")
    return "".join(table.names[k] + "\n" for k in labels)


# ------------------------------------------------------------------------------------------
# detection and file I/O


def detect_format(text: str, suffix: str = "") -> str:
    """The format of a label table's text (``suffix`` breaks ties: ``.csv``/``.tsv``)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "json"
    low = text.lower()
    lines = _data_lines(text)
    if "itk-snap label description" in low or (lines and all(_ITKSNAP_LINE.match(ln) for ln in lines)):
        return "itksnap"
    if "# color table file" in low or (lines and all(_SLICER_LINE.match(ln) for ln in lines)):
        return "slicer"
    first = lines[0].replace(" ", "").lower() if lines else ""
    if first.startswith("labelvalue,") and "color_r" in first:
        return "slicer_csv"
    if suffix == ".tsv" or (lines and all("\t" in ln for ln in lines)):
        return "tsv"
    if suffix == ".csv" or (lines and all("," in ln for ln in lines)):
        return "csv"
    return "names"


def parse_table(text: str, suffix: str = "", path=None) -> tuple[str, LabelTable]:
    """(format, table) of a label table's text; a ConversionError naming ``path`` when it is not one."""
    fmt = detect_format(text, suffix.lower())
    try:
        if fmt == "json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _Problem(f"invalid JSON ({exc})") from None
            fmt, table = parse_json_labels(data)
        elif fmt == "itksnap":
            table = parse_itksnap(text)
        elif fmt == "slicer":
            table = parse_slicer_ctbl(text)
        elif fmt == "slicer_csv":
            table = parse_slicer_csv(text)
        elif fmt in ("csv", "tsv"):
            table = parse_delimited(text, "\t" if fmt == "tsv" else ",")
        else:
            table = parse_names(text)
    except _Problem as exc:
        raise ConversionError(f"label names ({FORMAT_NAMES[fmt]}): {exc}", path) from None
    dup = sorted(n for n, c in Counter(table.names.values()).items() if c > 1)
    if dup:
        raise ConversionError(f"label names: {dup} name more than one label", path)
    return fmt, table


def read_table_file(path: str | os.PathLike) -> tuple[str, LabelTable]:
    """(format, table) of a label table file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"cannot read label names ({exc})", p) from None
    return parse_table(text, p.suffix, p)


def output_format(path: str | os.PathLike) -> str:
    """The format a label table written to ``path`` gets, from its name.

    ``dataset.json`` -> nnU-Net; ``.json`` -> {label: name}; ``.ctbl`` -> Slicer; ``.txt``/``.label``
    -> ITK-SNAP (Slicer and ITK-SNAP both read it); ``.csv``/``.tsv`` -> label,name rows.
    """
    name = Path(path).name.lower()
    if name == "dataset.json":
        return "nnunet"
    for suffix, fmt in ((".json", "json"), (".ctbl", "slicer"), (".txt", "itksnap"), (".label", "itksnap"),
                        (".csv", "csv"), (".tsv", "tsv")):
        if name.endswith(suffix):
            return fmt
    raise ConversionError("cannot tell the label table format from the name; use names.txt (ITK-SNAP), "
                          "names.ctbl (3D Slicer), dataset.json (nnU-Net), .json, .csv or .tsv", path)


def format_table(table: LabelTable, fmt: str) -> str:
    """The text of ``table`` in format ``fmt`` (one of :data:`FORMATS` but ``slicer_csv``)."""
    writers = {"itksnap": format_itksnap, "slicer": format_slicer_ctbl, "nnunet": format_nnunet,
               "json": format_json_labels, "names": format_names,
               "csv": lambda t: format_delimited(t, ","), "tsv": lambda t: format_delimited(t, "\t")}
    if fmt not in writers:
        raise ConversionError(f"cannot write a label table as {fmt!r}; formats: {sorted(writers)}")
    return writers[fmt](table)


def write_table_file(path: str | os.PathLike, table: LabelTable, fmt: str | None = None) -> Path:
    """Write ``table`` to ``path`` (format from the name unless ``fmt``), atomically."""
    from ..storage.atomic import atomic_write

    p = Path(path)
    fmt = fmt or output_format(p)
    try:
        text = format_table(table, fmt)
    except ConversionError as exc:
        raise ConversionError(exc.problem, p) from None
    with atomic_write(p) as f:
        f.write(text.encode("utf-8"))
    return p


def table_of_mask(mask) -> LabelTable:
    """A mask's labels as a table: its names and display colours (its own colours, else the palette's;
    see :func:`medmask.core.colors.display_colors`)."""
    from ..core.colors import display_colors

    names = {int(v): n for n, v in mask.mapping.items()}
    shown = display_colors(mask.mapping, mask.colors)
    colors = {int(v): shown[n] for n, v in mask.mapping.items()}
    return LabelTable(names, colors)


__all__ = ["FORMATS", "LabelTable", "detect_format", "format_itksnap", "format_json_labels", "format_nnunet",
           "format_slicer_ctbl", "format_table", "output_format", "parse_itksnap", "parse_json_labels",
           "parse_slicer_csv", "parse_slicer_ctbl", "parse_table", "read_table_file", "table_of_mask",
           "write_table_file"]
