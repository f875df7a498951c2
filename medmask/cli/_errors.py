"""One-line error text for anything a command raises."""
from __future__ import annotations


def error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not hasattr(exc, "problem"):
        where = exc.filename
        what = exc.strerror or str(exc)
        text = f"{where}: {what}" if where else what
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())  # one line
