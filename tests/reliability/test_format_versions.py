"""Which format version a write produces: a handle never lowers a file another program upgraded
(issue 20.2), and 2.1 is written on request for medmask 0.3 installations."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.cli import main as cli
from medmask.core.image_ref import ImageReference
from medmask.errors import ConcurrentModificationError, MedMaskError

from . import hostile as H

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEFORE_2_2 = "9222e64^"  # the last commit whose medmask wrote and read only 2.0/2.1 (what 0.3 shipped)


def _mask(k=1, **kw):
    arr = np.zeros((4, 8, 8), np.uint8)
    arr[1:3, k:k + 3, 2:5] = 1
    return SegmentationMask(arr, {"a": 1}, H.sample_space((4, 8, 8)), **kw)


def _version(path) -> tuple[int, int]:
    head = open(path, "rb").read(6)
    return head[4], head[5]


def test_edit_applied_again_after_a_concurrent_upgrade_keeps_the_upgrade(tmp_path):
    """The issue's case: a handle opened on a v1 file, another process upgrades it and adds
    metadata and colours; the edit applied again (as the error says) must not write v1."""
    p = str(tmp_path / "a.mska")
    with MaskArchive(p, "w", format_version=1) as w:
        w.add_segmask(_mask(), "first")
    handle = MaskArchive(p, "a")
    assert handle.format_version == 1
    assert cli(["upgrade", "-q", p]) == 0
    with MaskArchive(p, "a") as other:
        other.set_attributes("first", colors={"a": (1, 0, 0, 1)}, metadata={"rater": "x"})
        other.attributes = {"study": "s1"}
    with pytest.raises(ConcurrentModificationError):
        handle.add_segmask(_mask(2), "second")
    assert handle.format_version == 2  # the reload took the file's version as it is now
    handle.add_segmask(_mask(2), "second")
    assert _version(p) == (2, 2)
    r = MaskArchive(p)
    assert r.names == ["first", "second"] and r.attributes == {"study": "s1"}
    info = r.entry_info("first")
    assert info.metadata == {"rater": "x"} and info.colors == {"a": (1.0, 0.0, 0.0, 1.0)}


def test_asked_version_is_kept_across_reloads(tmp_path):
    """format_version given: the handle writes it, also after a reload (lowering is what was asked)."""
    p = str(tmp_path / "a.mska")
    with MaskArchive(p, "w") as w:
        w.add_segmask(_mask(), "first")
    handle = MaskArchive(p, "a", format_version="2.1")
    with MaskArchive(p, "a") as other:
        other.add_segmask(_mask(2), "other")
    with pytest.raises(ConcurrentModificationError):
        handle.add_segmask(_mask(3), "mine")
    handle.add_segmask(_mask(3), "mine")
    assert _version(p) == (2, 1) and MaskArchive(p).names == ["first", "other", "mine"]


@pytest.mark.parametrize("bad", [3, "2.0", "2.3", "two", True, 2.5])
def test_unknown_versions_are_refused(tmp_path, bad):
    with pytest.raises(MedMaskError, match="format_version must be one of"):
        MaskArchive(tmp_path / "a.mska", "w", format_version=bad)
    with pytest.raises(MedMaskError, match="format_version must be one of"):
        save_mask(_mask(), tmp_path / "a.msk", format_version=bad)


@pytest.mark.parametrize("value", ["2.1", 2.1, (2, 1)])
def test_2_1_is_written_on_request_and_reads_back_the_same(tmp_path, value):
    p, q = str(tmp_path / "a.mska"), str(tmp_path / "a.msk")
    m = _mask(colors={"a": (0, 1, 0, 1)}, metadata={"k": [1, 2]})
    with MaskArchive(p, "w", format_version=value) as w:
        w.add_segmask(m, "e1")
        w.add_segmask(_mask(2, metadata={"k": [1, 2]}), "e2")
        w.attributes = {"study": "x"}
    save_mask(m, q, format_version=value)
    assert _version(p) == (2, 1) and _version(q) == (2, 1)
    r = MaskArchive(p)
    assert r.entry_info("e1").metadata == {"k": [1, 2]} and r.attributes == {"study": "x"}
    assert r.load_segmask("e1").same_content(m) and load_mask(q).same_content(m)
    assert cli(["verify", "-q", p, q]) == 0


def _old_tree(tmp_path_factory) -> str:
    """This repository as it was before format 2.2 (git archive), or skip."""
    d = tmp_path_factory.mktemp("medmask_0_3")
    try:
        tar = subprocess.run(["git", "-C", ROOT, "archive", BEFORE_2_2, "medmask"], capture_output=True,
                             check=True, timeout=60).stdout
        subprocess.run(["tar", "-x", "-C", str(d)], input=tar, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git history before format 2.2 not available")
    return str(d)


OLD_READER = """
import json, sys
from medmask import MaskArchive, load_mask
out = {}
for p in sys.argv[1:]:
    try:
        if p.endswith(".msk"):
            m = load_mask(p)
            out[p] = [int(m.data.sum()), m.mapping.to_dict(), m.metadata]
        else:
            a = MaskArchive(p)
            out[p] = [[n, int(a.load_segmask(n).data.sum()), a.entry_info(n).metadata,
                       {k: list(v) for k, v in a.entry_info(n).colors.items()}] for n in a.names]
            out[p].append(a.attributes)
    except Exception as exc:
        out[p] = "ERROR " + str(exc)
