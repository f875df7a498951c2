"""Which unsigned dtypes hold labels, and the smallest one for a given largest label.

One home for the rule, so NIfTI, Slicer, merging, the model and the file format agree.
"""
from __future__ import annotations

import numpy as np

BIT_DEPTH_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(bool),
    8: np.dtype(np.uint8),
    16: np.dtype(np.uint16),
    32: np.dtype(np.uint32),
}
DTYPE_BIT_DEPTHS: dict[np.dtype, int] = {dt: bits for bits, dt in BIT_DEPTH_DTYPES.items()}
LABEL_DTYPE_NAMES: frozenset[str] = frozenset(str(dt) for dt in DTYPE_BIT_DEPTHS)
_UNSIGNED = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32))


def dtype_max(dtype: np.dtype | str) -> int:
    """The largest label a label dtype can hold (1 for bool)."""
    dt = np.dtype(dtype)
    return 1 if dt == bool else int(np.iinfo(dt).max)


def smallest_label_dtype(max_label: int, *, allow_bool: bool = False) -> np.dtype:
    """uint8, uint16 or uint32 (or bool when asked and ``max_label <= 1``) for labels up to ``max_label``.

    ValueError when no label dtype can hold it (callers wrap it in their own error).
    """
    max_label = int(max_label)
    if allow_bool and max_label <= 1:
        return np.dtype(bool)
    for dt in _UNSIGNED:
        if max_label <= np.iinfo(dt).max:
            return dt
    raise ValueError(f"label {max_label} exceeds the largest uint32 label {np.iinfo(np.uint32).max}")
