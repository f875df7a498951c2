"""All-or-nothing output folders: a failed conversion leaves no partial folder behind."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

TMP_SUFFIX = ".tmpdir"


@contextlib.contextmanager
def atomic_folder(dst: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``dst``; fill it; on success it becomes ``dst``.

    A new ``dst`` appears in one rename. An existing ``dst`` receives the new files
    (each one replaced atomically) only once all of them are written. If the block
    raises - an error, Ctrl-C - the temporary folder is removed and ``dst`` is untouched.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=TMP_SUFFIX, dir=dst.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
        yield tmp
        if not dst.exists():
            os.rename(tmp, dst)
        else:
            for p in sorted(tmp.iterdir()):
                os.replace(p, dst / p.name)
            tmp.rmdir()
        with contextlib.suppress(OSError):
            fd = os.open(dst.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _name_final_path(exc, tmp, dst)
        raise


def _name_final_path(exc: BaseException, tmp: Path, dst: Path) -> None:
    """An error about ``tmp/x`` is told as one about ``dst/x``: the user never saw our temporary folder."""
    from ..errors import MedMaskError

    where = getattr(exc, "path", None) if isinstance(exc, MedMaskError) else None
    if where and Path(where).parent == tmp:
        exc.path = str(dst / Path(where).name)
        if hasattr(exc, "filename"):
            exc.filename = exc.path
        exc.args = (f"{exc.path}: {exc.problem}",)
