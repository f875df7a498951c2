"""What every subcommand shares: usage errors, size formatting, progress and overwrite flags."""
from __future__ import annotations

import argparse
import sys

from ..reporting import human_bytes


class UsageError(Exception):
    """A mistake on the command line that argparse cannot see (exit code 2)."""


human = human_bytes  # the one size formatter (medmask.reporting)


def progress_enabled(args) -> bool:
    if getattr(args, "progress", None) is not None:
        return bool(args.progress)
    return sys.stderr.isatty()


def add_progress_flags(sp: argparse.ArgumentParser) -> None:
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress bars (default: when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")
