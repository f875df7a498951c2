"""``medmask info`` and ``medmask verify``: look into .msk / .mska files."""
from __future__ import annotations

import argparse
import json

from ._common import human
from ._errors import error_text


def _fmt_vec(v, digits: int = 4) -> str:
    return "(" + ", ".join(f"{float(x):.{digits}g}" for x in v) + ")"


def _codec_name(codec) -> str:
    if codec is None:
        return "empty"
    if isinstance(codec, dict):
        return str(codec.get("id") or codec.get("name") or codec)
    return str(codec)


def _info_dict(path: str) -> dict:
    from ..core.geometry import space_to_dict
    from ..storage.reader import ContainerReader

    reader = ContainerReader(path)
    try:
        entries = []
        for name in reader.names:
            info = reader.info(name)
            entries.append({
                "name": name, "dtype": info.dtype, "labels": dict(info.mapping),
                "voxels": {str(k): int(v) for k, v in (info.counts or {}).items()},
                "bbox": [list(p) for p in info.bbox] if info.bbox else None,
                "codec": _codec_name(info.codec) if info.bbox else "empty", "stored_bytes": int(info.stored_bytes),
                "metadata_keys": sorted(info.metadata) if info.metadata else [],
            })
        return {"path": path, "kind": reader.kind, "format_version": reader.version,
                "file_bytes": int(reader.file_size), "space": space_to_dict(reader.space),
                "image": _image_dict(reader.image, path), "attributes": dict(reader.attributes),
                "entries": entries}
    finally:
        reader.close()


def _image_dict(ref, path: str) -> dict | None:
    """The recorded scan, where it resolves to and whether it is there with the recorded grid."""
    if ref is None:
        return None
    from ..convert.image_link import check_image

    check = check_image(ref, path)
    return {**ref.to_json(), "resolved": str(check.path), "ok": check.ok, "problem": check.problem}


def cmd_info(args) -> int:
    for n, path in enumerate(args.files):
        d = _info_dict(path)
        if args.json:
            print(json.dumps(d, indent=1))
            continue
        if n:
            print()
        sp = d["space"]
        kind = "archive" if d["kind"] == "archive" else "single mask"
        print(f"{path}: medmask {kind}, format v{d['format_version']}, {len(d['entries'])} "
              f"entr{'y' if len(d['entries']) == 1 else 'ies'}, {human(d['file_bytes'])}")
        print(f"  shape (z, y, x)   {' x '.join(str(v) for v in sp['shape'])}")
        print(f"  spacing (mm)      {_fmt_vec(sp['spacing'])}")
        print(f"  origin (LPS mm)   {_fmt_vec(sp['origin'], 7)}")
        print(f"  axis directions   {_fmt_vec(sp['x_orientation'])} {_fmt_vec(sp['y_orientation'])} "
              f"{_fmt_vec(sp['z_orientation'])}")
        image = d.get("image")
        if image is not None:
            state = "found, grid matches" if image["ok"] else image["problem"]
            print(f"  scan              {image['path']}  ({state})")
        if d.get("attributes"):
            text = json.dumps(d["attributes"], ensure_ascii=False)
            print(f"  attributes        {text if len(text) <= 100 else text[:97] + '...'}")
        rows = []
        for e in d["entries"]:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(e["labels"].items(), key=lambda kv: kv[1]))
            voxels = sum(e["voxels"].values())
            rows.append((e["name"], labels if len(labels) <= 40 else labels[:37] + "...", f"{voxels}",
                         e["dtype"], e["codec"], human(e["stored_bytes"])))
        head = ("entry", "labels", "voxels", "dtype", "codec", "stored")
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        print("  " + "  ".join(h.ljust(w) if i < 2 else h.rjust(w) if i == 2 else h.ljust(w)
                               for i, (h, w) in enumerate(zip(head, widths))).rstrip())
        for r in rows:
            print("  " + "  ".join(str(c).ljust(w) if i != 2 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        total = sum(e["stored_bytes"] for e in d["entries"])
        print(f"  {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, {human(total)} of entry data "
              f"in {human(d['file_bytes'])}")
    return 0


def cmd_verify(args) -> int:
    from ..storage.reader import ContainerReader
    from ..errors import MedMaskError

    bad = 0
    for path in args.files:
        try:
            reader = ContainerReader(path)
            try:
                for name in reader.names:
                    reader.verify(name)
                n = len(reader.names)
                how = "checksums match" if reader.version >= 2 else "decodes; format v1 has no checksums"
            finally:
                reader.close()
            if not args.quiet:
                print(f"OK    {path} ({n} entr{'y' if n == 1 else 'ies'}, {how})")
        except (MedMaskError, OSError) as exc:
            bad += 1
            print(f"FAIL  {error_text(exc)}")
    if len(args.files) > 1 and not args.quiet:
        print(f"{len(args.files) - bad} of {len(args.files)} files OK")
    return 1 if bad else 0


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    i = sub.add_parser("info", formatter_class=fmt, help="show entries, labels, voxel counts, geometry, sizes",
                       epilog="examples:\n  medmask info s0000.mska\n  medmask info --json liver.msk\n")
    i.add_argument("files", metavar="FILE", nargs="+")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)

    v = sub.add_parser("verify", formatter_class=fmt, help="check the checksums of .msk/.mska files",
                       epilog="examples:\n  medmask verify s0000.mska\n  medmask verify archives/*.mska\n\n"
                              "exit status: 0 all files intact, 1 some file damaged or unreadable")
    v.add_argument("files", metavar="FILE", nargs="+")
    v.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    v.set_defaults(func=cmd_verify)
