"""``medmask review FOLDER`` runs this: napari with the review dock on the queue (a process of its own,
so the ``medmask`` package never imports napari)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m napari_medmask.review_app",
                                description="napari with the MedMask review dock on a queue of archives")
    p.add_argument("inputs", nargs="+", help=".mska files, folders or glob patterns")
    p.add_argument("--reviewer", help="name stored with each decision (default: the OS user)")
    args = p.parse_args(argv)
    from medmask.errors import MedMaskError
    from medmask.review import queue_states

    try:
        queue_states(args.inputs)  # a bad input is one line here, not a traceback from inside napari
    except MedMaskError as exc:
        print(f"medmask review: error: {exc}", file=sys.stderr)
        return 1
    import napari

    viewer = napari.Viewer(title="MedMask review")
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask review")
    widget.open_queue(args.inputs, reviewer=args.reviewer)
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
