"""Codec trade-offs on the real organ crops of one TotalSegmentator case (the table in docs/format.md).

    python benchmarks/bench_codecs.py [--data ../shared/data/totalseg_s0000] [--repeat 7]

For every non-empty organ of the folder: bytes of its payload, and the time to decode it
to its crop and to place that crop into a zeroed full volume (what a full-volume read
does). Candidates: the registered codecs, and two the issue's probe suggested that were
not adopted (run lengths in fixed-width byte planes; plain bit packing), coded here.
Medians of --repeat runs, side by side in one process.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from medmask.codecs import BitPackCodec, RowDeltaCodec, RunLengthCodec  # noqa: E402
from medmask.codecs.rowdelta import ORDERS  # noqa: E402
from medmask.convert import read_nifti_folder  # noqa: E402
from medmask.core.geometry import bbox_slices  # noqa: E402

import timing  # noqa: E402  (the benchmarks' shared timing rule)
from timing import median_time  # noqa: E402


class RunPlanes:
    """Probe: run lengths as fixed-width byte planes, zstd (alternating values, first value stored)."""

    def __init__(self, order):
        self.order = order

    def encode(self, arr):
        flat = np.ascontiguousarray(arr.transpose(self.order)).ravel().view(np.uint8)
        starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
        lengths = np.diff(np.append(starts, flat.size)).astype("<u4")
        width = max(1, (int(lengths.max()).bit_length() + 7) // 8)
        planes = np.ascontiguousarray(lengths.view(np.uint8).reshape(-1, 4)[:, :width].T)
        head = np.array([flat[0], width], np.uint8).tobytes() + np.uint32(lengths.size).tobytes()
        return zstandard.ZstdCompressor(level=19, write_content_size=True).compress(head + planes.tobytes())

    def decode(self, payload, shape, dtype):
        raw = np.frombuffer(zstandard.ZstdDecompressor().decompress(payload), np.uint8)
        first, width, runs = int(raw[0]), int(raw[1]), int(raw[2:6].view("<u4")[0])
        planes = raw[6:].reshape(width, runs)
        lengths = planes[0].astype(np.int64)
        for k in range(1, width):
            lengths |= planes[k].astype(np.int64) << (8 * k)
        values = np.empty(runs, np.uint8)
        values[0::2], values[1::2] = first, 1 - first
        tshape = tuple(shape[i] for i in self.order)
        return np.repeat(values, lengths).reshape(tshape).transpose(np.argsort(self.order)).view(bool)


def smallest(make, orders, arr):
    return min((make(o) for o in orders), key=lambda c: len(c.encode(arr)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "totalseg_s0000")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: this process's CPU time, steadier on a busy machine")
    args = ap.parse_args()
    timing.use_clock(args.clock)
    space, masks = read_nifti_folder(args.data)
    organs = [(m.bbox, np.ascontiguousarray(m.crop_data)) for _, m in masks if m.bbox is not None]
    largest = max(range(len(organs)), key=lambda i: int(np.count_nonzero(organs[i][1])))
    candidates = {
        "rle-zstd (varint runs, best of 6 orders; 0.2.0)": lambda a: RunLengthCodec.best_for(a)[0],
        "run lengths in byte planes + zstd (6 orders)": lambda a: smallest(RunPlanes, ORDERS, a),
        "bitpack-zstd": lambda a: BitPackCodec.for_array(a, 19),
        "rowdelta-zstd, best of 6 orders": lambda a: RowDeltaCodec.best_for(a, orders=ORDERS)[0],
        "rowdelta-zstd, rows kept innermost (written)": lambda a: RowDeltaCodec.best_for(a)[0],
    }
    print(f"{len(organs)} non-empty organs of {args.data.name}, median of {args.repeat} runs, "
          f"{args.clock}-clock; times in ms\n")
    head = f"{'codec':48s} {'bytes':>8s} {'decode all':>11s} {'largest':>8s} {'+ place all':>12s}"
    print(head + "\n" + "-" * len(head))
    for label, make in candidates.items():
        coded = []
        for bbox, crop in organs:
            codec = make(crop)
            coded.append((codec, codec.encode(crop), crop, bbox))
        for codec, payload, crop, _ in coded:
            assert np.array_equal(codec.decode(payload, crop.shape, crop.dtype), crop), label

        def decode_all():
            for codec, payload, crop, _ in coded:
                codec.decode(payload, crop.shape, crop.dtype)

        def place_all():
            for codec, payload, crop, bbox in coded:
                out = np.zeros(space.shape, bool)
                out[bbox_slices(bbox)] = codec.decode(payload, crop.shape, crop.dtype)

        big = coded[largest]
        t_all = median_time(decode_all, args.repeat)
        t_big = median_time(lambda: big[0].decode(big[1], big[2].shape, big[2].dtype), args.repeat)
        t_place = median_time(place_all, args.repeat)
        size = sum(len(p) for _, p, _, _ in coded)
        print(f"{label:48s} {size:>8,d} {t_all * 1e3:>11.2f} {t_big * 1e3:>8.2f} {t_place * 1e3:>12.2f}")

    def floor():
        for bbox, crop in organs:
            out = np.zeros(space.shape, bool)
            out[bbox_slices(bbox)] = crop
    print(f"{'floor: place crops already in memory':48s} {'':>8s} {'':>11s} {'':>8s} "
          f"{median_time(floor, args.repeat) * 1e3:>12.2f}")


if __name__ == "__main__":
    main()
