"""Archives read over the network: fsspec's memory filesystem, a real HTTP server with Range
support and an S3-compatible server (moto), all started here on 127.0.0.1.

The index sits at the end of the file, so opening an archive and reading one organ costs
three range requests (header, index, that organ's bytes) and nothing else.
"""
from __future__ import annotations

import pytest

from medmask import MaskArchive, load_mask, save_mask
from medmask.errors import ArchiveModeError, MedMaskError

from .remote_servers import MotoS3Server, RangeHTTPServer

fsspec = pytest.importorskip("fsspec")
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402


@pytest.fixture
def archive_bytes(tmp_path, masks):
    p = tmp_path / "case.mska"
    with MaskArchive(p, "w", space=masks["liver"].space, level=3) as a:
        a.add_segmasks(masks)
    return p.read_bytes()


@pytest.fixture
def mask_bytes(tmp_path, masks):
    p = tmp_path / "liver.msk"
    save_mask(masks["liver"], p)
    return p.read_bytes()


def _read_liver(url, masks, **kw):
    with MaskArchive(url, "r", **kw) as a:
        assert a.names == list(masks)
        back = a.load_segmask("liver")
    assert back.same_content(masks["liver"]) and back.colors == masks["liver"].colors
    return back


# memory:// -----------------------------------------------------------------------------------
def test_memory_filesystem_costs_three_reads(archive_bytes, masks, monkeypatch):
    fs = fsspec.filesystem("memory")
    fs.pipe("/medmask-count/case.mska", archive_bytes)
    calls = []
    for method in ("cat_file", "info", "open", "_open", "cat", "size"):  # every way to reach the bytes
        real = getattr(MemoryFileSystem, method)
        monkeypatch.setattr(MemoryFileSystem, method,
                            lambda self, *a, _m=method, _real=real, **k: calls.append((_m, a, k)) or _real(self, *a, **k))
    try:
        _read_liver("memory:///medmask-count/case.mska", masks)
    finally:
        monkeypatch.undo()
        fs.rm("/medmask-count", recursive=True)
    assert [c[0] for c in calls] == ["cat_file"] * 3, calls
    assert calls[0][2]["start"] == 0  # the header first


def test_plain_memory_url(archive_bytes, mask_bytes, masks):
    fs = fsspec.filesystem("memory")
    fs.pipe("/medmask-test/case.mska", archive_bytes)
    fs.pipe("/medmask-test/liver.msk", mask_bytes)
    try:
        _read_liver("memory:///medmask-test/case.mska", masks)
        assert load_mask("memory:///medmask-test/liver.msk").same_content(masks["liver"])
        assert MaskArchive("memory:///medmask-test/case.mska").verify() == list(masks)
    finally:
        fs.rm("/medmask-test", recursive=True)


def test_remote_writes_are_a_clear_error(masks):
    with pytest.raises(ArchiveModeError, match="remote"):
        MaskArchive("memory:///x/new.mska", "w", space=masks["liver"].space)
    with pytest.raises(ArchiveModeError, match="remote"):
        MaskArchive("s3://bucket/case.mska", "a")
    with pytest.raises(ArchiveModeError, match="remote"):
        save_mask(masks["liver"], "memory:///x/liver.msk")


def test_missing_remote_file_names_it():
    with pytest.raises(MedMaskError, match="no such file") as e:
        MaskArchive("memory:///does/not/exist.mska")
    assert "memory:///does/not/exist.mska" in str(e.value)


def test_truncated_remote_file_is_a_format_error(archive_bytes):
    from medmask.errors import FormatError
    fs = fsspec.filesystem("memory")
    fs.pipe("/medmask-test/cut.mska", archive_bytes[:-10])
    try:
        with pytest.raises(FormatError, match="truncated|outside"):
            MaskArchive("memory:///medmask-test/cut.mska")
    finally:
        fs.rm("/medmask-test", recursive=True)


# https:// (a real HTTP server with Range support) ---------------------------------------------
def test_http_costs_three_range_requests(archive_bytes, masks):
    pytest.importorskip("aiohttp")
    with RangeHTTPServer({"/case.mska": archive_bytes}) as server:
        _read_liver(f"{server.url}/case.mska", masks)
        log = list(server.log)
    assert len(log) <= 3, log
    assert all(method == "GET" and rng for method, rng in log), log  # range requests only, no HEAD, no full GET
    assert log[0][1].startswith("bytes=0-")


def test_http_missing_file_and_bad_range(archive_bytes):
    pytest.importorskip("aiohttp")
    with RangeHTTPServer({"/case.mska": archive_bytes[:100]}) as server:
        with pytest.raises(MedMaskError):
            MaskArchive(f"{server.url}/nothing.mska")
        with pytest.raises(MedMaskError, match="outside|truncated"):
            MaskArchive(f"{server.url}/case.mska")


# s3:// (moto in server mode) --------------------------------------------------------------------
@pytest.mark.slow
def test_s3_costs_three_range_requests(archive_bytes, masks):
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    with MotoS3Server() as s3:
        boto3 = pytest.importorskip("boto3")
        client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket="medmask-bucket")
        client.put_object(Bucket="medmask-bucket", Key="cases/case.mska", Body=archive_bytes)
        s3.log.clear()
        _read_liver("s3://medmask-bucket/cases/case.mska", masks, storage_options=s3.storage_options())
        log = list(s3.log)
    assert len(log) <= 3, log
    assert all(method == "GET" and rng and path.endswith("/cases/case.mska") for method, path, rng in log), log
