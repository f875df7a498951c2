"""Hostile inputs of issue 20 (round 3 of the reliability attack), made on demand.

Each function writes one file (or folder) and returns its path; the tests in
``test_attacks20.py`` and the rows of ``benchmarks/bench_attacks.py`` use the same makers,
so the measured attack and the tested one are the same bytes.
"""
from __future__ import annotations

import json
import os
import zlib

from medmask.format import table, v2

from . import hostile as H


def _table_file(path: str, head: dict, rows: list[bytes], extras: bytes) -> str:
    """A 2.2 archive with checksums right, whatever the table says."""
    text = json.dumps(head, separators=(",", ":")).encode()
    raw = table.HEAD.pack(table.MAGIC, len(text), len(rows), table.RECORD.size, len(extras)) + text \
        + b"".join(rows) + extras
    blob = H.zstd(raw)
    data = v2.pack_header(v2.MAGIC_ARCHIVE, v2.HEADER_SIZE, len(blob), zlib.crc32(blob)) + blob
    return H.write(path, data)


def _empty_row(meta: int = table.NONE, xoff: int = 0, xlen: int = 0) -> bytes:
    """An empty entry (no bbox) named after itself, one voxel count of 0."""
    return table.RECORD.pack(64, 0, 0, 0, 0, 0, 0, 0, 0, 0, table.NONE, meta, xoff, xlen, 1,
                             table.MAPPING_SELF | table.COUNT_ONE, 0)


def shared_extra(path: str, rows: int = 1_000, values: int = 200_000) -> str:
    """Every row points at the same per-entry extra (metadata holding a list of ``values`` zeros):
    parsed, and its list built, once per row (1.2 KB of file)."""
    extra = b'{"metadata":{"a":[' + b",".join([b"0"] * values) + b"]}}"
    head = {"kind": "archive", "writer": "attack", "space": {"shape": [1, 1, 1]}, "codecs": [],
            "names": [f"{i}" for i in range(rows)]}
    return _table_file(path, head, [_empty_row(xlen=len(extra))] * rows, extra)


def shared_metadata(path: str, rows: int = 5_000, keys: int = 60_000) -> str:
    """Every row inherits one shared-metadata object of ``keys`` keys: copied once per row."""
    head = {"kind": "archive", "writer": "attack", "space": {"shape": [1, 1, 1]}, "codecs": [],
            "metadata": [{f"k{i}": i for i in range(keys)}], "names": [f"{i}" for i in range(rows)]}
    return _table_file(path, head, [_empty_row(meta=0)] * rows, b"")
