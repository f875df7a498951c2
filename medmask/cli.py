"""The ``medmask`` command: convert, inspect, extract, verify and batch-convert mask files."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

PROG = "medmask"

EPILOG = """\
examples:
  medmask convert s0000/segmentations s0000.mska      # TotalSegmentator folder -> one archive
  medmask convert s0000.mska s0000_nifti/             # ... and back to a folder of .nii.gz
  medmask convert s0000.mska s0000.seg.nrrd           # -> 3D Slicer segmentation
  medmask convert seg.seg.nrrd seg.mska               # Slicer -> archive (one entry per segment)
  medmask convert ml.nii.gz ml.msk --labels total     # TotalSegmentator --ml output -> .msk
  medmask info s0000.mska
  medmask extract s0000.mska liver spleen -o organs.seg.nrrd
  medmask verify data/*.mska
  medmask batch Totalsegmentator_dataset/ archives/ -j 2
  medmask stats archives/ -o volumes.csv
  medmask compare model_v1/ model_v2/ -o agreement.csv --plot agreement.png
"""


class UsageError(Exception):
    """A mistake on the command line that argparse cannot see (exit code 2)."""


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _progress_enabled(args) -> bool:
    if getattr(args, "progress", None) is not None:
        return bool(args.progress)
    return sys.stderr.isatty()


# ------------------------------------------------------------------------------------------
# commands


def cmd_convert(args) -> int:
    from .convert import convert

    labels = args.labels
    dst = convert(args.src, args.dst, labels=labels, progress=_progress_enabled(args), overwrite=not args.no_overwrite,
                  overlap=args.overlap)
    if not args.quiet:
        size = sum(p.stat().st_size for p in Path(dst).rglob("*") if p.is_file()) if Path(dst).is_dir() \
            else Path(dst).stat().st_size
        print(f"wrote {dst} ({_human(size)})")
    return 0


def _fmt_vec(v, digits: int = 4) -> str:
    return "(" + ", ".join(f"{float(x):.{digits}g}" for x in v) + ")"


def _codec_name(codec) -> str:
    if codec is None:
        return "empty"
    if isinstance(codec, dict):
        return str(codec.get("id") or codec.get("name") or codec)
    return str(codec)


def _info_dict(path: str) -> dict:
    from .core.geometry import space_to_dict
    from .storage.reader import ContainerReader

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
                "file_bytes": int(reader.file_size), "space": space_to_dict(reader.space), "entries": entries}
    finally:
        reader.close()


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
              f"entr{'y' if len(d['entries']) == 1 else 'ies'}, {_human(d['file_bytes'])}")
        print(f"  shape (z, y, x)   {' x '.join(str(v) for v in sp['shape'])}")
        print(f"  spacing (mm)      {_fmt_vec(sp['spacing'])}")
        print(f"  origin (LPS mm)   {_fmt_vec(sp['origin'], 7)}")
        print(f"  axis directions   {_fmt_vec(sp['x_orientation'])} {_fmt_vec(sp['y_orientation'])} "
              f"{_fmt_vec(sp['z_orientation'])}")
        rows = []
        for e in d["entries"]:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(e["labels"].items(), key=lambda kv: kv[1]))
            voxels = sum(e["voxels"].values())
            rows.append((e["name"], labels if len(labels) <= 40 else labels[:37] + "...", f"{voxels}",
                         e["dtype"], e["codec"], _human(e["stored_bytes"])))
        head = ("entry", "labels", "voxels", "dtype", "codec", "stored")
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        print("  " + "  ".join(h.ljust(w) if i < 2 else h.rjust(w) if i == 2 else h.ljust(w)
                               for i, (h, w) in enumerate(zip(head, widths))).rstrip())
        for r in rows:
            print("  " + "  ".join(str(c).ljust(w) if i != 2 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        total = sum(e["stored_bytes"] for e in d["entries"])
        print(f"  {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, {_human(total)} of entry data "
              f"in {_human(d['file_bytes'])}")
    return 0


def cmd_extract(args) -> int:
    from . import MaskArchive
    from .storage.reader import preview_names
    from .convert.api import path_kind, write_items
    from .errors import ConversionError

    if not str(args.archive).lower().endswith(".mska"):
        raise UsageError(f"{args.archive}: extract reads a .mska archive")
    kind = path_kind(args.output, output=True)
    if os.path.exists(args.output) and os.path.realpath(args.output) == os.path.realpath(args.archive):
        raise ConversionError("source and destination are the same file; extract to a new path", args.archive)
    with MaskArchive(args.archive, mode="r") as archive:
        missing = [n for n in args.names if n not in archive]
        if missing:
            raise ConversionError(f"no entr{'y' if len(missing) == 1 else 'ies'} named {', '.join(map(repr, missing))}; "
                                  f"entries: {preview_names(archive.all_names())}", args.archive)
        items = [(n, archive.load_segmask(n)) for n in args.names]
        space = archive.space
    if kind in ("msk", "nifti") and len(items) == 1:
        items = [(None, items[0][1])]
    write_items(items, space, args.output, default_name=args.names[0], labels=args.labels, overlap=args.overlap,
                progress=_progress_enabled(args), source=args.archive)
    if not args.quiet:
        print(f"wrote {args.output} ({len(items)} entr{'y' if len(items) == 1 else 'ies'})")
    return 0


def cmd_verify(args) -> int:
    from .storage.reader import ContainerReader
    from .errors import MedMaskError

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
            print(f"FAIL  {_error_text(exc)}")
    if len(args.files) > 1 and not args.quiet:
        print(f"{len(args.files) - bad} of {len(args.files)} files OK")
    return 1 if bad else 0


def cmd_batch(args) -> int:
    from .batch import convert_dataset, format_summary

    executor = None
    client = None
    try:
        if args.dask:
            try:
                from distributed import Client
            except ImportError:
                raise UsageError("--dask needs the 'distributed' package (pip install 'dask[distributed]')") from None
            client = Client(args.dask)
            executor = client.get_executor()
        elif args.workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            executor = ProcessPoolExecutor(args.workers)
        summary = convert_dataset(args.src_root, args.dst_root, executor, overwrite=args.overwrite,
                                  progress=_progress_enabled(args))
    finally:
        if executor is not None and client is None:
            executor.shutdown()
        if client is not None:
            client.close()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=1))
    else:
        print(format_summary(summary))
    return 0 if summary.ok else 1


# ------------------------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog=PROG, formatter_class=fmt, epilog=EPILOG,
                                description="Compact, checksummed medical segmentation masks (.msk / .mska): "
                                            "convert from and to NIfTI and 3D Slicer, inspect, verify.")
    from . import __version__

    p.add_argument("--version", action="version", version=f"medmask {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def progress_flags(sp):
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--progress", dest="progress", action="store_true", default=None,
                       help="show progress bars (default: when stderr is a terminal)")
        g.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")

    c = sub.add_parser("convert", formatter_class=fmt, help="convert between NIfTI, .seg.nrrd, .msk and .mska",
                       description="Convert SRC to DST; the formats come from the names: a folder of .nii.gz "
                                   "(an existing folder, or a DST without extension), .nii/.nii.gz, .seg.nrrd, "
                                   ".msk, .mska.",
                       epilog="examples:\n"
                              "  medmask convert s0000/segmentations s0000.mska\n"
                              "  medmask convert s0000.mska out_folder/\n"
                              "  medmask convert s0000.mska s0000.seg.nrrd\n"
                              "  medmask convert ml.nii.gz ml.msk --labels total\n"
                              "  medmask convert ml.nii.gz ml.msk --labels names.json   # {\"1\": \"liver\", ...}\n"
                              "  medmask convert s0000.mska ml.nii.gz --labels total --overlap keep\n")
    c.add_argument("src", metavar="SRC")
    c.add_argument("dst", metavar="DST")
    c.add_argument("--labels", metavar="SPEC",
                   help="label names: 'total' / 'total_v1' (TotalSegmentator class maps), or a .json "
                        "{label: name}, .csv (label,name) or .txt (one name per line) file. For a NIfTI "
                        "source it names its labels; when many masks become one label map it sets their values")
    c.add_argument("--overlap", choices=("raise", "keep", "overwrite"), default="raise",
                   help="when masks are merged into one label map: what to do with voxels two masks claim "
                        "(default: raise an error)")
    c.add_argument("--no-overwrite", action="store_true", help="refuse to replace an existing DST file")
    c.add_argument("-q", "--quiet", action="store_true")
    progress_flags(c)
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("info", formatter_class=fmt, help="show entries, labels, voxel counts, geometry, sizes",
                       epilog="examples:\n  medmask info s0000.mska\n  medmask info --json liver.msk\n")
    i.add_argument("files", metavar="FILE", nargs="+")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)

    e = sub.add_parser("extract", formatter_class=fmt, help="copy some entries of an archive to a new file",
                       description="Write the named entries of ARCHIVE to OUT (.mska, .seg.nrrd, a folder of "
                                   ".nii.gz, or - merged into one label map - .msk / .nii.gz).",
                       epilog="examples:\n"
                              "  medmask extract s0000.mska liver spleen -o organs.mska\n"
                              "  medmask extract s0000.mska liver -o liver.nii.gz\n"
                              "  medmask extract s0000.mska liver spleen -o organs.seg.nrrd\n")
    e.add_argument("archive", metavar="ARCHIVE")
    e.add_argument("names", metavar="NAME", nargs="+")
    e.add_argument("-o", "--output", metavar="OUT", required=True)
    e.add_argument("--labels", metavar="SPEC", help="label values when merging into one label map (see convert)")
    e.add_argument("--overlap", choices=("raise", "keep", "overwrite"), default="raise")
    e.add_argument("-q", "--quiet", action="store_true")
    progress_flags(e)
    e.set_defaults(func=cmd_extract)

    v = sub.add_parser("verify", formatter_class=fmt, help="check the checksums of .msk/.mska files",
                       epilog="examples:\n  medmask verify s0000.mska\n  medmask verify archives/*.mska\n\n"
                              "exit status: 0 all files intact, 1 some file damaged or unreadable")
    v.add_argument("files", metavar="FILE", nargs="+")
    v.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    v.set_defaults(func=cmd_verify)

    b = sub.add_parser("batch", formatter_class=fmt, help="convert a dataset: one .mska per case",
                       description="Convert every case under SRC_ROOT (TotalSegmentator's "
                                   "<case>/segmentations/*.nii.gz, or <case>/*.nii.gz) to DST_ROOT/<case>.mska. "
                                   "Finished cases are skipped, so an interrupted run resumes; one bad case "
                                   "never stops the others.",
                       epilog="examples:\n"
                              "  medmask batch Totalsegmentator_dataset/ archives/\n"
                              "  medmask batch Totalsegmentator_dataset/ archives/ -j 8\n"
                              "  medmask batch data/ archives/ --dask tcp://scheduler:8786\n\n"
                              "exit status: 0 every case converted or already done, 1 some case failed")
    b.add_argument("src_root", metavar="SRC_ROOT")
    b.add_argument("dst_root", metavar="DST_ROOT")
    b.add_argument("-j", "--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    b.add_argument("--dask", metavar="ADDRESS", help="run on a dask.distributed scheduler at ADDRESS")
    b.add_argument("--overwrite", action="store_true", help="convert finished cases again")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    progress_flags(b)
    b.set_defaults(func=cmd_batch)

    from .stats.cli import add_parsers as add_stats_parsers
    add_stats_parsers(sub, fmt)
    return p


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not hasattr(exc, "problem"):
        where = exc.filename
        what = exc.strerror or str(exc)
        text = f"{where}: {what}" if where else what
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())  # one line


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failed, 2 usage error)."""
    from .errors import MedMaskError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"{PROG}: error: {_error_text(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `medmask info x.mska | head`: the reader left, nothing is wrong
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except (MedMaskError, OSError) as exc:
        print(f"{PROG}: error: {_error_text(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, or a file damaged in a way nobody foresaw: still one line
        if os.environ.get("MEDMASK_DEBUG"):
            raise
        print(f"{PROG}: error: {type(exc).__name__}: {_error_text(exc)} (set MEDMASK_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
