"""Cost proportional to what is read (CI-sized; benchmarks/bench_limits.py has the 5000-entry / 512x512x1000 figures)."""
import time
import tracemalloc

import numpy as np
from spacetransformer import Space

from medmask import MaskArchive, SegmentationMask
from medmask.format import v2
from medmask.storage.entries import encode_mask
from medmask.storage.writer import write_v2


def test_many_entries_open_and_read_one(tmp_path):
    space = Space(shape=(32, 32, 32))
    items = []
    for i in range(1000):
        arr = np.zeros((32, 32, 32), np.uint8)
        arr[i % 28:i % 28 + 4, 5:9, (i * 3) % 28:(i * 3) % 28 + 4] = 1
        info, payload = encode_mask(SegmentationMask(arr, {f"o{i}": 1}, space), f"o{i}", level=1)
        items.append((info, (lambda p=payload: p)))
    path = str(tmp_path / "many.mska")
    write_v2(path, "archive", space, items)
    tracemalloc.start()
    t = time.perf_counter()
    a = MaskArchive(path)
    assert len(a.names) == 1000
    m = a.load_segmask("o500")
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert m.voxel_counts() == {1: 64}
    assert elapsed < 1.0 and peak < 8 << 20, (elapsed, peak)


def test_small_entry_of_big_volume_never_builds_the_volume(tmp_path):
    shape = (300, 256, 256)  # 19.7 M voxels
    small = np.zeros(shape, bool)
    small[10:20, 10:30, 10:30] = True
    path = str(tmp_path / "big.mska")
    with MaskArchive(path, "w") as a:
        a.add_segmask(SegmentationMask(small, {"nodule": 1}, Space(shape=shape)), "nodule")
    del small
    tracemalloc.start()
    m = MaskArchive(path).load_segmask("nodule")
    assert m.crop_data.sum() == 4000
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20, peak  # the crop, not 19.7 MB
