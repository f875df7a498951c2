"""NIfTI gzip inflation: zlib-ng when installed, zlib otherwise, the same bytes either way."""
import gzip
import zlib

import pytest

from medmask.convert import nifti


@pytest.fixture(params=["default", "zlib"])
def inflater(request, monkeypatch):
    if request.param == "zlib":
        monkeypatch.setattr(nifti, "_inflater", zlib)
    return request.param


def test_gunzip_reads_every_member_and_padding(inflater):
    data = bytes(range(256)) * 1000
    raw = gzip.compress(data[:100_000]) + b"\0\0" + gzip.compress(data[100_000:])
    assert nifti._gunzip(raw) == data


def test_gunzip_refuses_a_cut_stream(inflater):
    raw = gzip.compress(bytes(range(256)) * 100)
    with pytest.raises(Exception) as info:
        nifti._gunzip(raw[:-20])
    assert "truncated" in str(info.value) or "incomplete" in str(info.value).lower()


def test_zlib_ng_is_used_when_installed():
    pytest.importorskip("zlib_ng")
    assert nifti._inflater.__name__ == "zlib_ng.zlib_ng"
