"""`medmask verify` goes on after a bad file, says v1 cannot be verified, --deep finds forged counts
and boxes; `medmask upgrade` rewrites v1 as v2 with the same content (issue 12, items 2, 6, 7)."""
import os
import shutil

import pytest

from medmask import MaskArchive, limits
from medmask.cli import main

from . import hostile as H


def test_verify_reports_each_file_and_goes_on(tmp_path, capsys, monkeypatch):
    good = H.make_samples(str(tmp_path))
    bomb_name, bomb, ext, _ = next(H.payload_bombs())
    bomb_path = H.write(str(tmp_path / f"bomb.{ext}"), bomb)
    forged = H.write(str(tmp_path / "forged.mska"),
                     H.craft_v2(H.entry_doc(H.zstd(bytes([1] * 64)), codec={"id": "zstd"}, counts={"1": 60}),
                                H.zstd(bytes([1] * 64))))
    monkeypatch.setattr(limits, "MEMORY_BUDGET", 256 << 20)
    files = [bomb_path, good["v2.mska"], good["v1.mska"], forged, good["v2.msk"]]
    assert main(["verify", *files]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"FAIL  {bomb_path}: ") and "memory budget" in out[0]
    assert out[1].startswith(f"OK    {good['v2.mska']}")
    assert out[2].startswith(f"V1    {good['v1.mska']}") and "cannot be detected" in out[2]
    assert out[3].startswith(f"OK    {forged}")  # without --deep the stored counts are trusted
    assert out[4].startswith(f"OK    {good['v2.msk']}")
    assert out[5] == "4 of 5 files OK, 1 of format v1 (cannot be verified)"
    assert main(["verify", "--deep", forged, good["v2.mska"]]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"FAIL  {forged}") and "counts" in out[0]
    assert out[1].startswith(f"OK    {good['v2.mska']}") and "bounding boxes match" in out[1]


def test_upgrade_rewrites_v1_as_v2_with_the_same_content(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    files = H.make_samples(str(tmp_path / "s"))
    targets = [files["v1.mska"], files["v1.msk"], files["v2.mska"]]
    for p in H.compat_files():
        targets.append(shutil.copy(p, tmp_path / p.rsplit("/", 1)[1]))
        os.chmod(targets[-1], 0o644)  # the shared compat files are read-only
    before = {p: H.outcome(str(p)) for p in targets}
    assert main(["upgrade", *map(str, targets)]) == 0
    out = capsys.readouterr().out
    assert "SKIP" in out and out.count("format v1 -> v2") == len(targets) - 1
    for p in targets:
        assert H.outcome(str(p)) == before[p], p  # same names, labels, geometry, voxels
        assert open(p, "rb").read()[4] == 2  # now format version 2
    assert main(["verify", "--deep", *map(str, targets)]) == 0


def test_upgrade_of_a_damaged_v1_file_fails_and_leaves_it(tmp_path, capsys):
    p = H.make_samples(str(tmp_path))["v1.mska"]
    data = bytearray(open(p, "rb").read())
    data[-5] ^= 0xFF
    H.write(p, bytes(data))
    assert main(["upgrade", p]) == 1
    assert capsys.readouterr().out.startswith(f"FAIL  {p}")
    assert open(p, "rb").read() == bytes(data)


def test_upgrade_rewrites_2_0_and_2_1_files_with_the_2_2_index(tmp_path, capsys):
    from pathlib import Path
    from medmask import MaskArchive
    golden = Path(__file__).resolve().parents[1] / "data"
    targets = [str(shutil.copy(golden / n, tmp_path / n)) for n in
               ("golden_v2_archive.mska", "golden_v2_1_archive.mska", "golden_v2_mask.msk", "golden_v2_1_mask.msk")]
    before = {p: H.outcome(str(p)) for p in targets}
    payloads = {p: {n: MaskArchive(p).raw_payload(n) for n in MaskArchive(p)} for p in targets if p.endswith(".mska")}
    assert main(["upgrade", *map(str, targets)]) == 0
    out = capsys.readouterr().out
    assert "format v2.0 -> v2.2" in out and "format v2.1 -> v2.2" in out and "index rewritten" in out
    for p in targets:
        assert open(p, "rb").read()[4:6] == bytes([2, 2]) and H.outcome(str(p)) == before[p], p
    for p, stored in payloads.items():  # archives keep every payload byte for byte
        assert {n: MaskArchive(p).raw_payload(n) for n in MaskArchive(p)} == stored
    assert main(["upgrade", *map(str, targets)]) == 0
    assert capsys.readouterr().out.count("SKIP") == 4
