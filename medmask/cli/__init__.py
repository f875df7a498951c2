"""The ``medmask`` command: convert, inspect, extract, verify and batch-convert mask files.

One module per group of subcommands; each has ``register(subparsers)``. A new group is
a new module plus one line in ``COMMAND_GROUPS``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import Sequence

from . import batch_cmds, convert_cmds, inspect_cmds, review_cmds, stats_cmds
from ._common import PROG, UsageError
from ._errors import error_text


EPILOG = """\
examples:
  medmask convert s0000/segmentations s0000.mska      # TotalSegmentator folder -> one archive
  medmask convert s0000.mska s0000_nifti/             # ... and back to a folder of .nii.gz
  medmask convert s0000.mska s0000.seg.nrrd           # -> 3D Slicer segmentation
  medmask convert seg.seg.nrrd seg.mska               # Slicer -> archive (one entry per segment)
  medmask convert ml.nii.gz ml.msk --labels total     # TotalSegmentator --ml output -> .msk
  medmask info s0000.mska
  medmask info https://example.org/s0000.mska          # URLs wherever a .mska/.msk is read
  medmask extract s0000.mska liver spleen -o organs.seg.nrrd
  medmask verify data/*.mska                          # --deep: also recount voxels, check boxes
  medmask upgrade old/*.mska                          # older formats -> v2.2 (v1 gains checksums)
  medmask batch Totalsegmentator_dataset/ archives/ -j 2
  medmask stats archives/ -o volumes.csv
  medmask compare model_v1/ model_v2/ -o agreement.csv --plot agreement.png
  medmask review archives/                            # napari review queue; --report review.csv
"""


# the order of the subcommands in --help
COMMAND_GROUPS = (convert_cmds, inspect_cmds, batch_cmds, stats_cmds, review_cmds)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog=PROG, formatter_class=fmt, epilog=EPILOG,
                                description="Compact, checksummed medical segmentation masks (.msk / .mska): "
                                            "convert from and to NIfTI and 3D Slicer, inspect, verify.")
    from .. import __version__

    p.add_argument("--version", action="version", version=f"medmask {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return p


def _one_line_warnings() -> None:
    """medmask's own warnings as one ``medmask: warning:`` line each; numpy/nibabel chatter hidden.

    A user converting ten thousand files reads stderr: a numpy RuntimeWarning with its
    source line says nothing about which file or what to do (MEDMASK_DEBUG=1 shows them).
    """
    from ..errors import MedMaskWarning

    debug = bool(os.environ.get("MEDMASK_DEBUG"))
    original = warnings.showwarning
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def ours(category, filename) -> bool:
        return (issubclass(category, MedMaskWarning) or category.__module__.startswith("medmask")
                or (category is UserWarning and os.path.abspath(filename).startswith(package)))

    def show(message, category, filename, lineno, file=None, line=None):
        if ours(category, filename):
            print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)
        elif debug:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    if not debug:
        logging.getLogger("nibabel").setLevel(logging.CRITICAL)  # header "fixes" it logs on load


class _InfoLines(logging.Handler):
    """medmask's info messages (logger ``medmask``: e.g. a server that ignores Range requests, masks
    reordered exactly onto a series) as one ``medmask: info:`` line each on stderr (looked up at each
    message: tests replace sys.stderr). ``--quiet`` hides them."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{PROG}: info: {' '.join(record.getMessage().split())}", file=sys.stderr)


def _info_lines(quiet: bool = False) -> None:
    logger = logging.getLogger("medmask")
    handler = next((h for h in logger.handlers if isinstance(h, _InfoLines)), None)
    if handler is None:
        handler = _InfoLines(logging.INFO)
        logger.addHandler(handler)
    handler.setLevel(logging.WARNING if quiet else logging.INFO)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failed, 2 usage error)."""
    from ..errors import MedMaskError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    _one_line_warnings()
    _info_lines(bool(getattr(args, "quiet", False)))
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"{PROG}: error: {error_text(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `medmask info x.mska | head`: the reader left, nothing is wrong
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except (MedMaskError, OSError) as exc:
        print(f"{PROG}: error: {error_text(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, or a file damaged in a way nobody foresaw: still one line
        if os.environ.get("MEDMASK_DEBUG"):
            raise
        print(f"{PROG}: error: {type(exc).__name__}: {error_text(exc)} (set MEDMASK_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
