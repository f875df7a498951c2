"""What long jobs show a person: progress bars and byte sizes (one helper each)."""
from __future__ import annotations

from typing import Iterable, TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T], enabled: bool, desc: str, *, total: int | None = None,
             unit: str = "it", leave: bool = False) -> Iterable[T]:
    """``iterable`` wrapped in a tqdm bar when ``enabled`` and tqdm is installed; else as it is."""
    bar = progress_bar(enabled, desc, total=total, unit=unit, leave=leave, iterable=iterable)
    return iterable if bar is None else bar


def progress_bar(enabled: bool, desc: str, *, total: int | None = None, unit: str = "it", leave: bool = True,
                 iterable: Iterable | None = None):
    """A tqdm bar (``update``/``write``/``close``), or None when disabled or tqdm is missing."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm  # optional: progress bars are a nicety, never a reason to fail
    except ImportError:
        return None
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave)


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KB' (binary multiples, as file managers show them)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
