"""Label names given by the user: a dict, a JSON/CSV/TSV/TXT file or a TotalSegmentator task name."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..core.totalseg import class_map, identify_task, task_names
from ..errors import ConversionError
from .label_tables import LabelTable, read_table_file


def read_label_names(spec: Any, *, path=None) -> dict[int, str]:
    """Label value -> name of ``spec`` (see :func:`read_label_spec`)."""
    return read_label_spec(spec, path=path).names


def read_label_spec(spec: Any, *, path=None) -> LabelTable:
    """Label value -> name (and colours, where a file has them) from a dict, a label table file or a
    TotalSegmentator map name.

    * ``dict``: ``{1: "liver"}`` or ``{"liver": 1}`` (either direction);
    * ``"total"`` / ``"totalseg"`` / ``"total_v1"``: TotalSegmentator's class map;
    * a file, its format found from its content (:mod:`medmask.convert.label_tables`): an ITK-SNAP
      label description, a 3D Slicer colour table, an nnU-Net ``dataset.json``, a JSON
      ``{label: name}``, CSV/TSV ``label,name`` rows, or one name per line (label 1, 2, 3...).
    """
    if spec is None:
        return LabelTable({})
    if isinstance(spec, Mapping):
        return LabelTable(_normalize_names(spec, path))
    if isinstance(spec, (list, tuple)):
        return LabelTable({i + 1: str(n) for i, n in enumerate(spec)})
    if isinstance(spec, str) and not os.path.exists(spec):
        known = class_map(spec)
        if known is not None:
            return LabelTable(known)
    p = Path(spec)
    if not p.is_file():
        import difflib

        close = difflib.get_close_matches(str(spec).lower(), task_names(), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else \
            "TotalSegmentator maps: 'total', 'total_mr', 'total_v1' and the other task names"
        raise ConversionError(f"label names {str(spec)!r}: no such file, and not a known class map; {hint}", path)
    return read_table_file(p)[1]


def label_mapping(names: Mapping[int, str], present) -> dict[str, int]:
    """name -> label of a label map: every named label (also those without voxels), ``label_<n>`` for
    values present that no name covers."""
    mapping: dict[str, int] = {}
    for label, n in sorted(names.items()):
        mapping[n] = label
    for label in present:
        if label not in names:
            candidate = f"label_{label}"
            while candidate in mapping:
                candidate += "_"
            mapping[candidate] = label
    return mapping


def describe_spec(spec: Any) -> str:
    """How to name a label map in a message: the task name, the file name, or 'the given map'."""
    if isinstance(spec, (str, os.PathLike)):
        return repr(os.fspath(spec))
    return "the given map"


def choose_label_names(own: Mapping[int, str] | None, given: Mapping[int, str] | None, *, spec: Any = None,
                       force: bool = False, path=None) -> dict[int, str]:
    """The names a file gets: its own table wins over a given map; a contradiction is an error.

    ``own`` is the table stored in the file (e.g. TotalSegmentator's label table), ``given``
    the map the user passed. Labels the file's table does not name take the given names.
    With ``force`` the given map wins, contradictions included.
    """
    own = dict(own or {})
    given = dict(given or {})
    if not given:
        return own
    if not own:
        return given
    if force:
        return {**own, **given}
    clash = next(((k, own[k], given[k]) for k in sorted(own) if k in given and given[k] != own[k]), None)
    if clash is not None:
        label, mine, theirs = clash
        task = identify_task(own)
        hint = f" (the file's table is TotalSegmentator's {task!r} map)" if task else ""
        raise ConversionError(f"label {label} is {mine!r} in the file's own label table but {theirs!r} in "
                              f"labels {describe_spec(spec)}{hint}; leave out the labels to keep the file's "
                              f"names, or force to use the given ones", path)
    return {**given, **own}


def _normalize_names(mapping: Mapping, path) -> dict[int, str]:
    out: dict[int, str] = {}
    for k, v in mapping.items():
        if isinstance(k, (int, np.integer)) or (isinstance(k, str) and k.strip().isdigit()):
            label, name = int(k), v
        elif isinstance(v, (int, np.integer)) or (isinstance(v, str) and v.strip().isdigit()):
            label, name = int(v), k
        else:
            raise ConversionError(f"label names: cannot tell the label in {k!r}: {v!r}", path)
        if label == 0:  # background (nnU-Net's "background": 0): not a label
            continue
        if label < 0:
            raise ConversionError(f"label names: label must be positive, got {label}", path)
        if not isinstance(name, str) or not name:
            raise ConversionError(f"label names: name of label {label} must be a non-empty string", path)
        out[label] = name
    dup = [n for n, c in Counter(out.values()).items() if c > 1]
    if dup:
        raise ConversionError(f"label names: {dup} name more than one label", path)
    return out
