"""Regenerate the distinct TotalSegmentator colour table printed for ``medmask/core/totalseg.py``.

Each structure gets the colour nearest (CIE76) to its anatomical tissue colour (3D Slicer's
GenericAnatomyColors conventions: liver 221,130,101, bone 241,214,145, artery 216,101,79, vein
0,151,206 ...) among a grid of candidates, such that it differs by at least ``NEIGHBOUR_DE`` from
every structure it touches (``tests/core/anatomy_neighbours.py``) and by at least ``ANY_DE`` from every
colour already given. Run: ``python scripts/make_palette.py`` and paste the output.
"""
import colorsys
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))

from anatomy_neighbours import NEIGHBOURS  # noqa: E402
from medmask.core.colors import delta_e  # noqa: E402
from medmask.core.totalseg import CLASS_MAPS, PREFERRED  # noqa: E402

NEIGHBOUR_DE = 28.0
ANY_DE = 4.0


def candidates():
    out = []
    for h in range(0, 360, 6):
        for s in (0.25, 0.4, 0.55, 0.7, 0.85, 1.0):
            for v in (0.55, 0.7, 0.85, 1.0):
                r, g, b = colorsys.hsv_to_rgb(h / 360, s, v)
                out.append((round(r * 255), round(g * 255), round(b * 255)))
    return out


def main():
    names = list(CLASS_MAPS["total"].values())
    adj = {n: set() for n in names}
    for a, b in NEIGHBOURS:
        adj[a].add(b)
        adj[b].add(a)
    order = sorted(names, key=lambda n: (-len(adj[n]), names.index(n)))
    cands = candidates()
    done = {}
    for n in order:
        want = PREFERRED[n]
        ok = [c for c in [want] + cands
              if all(delta_e(c, done[m]) >= NEIGHBOUR_DE for m in adj[n] if m in done)
              and all(delta_e(c, d) >= ANY_DE for d in done.values())]
        done[n] = min(ok, key=lambda c: delta_e(c, want))
    for n in names:
        print(f'    "{n}": {done[n]},')


if __name__ == "__main__":
    main()
