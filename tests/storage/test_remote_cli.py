"""Every reading command takes a URL as it takes a path: convert, extract, info, verify, stats and
compare, from a server with Range support, from python's http.server (no Range) and from S3 (moto).
Each answer is checked against the same command run on the local file."""
from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
import pytest

from medmask import MaskArchive, save_mask
from medmask.cli import main

from .remote_servers import MotoS3Server, RangeHTTPServer, RangeIgnoringHTTPServer, SilentServer

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")


@pytest.fixture
def served(tmp_path, masks):
    folder = tmp_path / "www"
    (folder / "sub").mkdir(parents=True)
    with MaskArchive(folder / "case1.mska", "w", space=masks["liver"].space) as a:
        a.add_segmasks(masks)
    with MaskArchive(folder / "sub" / "case2.mska", "w", space=masks["liver"].space) as a:
        a.add_segmasks({k: masks[k] for k in ("liver", "tumor")})
    save_mask(masks["ribs"], folder / "ribs.msk")
    return folder


@pytest.fixture(params=["range", "no-range"])
def http(request, served):
    """The served folder over HTTP, by a server that honours Range and by one that does not."""
    server = RangeHTTPServer({f"/{p.relative_to(served).as_posix()}": p.read_bytes()
                              for p in served.rglob("*") if p.is_file()}) if request.param == "range" \
        else RangeIgnoringHTTPServer(served)
    with server:
        yield server


def _nifti(path):
    nib = pytest.importorskip("nibabel")
    img = nib.load(str(path))
    return np.asarray(img.dataobj), img.affine


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_convert_url_to_nifti_folder_and_seg_nrrd(http, served, tmp_path, capsys):
    url = f"{http.url}/case1.mska"
    for suffix in ("nifti", "seg.nrrd"):
        by_url, local = tmp_path / f"url.{suffix}", tmp_path / f"local.{suffix}"
        if suffix == "nifti":
            by_url, local = tmp_path / "url_nifti", tmp_path / "local_nifti"
        code, _, err = _run(["convert", url, str(by_url), "-q"], capsys)
        assert code == 0, err
        assert "truncated" not in err
        assert _run(["convert", str(served / "case1.mska"), str(local), "-q"], capsys)[0] == 0
        if suffix == "nifti":
            names = sorted(p.name for p in local.iterdir())
            assert sorted(p.name for p in by_url.iterdir()) == names and len(names) == 5
            for name in names:
                (a, aff_a), (b, aff_b) = _nifti(by_url / name), _nifti(local / name)
                assert np.array_equal(a, b) and np.array_equal(aff_a, aff_b), name
        else:
            nrrd = pytest.importorskip("nrrd")
            (a, ha), (b, hb) = nrrd.read(str(by_url)), nrrd.read(str(local))
            assert np.array_equal(a, b) and np.array_equal(ha["space directions"], hb["space directions"], equal_nan=True)


def test_convert_msk_url_to_nifti(http, served, tmp_path, capsys):
    code, _, err = _run(["convert", f"{http.url}/ribs.msk", str(tmp_path / "ribs.nii.gz"), "-q"], capsys)
    assert code == 0, err
    assert _run(["convert", str(served / "ribs.msk"), str(tmp_path / "local.nii.gz"), "-q"], capsys)[0] == 0
    (a, aff_a), (b, aff_b) = _nifti(tmp_path / "ribs.nii.gz"), _nifti(tmp_path / "local.nii.gz")
    assert np.array_equal(a, b) and np.array_equal(aff_a, aff_b) and set(np.unique(a)) == {0, 300, 301, 302, 303, 304}


def test_extract_by_url(http, served, masks, tmp_path, capsys):
    out = tmp_path / "liver.nii.gz"
    code, _, err = _run(["extract", f"{http.url}/case1.mska", "liver", "-o", str(out), "-q"], capsys)
    assert code == 0, err
    data, _ = _nifti(out)
    assert np.array_equal(data.transpose(2, 1, 0) > 0, masks["liver"].data > 0)
    sub = tmp_path / "organs.mska"
    assert _run(["extract", f"{http.url}/case1.mska", "tum*", "ribs", "-o", str(sub), "-q"], capsys)[0] == 0
    with MaskArchive(sub) as a:
        assert a.names == ["tumor", "ribs"] and a.load_segmask("ribs").same_content(masks["ribs"])


def test_info_verify_by_url_say_range_is_ignored_once(served, capsys):
    with RangeIgnoringHTTPServer(served) as server:
        url = f"{server.url}/case1.mska"
        code, out, err = _run(["info", url], capsys)
        assert code == 0, err
        assert out.startswith(f"{url}: medmask archive") and "5 entries" in out.splitlines()[0]
        infos = [line for line in err.splitlines() if line.startswith("medmask: info:")]
        assert len(infos) == 1 and "server ignores Range requests" in infos[0], err
        code, out, err = _run(["verify", url], capsys)
        assert code == 0 and out.startswith(f"OK    {url}"), (out, err)
        log = list(server.log)
    assert len(log) == 2, log  # one whole-file GET per command


