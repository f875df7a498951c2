"""The DICOM options of ``convert`` and ``extract`` (DICOM-SEG output, or input onto a series' grid)."""
from __future__ import annotations

import argparse
from typing import Any


def add_dicom_flags(sp: argparse.ArgumentParser) -> None:
    g = sp.add_argument_group("DICOM-SEG (.dcm)")
    g.add_argument("--series", metavar="DICOM",
                   help="the CT/MR series (folder, or one file of it) a .dcm output references; for a .dcm "
                        "input, put the segments on this series' grid")
    g.add_argument("--seg-type", choices=("binary", "labelmap"), default=None,
                   help="BINARY (default; segments may overlap) or LABELMAP (smaller; refused if they overlap)")
    g.add_argument("--series-description", metavar="TEXT", help="SeriesDescription of the SEG (default 'Segmentation')")
    who = g.add_mutually_exclusive_group()
    who.add_argument("--algorithm", metavar="NAME[:VERSION]",
                     help="segments made by this algorithm (SegmentAlgorithmType AUTOMATIC)")
    who.add_argument("--manual", action="store_true", help="segments drawn by hand (SegmentAlgorithmType MANUAL)")


def dicom_options(args) -> dict[str, Any]:
    """The write_dicom_seg options the user gave (nothing when no DICOM flag was used)."""
    out: dict[str, Any] = {}
    if getattr(args, "seg_type", None):
        out["segmentation_type"] = args.seg_type
    if getattr(args, "series_description", None):
        out["series_description"] = args.series_description
    if getattr(args, "algorithm", None):
        out["algorithm"] = args.algorithm
    if getattr(args, "manual", False):
        out["manual"] = True
    return out
