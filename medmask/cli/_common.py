"""What every subcommand shares: usage errors, size formatting, progress and overwrite flags."""
from __future__ import annotations

import argparse
import sys

from ..reporting import human_bytes


PROG = "medmask"


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


def add_overwrite_flags(sp: argparse.ArgumentParser) -> None:
    """``--overwrite`` / ``--no-overwrite``, default no: every command refuses to replace an output alike."""
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--overwrite", dest="overwrite", action="store_true", default=False,
                   help="replace an existing output file (or write into an existing non-empty folder)")
    g.add_argument("--no-overwrite", dest="overwrite", action="store_false",
                   help="refuse to replace an existing output (the default)")


def add_format_version_flag(sp: argparse.ArgumentParser) -> None:
    """``--format-version``: what a .msk/.mska output is written as (2.1 for medmask 0.3 installations)."""
    sp.add_argument("--format-version", choices=("1", "2", "2.1", "2.2"), default=None,
                    help=".msk/.mska output: the format version to write (default: the current, 2.2). '2.1' is "
                         "what medmask 0.3 reads (it reports a 2.2 file's index as 'not valid JSON'), '1' what "
                         "medmask 0.1 reads (no checksums, colours or metadata)")


def add_storage_options_flag(sp: argparse.ArgumentParser) -> None:
    """``--storage-options JSON`` for every command that reads URLs."""
    from ..limits import REMOTE_CONNECT_TIMEOUT, REMOTE_READ_TIMEOUT

    sp.add_argument("--storage-options", metavar="JSON", type=_json_object, default=None,
                    help="options for reading https:// and s3:// URLs, as a JSON object: fsspec's (e.g. "
                         "'{\"anon\": true}', '{\"client_kwargs\": {\"endpoint_url\": \"http://minio:9000\"}}') "
                         f"and medmask's connect_timeout / read_timeout in seconds (default {REMOTE_CONNECT_TIMEOUT:g} / "
                         f"{REMOTE_READ_TIMEOUT:g})")


def _json_object(text: str) -> dict:
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object ({{...}}), got {text!r}")
    return value
