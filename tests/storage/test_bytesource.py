"""Readers over every byte source: path, bytes, binary file objects, and systems without os.pread."""
from __future__ import annotations

import io

import pytest

from medmask import MaskArchive, load_mask, save_mask
from medmask.errors import ArchiveModeError, FormatError, MedMaskError
from medmask.storage import bytesource
from medmask.storage.reader import open_container


@pytest.fixture
def files(tmp_path, masks):
    arch = tmp_path / "case.mska"
    with MaskArchive(arch, "w", space=masks["liver"].space, level=3) as a:
        a.add_segmasks(masks)
    msk = tmp_path / "liver.msk"
    save_mask(masks["liver"], msk, level=3)
    v1 = tmp_path / "v1.mska"
    with MaskArchive(v1, "w", space=masks["liver"].space, format_version=1) as a:
        a.add_segmask(masks["tumor"], "tumor")
    return arch, msk, v1


def _check(source, masks, name="liver"):
    with MaskArchive(source) as a:
        assert a.names == list(masks)
        assert a.load_segmask(name).same_content(masks[name])
        assert a.verify() == list(masks)


def test_bytes_and_memoryview(files, masks):
    data = files[0].read_bytes()
    _check(data, masks)
    _check(memoryview(data), masks)
    _check(bytearray(data), masks)
    assert load_mask(files[1].read_bytes()).same_content(masks["liver"])


def test_binary_file_objects(files, masks):
    with open(files[0], "rb") as f:  # a real file: os.pread on its descriptor
        f.seek(7)
        _check(f, masks)
        assert f.tell() == 7 and not f.closed  # the caller's position and file are left alone
    _check(io.BytesIO(files[0].read_bytes()), masks)  # no descriptor: seek + read
    with open(files[1], "rb") as f:
        assert load_mask(f).same_content(masks["liver"])


def test_without_pread_as_on_windows(files, masks, monkeypatch):
    from medmask.storage import locking, pread

    monkeypatch.setattr(bytesource, "pread", pread._pread_seek)  # as where os.pread does not exist
    monkeypatch.setattr(locking, "pread", pread._pread_seek)
    _check(files[0], masks)
    assert load_mask(files[1]).same_content(masks["liver"])
    with MaskArchive(files[2]) as a:  # version 1 goes through the same bytes
        assert a.load_segmask("tumor").same_content(masks["tumor"])
    with MaskArchive(files[0], "a") as a:  # editing: the commit lock reads the header too
        a.remove("ribs")
    assert MaskArchive(files[0]).names == [n for n in masks if n != "ribs"]


def test_v1_from_bytes(files, masks):
    with MaskArchive(files[2].read_bytes()) as a:
        assert a.format_version == 1 and a.load_segmask("tumor").same_content(masks["tumor"])


def test_read_only_sources_refuse_writing(files, masks):
    with pytest.raises(ArchiveModeError, match="local path"):
        MaskArchive(files[0].read_bytes(), "a")
    with open(files[0], "rb") as f, pytest.raises(ArchiveModeError, match="local path"):
        MaskArchive(f, "w")
    with pytest.raises(ArchiveModeError, match="local path"):
        save_mask(masks["liver"], io.BytesIO())


def test_bad_sources(files):
    with pytest.raises(MedMaskError, match="binary file object"):
        open_container(io.StringIO("MSKA"))
    with pytest.raises(MedMaskError, match="cannot read a medmask file from a int"):
        open_container(42)
    with pytest.raises(FormatError, match="truncated"):
        open_container(files[0].read_bytes()[:-5])
    with pytest.raises(FormatError, match="only 3 bytes"):
        open_container(b"MSK")


def test_reader_of_a_replaced_file_keeps_its_version(files, masks, tmp_path):
    reader = open_container(files[0])
    with MaskArchive(files[0], "a") as a:
        a.remove("liver")
    assert reader.load("liver").same_content(masks["liver"])  # still the file it opened
    reader.close()
