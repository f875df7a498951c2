"""The real case: 117 TotalSegmentator masks. Skips when ../shared/data is absent."""
import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask


@pytest.mark.slow
def test_real_case_is_lossless_and_small(totalseg_dir, tmp_path):
    nib = pytest.importorskip("nibabel")
    from spacetransformer import Space
    files = sorted(totalseg_dir.glob("*.nii.gz"))
    assert len(files) == 117
    arrays = {f.name[:-7]: np.ascontiguousarray(np.asarray(nib.load(f).dataobj).transpose(2, 1, 0)) for f in files}
    shape = next(iter(arrays.values())).shape
    space = Space(shape=shape, spacing=(1.5, 1.5, 1.5))
    p = tmp_path / "s0000.mska"
    with MaskArchive(p, mode="w", space=space) as a:
        for n, arr in arrays.items():
            a.add_segmask(SegmentationMask(arr, {n: 1}, space=space), n)
    size = p.stat().st_size
    assert size <= 40_000, f"per-organ archive is {size} bytes"
    b = MaskArchive(p)
    empty = [n for n in b if b.entry_info(n).is_empty]
    assert len(empty) == 96 and all(b.entry_info(n).stored_bytes == 0 for n in empty)
    for n, arr in arrays.items():
        assert np.array_equal(b[n].data, arr), n


def test_original_overwrite_is_caught(totalseg_dir):
    """The original add_label silently lost rib_right_12; ours refuses by default and says what."""
    nib = pytest.importorskip("nibabel")
    from medmask import OverlapError
    files = sorted(totalseg_dir.glob("*.nii.gz"))
    arrays = {f.name[:-7]: np.asarray(nib.load(f).dataobj).transpose(2, 1, 0) for f in files}
    combined = SegmentationMask.lazy_init(8, space=__import__("spacetransformer").Space(shape=next(iter(arrays.values())).shape))
    with pytest.raises(OverlapError, match="voxels"):
        for i, (n, arr) in enumerate(arrays.items(), start=1):
            combined.add_label(arr > 0, i, n)
