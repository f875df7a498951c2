"""``medmask info``, ``medmask verify`` and ``medmask upgrade``: look into (and upgrade) .msk / .mska files."""
from __future__ import annotations

import argparse
import json

from ._common import add_storage_options_flag, human
from ._errors import error_text


def _fmt_vec(v, digits: int = 4) -> str:
    return "(" + ", ".join(f"{float(x):.{digits}g}" for x in v) + ")"


def _codec_name(codec) -> str:
    if codec is None:
        return "empty"
    if isinstance(codec, dict):
        return str(codec.get("id") or codec.get("name") or codec)
    return str(codec)


def _info_dict(path: str, storage_options: dict | None = None) -> dict:
    from ..core.geometry import space_to_dict
    from ..errors import FormatError, LimitError
    from ..storage.reader import ContainerReader

    reader = ContainerReader(path, storage_options)
    try:
        entries = []
        for name in reader.names:
            try:
                info = reader.info(name)
            except LimitError:  # the file as a whole costs too much: no use trying the other rows
                raise
            except FormatError as exc:  # one damaged record: list the others, name this one's problem
                entries.append({"name": name, "error": exc.problem})
                continue
            entries.append({
                "name": name, "dtype": info.dtype, "labels": dict(info.mapping),
                "voxels": {str(k): int(v) for k, v in (info.counts or {}).items()},
                "bbox": [list(p) for p in info.bbox] if info.bbox else None,
                "codec": _codec_name(info.codec) if info.bbox else "empty", "stored_bytes": int(info.stored_bytes),
                "metadata_keys": sorted(info.metadata) if info.metadata else [],
            })
        return {"path": path, "kind": reader.kind, "format_version": reader.version,
                "format": f"{reader.version}.{reader.minor}" if reader.version >= 2 else str(reader.version),
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
    from ..storage.bytesource import is_url

    if is_url(path):  # the scan lies next to the remote archive: not fetched to be checked
        return {**ref.to_json(), "resolved": None, "ok": False,
                "problem": "not checked: the archive is remote (the scan's path is relative to its URL)"}
    check = check_image(ref, path)
    return {**ref.to_json(), "resolved": str(check.path), "ok": check.ok, "problem": check.problem}


def cmd_info(args) -> int:
    status = False  # any entry whose index record is damaged: exit status 1
    for n, path in enumerate(args.files):
        d = _info_dict(path, args.storage_options)
        if args.json:
            print(json.dumps(d, indent=1))
            status = status or any("error" in e for e in d["entries"])
            continue
        if n:
            print()
        sp = d["space"]
        kind = "archive" if d["kind"] == "archive" else "single mask"
        print(f"{path}: medmask {kind}, format v{d['format']}, {len(d['entries'])} "
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
        damaged = [e for e in d["entries"] if "error" in e]
        for e in d["entries"]:
            if "error" in e:
                rows.append((e["name"], "DAMAGED (see below)", "?", "?", "?", "?"))
                continue
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
        total = sum(e.get("stored_bytes", 0) for e in d["entries"])
        print(f"  {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, {human(total)} of entry data "
              f"in {human(d['file_bytes'])}")
        for e in damaged:
            print(f"  DAMAGED index record: {e['error']} (open the file with mode 'a' to remove or replace it)")
        status = status or bool(damaged)
    return 1 if status else 0


def cmd_verify(args) -> int:
    from ..storage.verify import verify_file

    bad = old = 0
    for path in args.files:
        try:
            result = verify_file(path, deep=args.deep, storage_options=args.storage_options)
        except MemoryError:  # the budget should prevent it; a verify run must go on anyway
            bad += 1
            print(f"FAIL  {path}: out of memory")
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the check of the others
            bad += 1
            text = error_text(exc)
            print(f"FAIL  {text if path in text else f'{path}: {type(exc).__name__}: {text}'}")
            continue
        n = len(result.entries)
        entries = f"{n} entr{'y' if n == 1 else 'ies'}"
        if result.damaged:
            entries = f"{n} entr{'y' if n == 1 else 'ies'} read, {len(result.damaged)} damaged"
        if result.problems:
            bad += 1
            print(f"FAIL  {path} ({entries}): " + "; ".join(result.problems))
        elif result.note:
            old += 1
            if not args.quiet:
                print(f"V1    {path} ({entries} decode; {result.note})")
        elif not args.quiet:
            deep = ", voxel counts and bounding boxes match" if args.deep else ""
            print(f"OK    {path} ({entries}, checksums match{deep})")
    if len(args.files) > 1 and not args.quiet:
        unverified = f", {old} of format v1 (cannot be verified)" if old else ""
        print(f"{len(args.files) - bad} of {len(args.files)} files OK{unverified}")
    return 1 if bad else 0


def cmd_upgrade(args) -> int:
    """Rewrite older files in the current format, atomically, in place: v1 as v2 (checksums,
    colours, metadata); v2.0/v2.1 with the 2.2 index (payloads copied as stored)."""
    from ..errors import MedMaskError
    from ..format import v2
    from ..storage.archive import MaskArchive
    from ..errors import ConcurrentModificationError
    from ..storage.maskfile import rewrite_mask
    from ..storage.verify import verify_file

    bad = 0
    for path in args.files:
        try:
            before = verify_file(path)  # every v1 invariant and every entry decodes
            if (before.version, before.minor) >= v2.VERSION:
                if not args.quiet:
                    print(f"SKIP  {path} (already format v{before.format})")
                continue
            if before.kind == "mask":
                for attempt in range(3):  # a file changed meanwhile is read again (its new content upgraded)
                    try:
                        rewrite_mask(path, format_version=2)
                        break
                    except ConcurrentModificationError:
                        if attempt == 2:
                            raise
            else:
                with MaskArchive(path, "a", format_version=2) as archive:
                    archive.rewrite()  # entry by entry: one decoded volume in memory at a time
            after = verify_file(path)
            if not args.quiet:
                what = "checksums written" if before.version == 1 else "index rewritten"
                print(f"OK    {path} (format v{before.format} -> v{after.format}, {len(after.entries)} entries, {what})")
        except (MedMaskError, OSError, MemoryError) as exc:
            bad += 1
            print(f"FAIL  {error_text(exc) if not isinstance(exc, MemoryError) else f'{path}: out of memory'}")
    return 1 if bad else 0


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    i = sub.add_parser("info", formatter_class=fmt, help="show entries, labels, voxel counts, geometry, sizes",
                       epilog="examples:\n  medmask info s0000.mska\n  medmask info --json liver.msk\n")
    i.add_argument("files", metavar="FILE", nargs="+")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    add_storage_options_flag(i)
    i.set_defaults(func=cmd_info)

    v = sub.add_parser("verify", formatter_class=fmt, help="check the checksums of .msk/.mska files",
                       epilog="examples:\n  medmask verify s0000.mska\n  medmask verify archives/*.mska\n\n"
                              "exit status: 0 all files intact, 1 some file damaged or unreadable")
    v.add_argument("files", metavar="FILE", nargs="+")
    v.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    v.add_argument("--deep", action="store_true",
                   help="also recount every entry's voxels and check its bounding box is tight "
                        "(catches forged files whose checksums were recomputed)")
    add_storage_options_flag(v)
    v.set_defaults(func=cmd_verify)

    u = sub.add_parser("upgrade", formatter_class=fmt, help="rewrite older files in the current format (v1 -> v2 with checksums; "
                            "v2.0/2.1 -> v2.2 index)",
                       epilog="examples:\n  medmask upgrade old/*.mska old/*.msk\n\n"
                              "Each file is checked, rewritten atomically in place and verified; files already "
                              "in format 2.2 are skipped.\nexit status: 0 all upgraded or already current, "
                              "1 some file failed")
    u.add_argument("files", metavar="FILE", nargs="+")
    u.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    u.set_defaults(func=cmd_upgrade)