def test_stats_by_url_equals_stats_of_local_files(http, served, capsys):
    code, out, err = _run(["stats", f"{http.url}/case1.mska", "--centroid"], capsys)
    assert code == 0, err
    code, local, _ = _run(["stats", str(served / "case1.mska"), "--centroid"], capsys)
    assert code == 0 and out == local and len(out.splitlines()) > 5


def test_stats_http_glob_reads_the_folder_listing(served, capsys):
    """python's http.server lists folders: a glob over it finds the archives (not the .msk: *.mska)."""
    with RangeIgnoringHTTPServer(served) as server:
        code, out, err = _run(["stats", f"{server.url}/*.mska", "--nonempty"], capsys)
    assert code == 0, err
    cases = {r["case"] for r in csv.DictReader(io.StringIO(out))}
    assert cases == {"case1"}


def test_compare_url_with_local_file(http, served, capsys):
    code, out, err = _run(["compare", f"{http.url}/case1.mska", str(served / "case1.mska"), "--format", "json"],
                          capsys)
    assert code == 0, err
    rows = json.loads(out)
    ok = [r for r in rows if r["status"] == "ok"]
    assert ok and all(r["dice"] == 1.0 and r["hd95_mm"] == 0.0 for r in ok)


def test_url_errors_are_one_line_naming_the_url(served, tmp_path, capsys):
    with SilentServer() as server:
        url = f"{server.url}/case1.mska"
        for args in (["info", url], ["convert", url, str(tmp_path / "out.seg.nrrd")],
                     ["extract", url, "liver", "-o", str(tmp_path / "l.mska")], ["stats", url],
                     ["compare", url, str(served / "case1.mska")]):
            start = time.perf_counter()
            code, out, err = _run([*args, "--storage-options", '{"read_timeout": 0.3}'], capsys)
            assert time.perf_counter() - start < 5, args
            assert code == 1, (args, err)
            lines = err.strip().splitlines()
            assert lines[-1].startswith(f"medmask: error: {url}: server sent nothing for 0.3 s"), (args, err)
    code, out, err = _run(["verify", url, "--storage-options", '{"read_timeout": 0.3}'], capsys)
    assert code == 1 and url in out  # verify lists each file's failure on stdout


def test_url_of_a_format_read_locally_and_remote_outputs_are_refused(capsys, tmp_path):
    code, _, err = _run(["convert", "https://example.org/ct_seg.nii.gz", str(tmp_path / "x.mska")], capsys)
    assert code == 1 and "download it first" in err and "https://example.org/ct_seg.nii.gz" in err
    code, _, err = _run(["convert", str(tmp_path), "s3://bucket/out.mska"], capsys)
    assert code == 1 and "writing remote files is not supported" in err
    code, _, err = _run(["batch", "s3://bucket/dataset", str(tmp_path / "out")], capsys)
    assert code == 1 and "local dataset folder" in err
    assert not (tmp_path / "out").exists()


def test_storage_options_must_be_a_json_object(capsys):
    code, _, err = _run(["info", "s3://b/x.mska", "--storage-options", "anon"], capsys)
    assert code == 2 and "not JSON" in err
    code, _, err = _run(["info", "s3://b/x.mska", "--storage-options", "[1]"], capsys)
    assert code == 2 and "JSON object" in err


# s3:// (moto) ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_s3_glob_stats_convert_compare(served, tmp_path, capsys):
    pytest.importorskip("s3fs")
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    with MotoS3Server() as s3:
        client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket="cases")
        for p in served.rglob("*"):
            if p.is_file():
                client.put_object(Bucket="cases", Key=f"run/{p.relative_to(served).as_posix()}", Body=p.read_bytes())
        opts = ["--storage-options", json.dumps(s3.storage_options())]
        code, out, err = _run(["stats", "s3://cases/run/*.mska", *opts], capsys)
        assert code == 0, err
        assert _run(["stats", str(served / "case1.mska")], capsys)[1] == out
        code, out, err = _run(["stats", "s3://cases/run/", "--nonempty", *opts], capsys)  # a folder: recursive
        assert code == 0, err
        assert {r["case"] for r in csv.DictReader(io.StringIO(out))} == {"case1", "sub/case2", "ribs"}
        code, _, err = _run(["convert", "s3://cases/run/case1.mska", str(tmp_path / "c.seg.nrrd"), "-q", *opts],
                            capsys)
        assert code == 0, err
        code, out, err = _run(["compare", "s3://cases/run/", str(served), "--no-surface", *opts], capsys)
        assert code == 0, err
        rows = list(csv.DictReader(io.StringIO(out)))
        assert {r["case"] for r in rows} == {"case1", "sub/case2", "ribs"}
        assert all(r["dice"] in ("1.0", "") for r in rows)
        code, _, err = _run(["stats", "s3://cases/none/*.mska", *opts], capsys)
        assert code == 1 and "matches no .mska or .msk files" in err


def test_stats_scan_by_url_is_refused_clearly(served, capsys):
    code, _, err = _run(["stats", str(served / "case1.mska"), "--image", "https://example.org/ct.nii.gz"], capsys)
    assert code == 1 and "scans are read from local files only" in err and "https://example.org/ct.nii.gz" in err
