"""What parsing stored JSON may cost, decided before parsing.

``json.loads`` builds every object of a document at once: 85 million ``{}`` in a 256 MiB
index (24 KB compressed) take 6.7 GB. A legitimate index needs far less per byte, and
its size follows the number of entries, whose bytes the file holds. So before parsing:

* the declared decompressed size must be one an index of this compressed size can have
  (``INDEX_FREE_COST`` plus ``COST_PER_STORED_BYTE`` per compressed byte, in estimated
  memory), checked from the zstd frame header before anything is decompressed;
* after decompressing, the objects/arrays and values are counted (``bytes.count``, no
  parse) and the parse's memory is estimated from them (``estimated_parse_bytes``); it
  must fit both that allowance and the memory budget (``limits.MEMORY_BUDGET``).

Writers check their own output with the same rule, so medmask never writes an index it
would refuse to read. Measured (benchmarks/fuzz_formats.py): the estimate is 1.5-4x the
traced peak of ``json.loads`` for legitimate indexes and for adversarial patterns.
"""
from __future__ import annotations

import json
from typing import Any

from .. import limits
from ..errors import FormatError, LimitError

INDEX_FREE_COST = 16 << 20      # any index whose parse is estimated under 16 MiB is fine
COST_PER_STORED_BYTE = 8192     # beyond that, per compressed byte (100 000 empty entries need ~4000)
# upper bounds of what CPython's json allocates, from tracemalloc on 3.11/3.12:
_PER_CONTAINER = 232            # a dict with one key (184 B) + its slot in the parent + hash table growth
_PER_VALUE = 40                 # a float (24 B) + its slot; small ints and repeated keys are shared
_PER_STRING = 80                # per pair of quotes: a str object (49-80 B) and its slot
_PER_BYTE = 6                   # the bytes, their decoded str (up to 4 B per character) and the strings made
# no byte can cost more than this in estimated_parse_bytes (a "{" or "[" is the dearest), so a
# document whose length times this fits the allowance needs no counting: the bound decides
_WORST_PER_BYTE = _PER_BYTE + max(_PER_CONTAINER, _PER_VALUE, _PER_STRING // 2 + 1)


def estimated_parse_bytes(raw: bytes) -> int:
    """An upper estimate of the memory ``json.loads(raw)`` needs, from C-speed byte counts."""
    containers = raw.count(b"{") + raw.count(b"[")
    values = raw.count(b",") + raw.count(b":")
    strings = raw.count(b'"') // 2
    return _PER_BYTE * len(raw) + _PER_CONTAINER * containers + _PER_VALUE * values + _PER_STRING * strings


def index_allowance(stored_bytes: int) -> int:
    """The parse cost an index stored in ``stored_bytes`` (compressed) bytes may have."""
    return INDEX_FREE_COST + COST_PER_STORED_BYTE * stored_bytes


def max_index_size(stored_bytes: int) -> int:
    """The largest decompressed index allowed for ``stored_bytes`` compressed bytes."""
    return min(limits.MAX_INDEX_BYTES, index_allowance(stored_bytes) // _PER_BYTE)


def check_parse_cost(raw: bytes, allowance: int, what: str, path: str | None) -> None:
    """LimitError (naming what and the bytes) unless parsing ``raw`` fits ``allowance`` and the budget.

    Small documents (every index of a few hundred entries) are decided by the worst case per
    byte alone, without the counting pass over their bytes.
    """
    bound = _WORST_PER_BYTE * len(raw)
    if bound <= allowance and bound <= limits.MEMORY_BUDGET:
        return
    cost = estimated_parse_bytes(raw)
    if cost > allowance:
        raise LimitError(f"{what}: {len(raw)} bytes of JSON with {raw.count(b'{') + raw.count(b'[')} objects/arrays "
                         f"would take ~{cost >> 20} MiB to parse, more than an index stored in this many bytes "
                         f"needs ({allowance >> 20} MiB): refused (index bomb?)", path)
    limits.check_allocation(cost, f"parsing the {len(raw)}-byte {what}", path)


def loads(raw: bytes, what: str, path: str | None, allowance: int | None = None) -> Any:
    """Parse stored JSON after :func:`check_parse_cost`; any JSON fault is one FormatError."""
    check_parse_cost(raw, index_allowance(len(raw)) if allowance is None else allowance, what, path)
    try:
        text = raw.decode("utf-8")
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad UTF-8/JSON, >4300-digit ints, deep nesting
        raise FormatError(f"{what} is not valid JSON ({exc})", path) from None
    except MemoryError:
        raise LimitError(f"{what}: out of memory parsing {len(raw)} bytes of JSON", path) from None
