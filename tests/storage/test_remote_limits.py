"""Servers as they are: one that ignores Range (python's http.server), one whose answer never ends,
one that never answers. Each read either succeeds correctly or fails with one MedMaskError naming
the URL, within a second or two and a bounded amount of memory; never a false "truncated"."""
from __future__ import annotations

import logging
import socket
import time
import tracemalloc

import pytest

from medmask import MaskArchive, load_mask, save_mask
from medmask import limits
from medmask.errors import LimitError, MedMaskError

from .remote_servers import EndlessHTTPServer, RangeIgnoringHTTPServer, SilentServer

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")


@pytest.fixture
def served(tmp_path, masks):
    """A folder holding case.mska (every test mask) and liver.msk."""
    folder = tmp_path / "www"
    folder.mkdir()
    with MaskArchive(folder / "case.mska", "w", space=masks["liver"].space) as a:
        a.add_segmasks(masks)
    save_mask(masks["liver"], folder / "liver.msk")
    return folder


def _same_archive(url, masks, **kw):
    with MaskArchive(url, **kw) as a:
        assert a.names == list(masks)
        for name, mask in masks.items():
            assert a.load_segmask(name).same_content(mask), name
        assert a.verify() == list(masks)


def _elapsed(fn):
    start = time.perf_counter()
    with pytest.raises(MedMaskError) as err:
        fn()
    return err.value, time.perf_counter() - start


# a server that ignores Range ----------------------------------------------------------------
def test_range_ignoring_server_is_read_whole_once(served, masks, caplog):
    with RangeIgnoringHTTPServer(served) as server, caplog.at_level(logging.INFO, logger="medmask"):
        _same_archive(f"{server.url}/case.mska", masks)
        assert load_mask(f"{server.url}/liver.msk").same_content(masks["liver"])
        log = list(server.log)
    assert log == [("GET", "bytes=0-89")] * 2, log  # one request per file: the whole body is kept and sliced
    notes = [r.getMessage() for r in caplog.records if r.name.startswith("medmask")]
    assert len(notes) == 2 and all("ignores Range requests" in n for n in notes), notes
    assert f"{server.url}/case.mska" in notes[0] and str((served / "case.mska").stat().st_size) in notes[0]


def test_range_ignoring_server_never_reports_damage(served, monkeypatch):
    """A file bigger than medmask downloads whole: a limit named as such, not 'truncated'."""
    monkeypatch.setattr(limits, "MAX_REMOTE_DOWNLOAD", 200)
    size = (served / "case.mska").stat().st_size
    with RangeIgnoringHTTPServer(served) as server:
        url = f"{server.url}/case.mska"
        err, _ = _elapsed(lambda: MaskArchive(url))
    assert isinstance(err, LimitError)
    text = str(err)
    assert text.startswith(url) and "ignores Range requests" in text and str(size) in text, text
    assert "truncated" not in text and "file ends" not in text


def test_range_ignoring_server_missing_file(served):
    with RangeIgnoringHTTPServer(served) as server:
        with pytest.raises(MedMaskError, match="no such file") as err:
            MaskArchive(f"{server.url}/nothing.mska")
    assert f"{server.url}/nothing.mska" in str(err.value)


# an answer that never ends --------------------------------------------------------------------
def test_endless_body_is_cut_at_the_download_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_REMOTE_DOWNLOAD", 4 << 20)
    with EndlessHTTPServer(b"MSKA\x02\x02") as server:
        url = f"{server.url}/case.mska"
        tracemalloc.start()
        try:
            err, seconds = _elapsed(lambda: MaskArchive(url))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert isinstance(err, LimitError) and str(err).startswith(url), err
    assert "ignores Range requests" in str(err) and "4.0 MiB" in str(err), err
    assert seconds < 10  # loaded CI; the benchmark measures it under a memory limit
    assert peak < 3 * (4 << 20), peak  # the limit and one chunk, not what the server sent


def test_endless_body_after_the_asked_range_is_not_read(served, masks):
    """206 and then more than asked: exactly the bytes asked are taken, the rest never read."""
    data = (served / "case.mska").read_bytes()
    with EndlessHTTPServer(data, status=206) as server:
        _same_archive(f"{server.url}/case.mska", masks)


# a server that never answers ----------------------------------------------------------------
def test_silent_server_times_out_naming_the_timeout():
    with SilentServer() as server:
        url = f"{server.url}/case.mska"
        err, seconds = _elapsed(lambda: MaskArchive(url, storage_options={"read_timeout": 0.3}))
    text = str(err)
    assert text.startswith(url) and "nothing for 0.3 s" in text and "read_timeout" in text, text
    assert seconds < 5


def test_connection_that_never_completes_names_connect_timeout():
    """A listening port whose backlog is full drops new SYNs: connecting hangs until the timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(s)
        time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/case.mska"
        err, seconds = _elapsed(lambda: MaskArchive(url, storage_options={"connect_timeout": 0.3,
                                                                           "read_timeout": 30}))
    finally:
        for s in fillers:
            s.close()
        listener.close()
    text = str(err)
    if "read_timeout" in text:
        pytest.skip("this kernel completed the connection (backlog not enforced)")
    assert text.startswith(url) and "no connection within 0.3 s" in text and "connect_timeout" in text, text
    assert seconds < 5


@pytest.mark.slow
def test_silent_s3_endpoint_times_out():
    pytest.importorskip("s3fs")
    with SilentServer() as server:
        options = {"read_timeout": 0.3, "key": "k", "secret": "s", "skip_instance_cache": True,
                   "client_kwargs": {"endpoint_url": server.url, "region_name": "us-east-1"}}
        err, seconds = _elapsed(lambda: MaskArchive("s3://bucket/case.mska", storage_options=options))
    assert str(err).startswith("s3://bucket/case.mska: server sent nothing for 0.3 s"), err
    assert seconds < 10  # two attempts; most of it is botocore's start-up


def test_refused_connection_is_one_line():
    with SilentServer() as server:
        url = f"{server.url}/case.mska"
    with pytest.raises(MedMaskError, match="cannot reach the server") as err:  # the port is closed now
        MaskArchive(url, storage_options={"connect_timeout": 2})
    assert str(err.value).startswith(url) and "\n" not in str(err.value)


@pytest.mark.parametrize("value", ["soon", 0, -1, None])
def test_bad_timeout_option_is_refused(value):
    with pytest.raises(MedMaskError, match="read_timeout.*positive number of seconds"):
        MaskArchive("http://127.0.0.1:9/case.mska", storage_options={"read_timeout": value})


def test_whole_small_file_within_the_range_asked_is_no_sign_of_ignoring(tmp_path, caplog):
    """A server may answer 200 with the whole file when the range covers all of it: no info line then."""
    from medmask.storage.remote import RemoteSource

    (tmp_path / "small.bin").write_bytes(bytes(range(50)))
    (tmp_path / "big.bin").write_bytes(bytes(range(200)))
    with RangeIgnoringHTTPServer(tmp_path) as server, caplog.at_level(logging.INFO, logger="medmask"):
        small = RemoteSource(f"{server.url}/small.bin")
        assert small.read_at(0, 100) == bytes(range(50)) and small.read_at(10, 5) == bytes(range(10, 15))
        assert small.size == 50 and len(server.log) == 1 and not caplog.records
        big = RemoteSource(f"{server.url}/big.bin")
        assert big.read_at(150, 100) == bytes(range(150, 200)) and big.read_at(0, 3) == b"\0\1\2"
        assert len(server.log) == 2 and len(caplog.records) == 1