print(json.dumps(out))
"""


def test_what_medmask_0_3_reads(tmp_path, tmp_path_factory):
    """A 2.1 file written now reads in medmask as it was before 2.2 (independent of this reader);
    a 2.2 file gives the error docs/format.md tells 0.3 users about."""
    old = _old_tree(tmp_path_factory)
    m = _mask(colors={"a": (0, 1, 0, 1)}, metadata={"k": [1, 2], "rater": "r"})
    files = {}
    for version in ("2.1", "2.2"):
        p = str(tmp_path / f"a{version}.mska")
        with MaskArchive(p, "w", format_version=version) as w:
            w.add_segmask(m, "e1")
            w.add_segmask(_mask(2, metadata={"k": [1, 2]}), "e2")
            w.attributes = {"study": "x"}
        q = str(tmp_path / f"m{version}.msk")
        save_mask(m, q, format_version=version)
        files[version] = (p, q)
    run = subprocess.run([sys.executable, "-c", OLD_READER, *files["2.1"], *files["2.2"]], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, PYTHONPATH=old), cwd=old)
    got = json.loads(run.stdout)
    p, q = files["2.1"]
    assert got[p] == [["e1", 18, {"k": [1, 2], "rater": "r"}, {"a": [0, 1, 0, 1]}],
                      ["e2", 18, {"k": [1, 2]}, {}], {"study": "x"}]
    assert got[q] == [18, {"a": 1}, {"k": [1, 2], "rater": "r"}]
    for path in files["2.2"]:
        assert got[path].startswith("ERROR ") and "index is not valid" in got[path], got[path]


def test_cli_convert_writes_2_1_for_older_installations(tmp_path, capsys):
    """`medmask convert a.mska b.mska --format-version 2.1`: same entries, attributes and scan, read by 0.3."""
    src, dst = str(tmp_path / "a.mska"), str(tmp_path / "sub" / "b.mska")
    scan = H.sample_space((4, 8, 8))
    with MaskArchive(src, "w") as w:
        w.add_segmask(_mask(metadata={"k": 1}), "e1")
        w.attributes = {"study": "x"}
        w.image_reference = ImageReference.from_image(str(tmp_path / "ct.nii.gz"), scan, src)
    assert cli(["convert", src, dst, "--format-version", "2.1", "-q"]) == 0
    assert _version(dst) == (2, 1)
    r = MaskArchive(dst)
    assert r.names == ["e1"] and r.attributes == {"study": "x"} and r.entry_info("e1").metadata == {"k": 1}
    assert r.image_reference.path == "../ct.nii.gz"
    assert cli(["info", dst]) == 0 and "format v2.1" in capsys.readouterr().out
    assert cli(["convert", src, str(tmp_path / "x.seg.nrrd"), "--format-version", "2.1"]) == 1
    assert "applies to .msk/.mska outputs" in capsys.readouterr().err
    assert cli(["convert", src, str(tmp_path / "c.mska")]) == 1  # without a version: nothing to convert


def test_a_newer_index_table_names_the_way_out(tmp_path):
    """A later table version (magic MKT3) is an UnsupportedVersionError pointing at 2.1, not 'invalid JSON'."""
    import zlib

    from medmask.errors import UnsupportedVersionError
    from medmask.format import v2

    p = str(tmp_path / "a.mska")
    with MaskArchive(p, "w") as w:
        w.add_segmask(_mask(), "e1")
    data = open(p, "rb").read()
    h = v2.unpack_header(data, len(data))
    raw = v2.decompress_index(data[h.index_offset:h.index_offset + h.index_length], h)
    blob = H.zstd(b"MKT3" + raw[4:])
    H.write(p, v2.pack_header(h.magic, h.index_offset, len(blob), zlib.crc32(blob), minor=3)
            + data[v2.HEADER_SIZE:h.index_offset] + blob)
    with pytest.raises(UnsupportedVersionError, match="format_version='2.1'") as e:
        MaskArchive(p)
    assert p in str(e.value)
