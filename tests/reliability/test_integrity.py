"""Every single-byte change to an entry's stored bytes is detected on read (exhaustive on a small archive)."""
import pytest

from medmask import ChecksumError, MaskArchive

from . import hostile as H


@pytest.mark.slow
def test_every_payload_byte_change_is_detected(tmp_path):
    path = str(tmp_path / "small.mska")
    with MaskArchive(path, "w") as a:
        for name, m in H.sample_masks(shape=(10, 12, 14)).items():
            a.add_segmask(m, name)
    data = open(path, "rb").read()
    infos = {n: MaskArchive(path).entry_info(n) for n in MaskArchive(path).names}
    damaged = str(tmp_path / "damaged.mska")
    checked = 0
    for name, info in infos.items():
        others = [n for n in infos if n != name]
        for pos in range(info.offset, info.offset + info.length):
            for x in H.XORS:
                buf = bytearray(data)
                buf[pos] ^= x
                H.write(damaged, bytes(buf))
                a = MaskArchive(damaged)  # the index is intact: opening and listing still work
                with pytest.raises(ChecksumError) as exc:
                    a.load_segmask(name)
                assert damaged in str(exc.value) and repr(name) in str(exc.value)
                with pytest.raises(ChecksumError):
                    a.verify()
                checked += 1
                if pos == info.offset:  # the other entries stay readable and intact
                    for other in others:
                        a.load_segmask(other)
    assert checked == 3 * sum(i.length for i in infos.values()) > 1500
    print(f"{checked} single-byte payload changes, all detected")
