"""Names typed on the command line: globs (``rib_left_*``) and closest-name suggestions (``livre`` -> ``liver``)."""
from __future__ import annotations

import difflib
import fnmatch
from typing import Sequence

from ..errors import ConversionError

_GLOB = set("*?[")


def suggest(name: str, available: Sequence[str], n: int = 3) -> list[str]:
    """The closest names to ``name`` (case-insensitive), best first."""
    lower = {a.lower(): a for a in available}
    return [lower[m] for m in difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6)]


def resolve_names(patterns: Sequence[str], available: Sequence[str], *, what: str = "entry", path=None) -> list[str]:
    """Names in ``available`` that ``patterns`` ask for, in the order asked, each once.

    A pattern with ``*``, ``?`` or ``[`` is a glob and must match at least one name; any
    other must be a name, else the error suggests the closest ones.
    """
    out: list[str] = []
    plural = {"entry": "entries", "entry or organ": "entries and organs"}.get(what, f"{what}s")
    for pat in patterns:
        if _GLOB & set(pat):
            hits = [a for a in available if fnmatch.fnmatchcase(a, pat)]
            if not hits:
                raise ConversionError(f"no {what} matches {pat!r} ({len(available)} {plural})", path)
        elif pat in available:
            hits = [pat]
        else:
            close = suggest(pat, available)
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else \
                f"{plural}: " + ", ".join(map(repr, list(available)[:8])) + (" ..." if len(available) > 8 else "")
            raise ConversionError(f"no {what} named {pat!r}; {hint}", path)
        out.extend(h for h in hits if h not in out)
    return out
