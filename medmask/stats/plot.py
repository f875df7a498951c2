"""``medmask compare --plot``: Dice and volume change per organ, one PNG (matplotlib, no pyplot)."""
from __future__ import annotations

import io
import math
import os
from collections import defaultdict
from typing import Any, Sequence

from ..errors import MedMaskError

COMPARED = ("ok", "empty_in_a", "empty_in_b")
PCT_LIMIT = 100.0  # volume changes beyond +-100 % are drawn at the edge and labelled with their value


def _organ(row: dict[str, Any]) -> str:
    label, entry = row.get("label"), row.get("entry")
    return str(entry) if label in (None, entry) else f"{entry}: {label}"


def plot_comparison(rows: Sequence[dict[str, Any]], path: str | os.PathLike, *, title: str | None = None) -> None:
    """Per organ: Dice (bar = mean over cases, dots = cases) and volume change B-A in % of A."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MedMaskError("--plot needs matplotlib: pip install matplotlib") from None
    from ..storage.atomic import atomic_write

    dice: dict[str, list[float]] = defaultdict(list)
    change: dict[str, list[float]] = defaultdict(list)
    skipped = 0
    for r in rows:
        if r.get("status") not in COMPARED or r.get("dice") is None:
            skipped += 1
            continue
        dice[_organ(r)].append(float(r["dice"]))
        if r.get("volume_diff_pct") is not None:
            change[_organ(r)].append(float(r["volume_diff_pct"]))
    if not dice:
        raise MedMaskError("nothing to plot: no entry is non-empty in both A and B", os.fspath(path))
    organs = sorted(dice, key=lambda o: (sum(dice[o]) / len(dice[o]), o))  # worst first, at the top
    n_cases = len({r.get("case") for r in rows})
    height = 1.6 + 0.26 * len(organs)
    fig = Figure(figsize=(10, height), layout="constrained")
    FigureCanvasAgg(fig)
    ax_d, ax_v = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1]})
    ys = range(len(organs))
    mean_d = [sum(dice[o]) / len(dice[o]) for o in organs]
    ax_d.barh(ys, mean_d, color=["#c0392b" if d < 0.5 else "#e67e22" if d < 0.8 else "#2e86c1" for d in mean_d],
              height=0.7)
    mean_v = [sum(change[o]) / len(change[o]) if change[o] else 0.0 for o in organs]
    shown = [max(-PCT_LIMIT, min(PCT_LIMIT, v)) for v in mean_v]
    ax_v.barh(ys, shown, color=["#8e44ad" if v < 0 else "#16a085" for v in mean_v], height=0.7)
    if n_cases > 1:
        for y, o in zip(ys, organs):
            ax_d.plot(dice[o], [y] * len(dice[o]), "k.", markersize=3, alpha=0.6)
            clipped = [max(-PCT_LIMIT, min(PCT_LIMIT, v)) for v in change[o]]
            ax_v.plot(clipped, [y] * len(clipped), "k.", markersize=3, alpha=0.6)
    for y, d, v, s in zip(ys, mean_d, mean_v, shown):
        ax_d.text(min(d, 1.0) + 0.01, y, f"{d:.3f}", va="center", fontsize=7)
        text = f"{v:+.1f} %" if math.isfinite(v) else ""
        ax_v.text(s + (2 if s >= 0 else -2), y, text, va="center", ha="left" if s >= 0 else "right", fontsize=7)
    ax_d.set_yticks(list(ys), organs, fontsize=8)
    ax_d.set_ylim(-0.6, len(organs) - 0.4)
    ax_d.invert_yaxis()
    ax_d.set_xlim(0, 1.12)
    ax_d.set_xlabel("Dice" + (f" (bar: mean of {n_cases} cases, dots: cases)" if n_cases > 1 else ""))
    ax_v.set_xlim(-PCT_LIMIT * 1.3, PCT_LIMIT * 1.3)
    ax_v.axvline(0, color="k", linewidth=0.8)
    ax_v.set_xlabel("volume change B - A, % of A (clipped at ±100 %)")
    for ax in (ax_d, ax_v):
        ax.grid(axis="x", alpha=0.3)
    note = f"; {skipped} rows missing or empty in both, not drawn" if skipped else ""
    fig.suptitle(f"{title or 'Agreement of B with A'}: {len(organs)} organs, {n_cases} case(s){note}", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    with atomic_write(path) as f:
        f.write(buf.getvalue())
