import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from medmask.codecs import BitPackCodec, RowDeltaCodec, RunLengthCodec, ZstdRawCodec, get_codec, registered_codecs
from medmask.codecs.rowdelta import ORDERS
from medmask.codecs.varint import decode_varints, encode_varints
from medmask.errors import CodecError

DTYPES = [np.dtype(bool), np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32)]


def label_arrays():
    return st.sampled_from(DTYPES).flatmap(lambda dt: hnp.arrays(
        dt, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=7),
        elements=st.booleans() if dt == bool else st.sampled_from([0, 0, 0, 1, 2, int(np.iinfo(dt).max)])))


@settings(max_examples=150, deadline=None)
@given(label_arrays(), st.sampled_from(["zstd", "rle", "rowdelta"]))
def test_codecs_round_trip(arr, which):
    codec = {"zstd": lambda: ZstdRawCodec(level=3), "rle": lambda: RunLengthCodec.best_for(arr, level=3)[0],
             "rowdelta": lambda: RowDeltaCodec.best_for(arr, level=3, orders=ORDERS)[0]}[which]()
    again = get_codec(codec.get_config())
    out = again.decode(codec.encode(arr), arr.shape, arr.dtype)
    assert out.dtype == arr.dtype and np.array_equal(out, arr)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, max_side=6), elements=st.sampled_from([0, 7])))
def test_bitpack_round_trip(arr):
    codec = BitPackCodec.for_array(arr, 3)
    if codec is None:
        assert not arr.any()
        return
    out = get_codec(codec.get_config()).decode(codec.encode(arr), arr.shape, arr.dtype)
    assert np.array_equal(out, arr)


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=50))
def test_varints_are_an_inverse_pair(values):
    arr = np.array(values, dtype=np.uint64)
    assert decode_varints(encode_varints(arr)).tolist() == values


def test_varint_rejects_cut_stream():
    data = encode_varints(np.array([300]))
    with pytest.raises(ValueError):
        decode_varints(data[:-1])


def test_rle_order_is_recorded_and_chosen():
    arr = np.zeros((4, 30, 5), np.uint8)
    arr[:, 3:27, :] = 1  # runs are longest along axis 1
    codec, payload = RunLengthCodec.best_for(arr)
    sizes = [len(RunLengthCodec(order=o).encode(arr)) for o in ([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0])]
    assert len(payload) == min(sizes) and sorted(codec.get_config()["order"]) == [0, 1, 2]
    assert np.array_equal(get_codec(codec.get_config()).decode(payload, arr.shape, arr.dtype), arr)


def test_unknown_codec_and_bad_configs():
    assert {"zstd", "rle-zstd", "bitpack-zstd", "rowdelta-zstd"} <= set(registered_codecs())
    with pytest.raises(CodecError, match="unknown codec 'lz77'"):
        get_codec({"id": "lz77"})
    with pytest.raises(CodecError):
        get_codec({"id": "rle-zstd", "order": [0, 0, 1]})
    with pytest.raises(CodecError):
        get_codec({"id": "zstd", "level": "high"})
    with pytest.raises(CodecError):
        get_codec("zstd")


def test_decoders_refuse_lies_before_allocating():
    arr = np.ones((4, 4, 4), np.uint8)
    payload = ZstdRawCodec().encode(arr)
    with pytest.raises(CodecError, match="cannot expand"):
        ZstdRawCodec().decode(payload, (4000, 4000, 4000), np.uint8)
    with pytest.raises(CodecError, match="expected"):
        ZstdRawCodec().decode(payload, (4, 4, 3), np.uint8)
    rle = RunLengthCodec()
    with pytest.raises(CodecError, match="add up"):
        rle.decode(rle.encode(arr), (4, 4, 5), np.uint8)
    with pytest.raises(CodecError, match="not a zstd frame"):
        rle.decode(b"garbage!", (4, 4, 4), np.uint8)
    big = np.full((2, 2, 2), 1000, np.uint16)
    with pytest.raises(CodecError, match="does not fit"):
        rle.decode(rle.encode(big), (2, 2, 2), np.uint8)


@settings(max_examples=150, deadline=None)
@given(label_arrays(), st.sampled_from(ORDERS))
def test_rowdelta_round_trip_every_order(arr, order):
    codec = RowDeltaCodec(level=3, order=order)
    out = get_codec(codec.get_config()).decode(codec.encode(arr), arr.shape, arr.dtype)
    assert out.dtype == arr.dtype and out.shape == arr.shape and np.array_equal(out, arr)


def organ_like(shape=(20, 30, 40)) -> np.ndarray:
    """An ellipsoid whose outline drifts row to row, with a hole and a second blob (4 boundaries a row)."""
    z, y, x = np.indices(shape)
    arr = ((z - 10) / 9) ** 2 + ((y - 15) / 13) ** 2 + ((x - 18 - z / 4) / 15) ** 2 < 1
    arr &= ((y - 15) ** 2 + (x - 18) ** 2) > 9
    arr |= (abs(x - 36) < 2) & (abs(y - 8) < 3)
    return arr


def test_rowdelta_reads_organ_shapes_back():
    arr = organ_like()
    codec, payload = RowDeltaCodec.best_for(arr)
    assert np.array_equal(codec.decode(payload, arr.shape, arr.dtype), arr)
    labels = arr.astype(np.uint16) * 3
    labels[:10][arr[:10]] = 700  # two labels that touch: values are stored
    codec, payload = RowDeltaCodec.best_for(labels)
    assert np.array_equal(codec.decode(payload, labels.shape, labels.dtype), labels)


def test_rowdelta_identity_order_decodes_c_contiguous():
    arr = organ_like()
    out = RowDeltaCodec(order=[0, 1, 2]).decode(RowDeltaCodec(order=[0, 1, 2]).encode(arr), arr.shape, bool)
    assert out.flags.c_contiguous and np.array_equal(out, arr)


def _stream_payload(stream: bytes) -> bytes:
    import zstandard
    return zstandard.ZstdCompressor(level=3, write_content_size=True).compress(stream)


@pytest.mark.parametrize("damage, message", [
    (lambda s: bytes([2]) + s[1:], "bad stream header"),
    (lambda s: s[:4] + (300).to_bytes(4, "little") + s[8:], "does not fit"),
    (lambda s: s[:-1], "does not hold"),
    (lambda s: s + b"\0", "does not hold"),
    (lambda s: s[:8] + bytes([3]) + s[9:], "does not hold"),
    (lambda s: s[:8 + 60] + bytes([100]) + s[8 + 61:], "out of order"),
])
def test_rowdelta_refuses_damaged_streams(damage, message):
    arr = np.zeros((2, 30, 6), bool)
    arr[:, 5:25, 1:5] = True
    codec = RowDeltaCodec(level=3)
    stream = codec.stream(arr)
    with pytest.raises(CodecError, match=message):
        codec.decode(_stream_payload(damage(stream)), arr.shape, bool)


def test_rowdelta_refuses_lying_sizes():
    codec = RowDeltaCodec(level=3)
    with pytest.raises(CodecError, match="not a zstd frame"):
        codec.decode(b"nonsense", (2, 2, 2), bool)
    with pytest.raises(CodecError, match="cannot describe"):
        codec.decode(_stream_payload(bytes(10_000)), (2, 2, 2), bool)
    with pytest.raises(CodecError, match="order must be a permutation"):
        get_codec({"id": "rowdelta-zstd", "order": [2, 2, 0]})
