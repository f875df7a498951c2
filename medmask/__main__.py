"""``python -m medmask``: the medmask command line."""
import sys

from .cli import main

sys.exit(main())
