"""All-or-nothing output folders: a failed or killed conversion leaves the old folder or the new one,
never a partial folder and never a mix of both."""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from ..errors import WriteError
from .atomic import remove_stale_temporaries, temporary_prefix

TMP_SUFFIX = ".tmpdir"


def foreign_files(dst: Path, owned: Callable[[Path], bool]) -> list[str]:
    """Names in the existing folder ``dst`` that replacing it would delete although this writer
    did not write them (``owned`` says which it writes, e.g. NIfTI files)."""
    if not dst.is_dir():
        return []
    return sorted(p.name + ("/" if p.is_dir() else "") for p in dst.iterdir() if not owned(p))


def _refuse_foreign(dst: Path, owned: Callable[[Path], bool]) -> None:
    foreign = foreign_files(dst, owned)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" ... ({len(foreign)} in all)" if len(foreign) > 5 else "")
        raise WriteError(f"holds files this conversion does not write ({shown}); replacing the folder would delete "
                         f"them: refused. Remove them or write to another folder", dst)


@contextlib.contextmanager
def atomic_folder(dst: str | os.PathLike, owned: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``dst``; fill it; on success it becomes ``dst``, as a whole.

    A new ``dst`` appears in one rename. An existing ``dst`` is exchanged with the new folder
    in one ``renameat2(RENAME_EXCHANGE)`` (Linux), then the old content is deleted: a kill
    leaves the old folder or the new one. ``owned`` says which entries of an existing ``dst``
    this writer may replace (others make it refuse, before any work); None: any. If the block
    raises - an error, Ctrl-C - the temporary folder is removed and ``dst`` is untouched.
    Temporary folders of killed writers are removed on the next write of ``dst``.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if owned is not None:
        _refuse_foreign(dst, owned)
    remove_stale_temporaries(dst)
    tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(dst), suffix=TMP_SUFFIX, dir=dst.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
        yield tmp
        if not dst.exists():
            os.rename(tmp, dst)
        else:
            if owned is not None:
                _refuse_foreign(dst, owned)  # (files may have appeared meanwhile)
            _replace_folder(tmp, dst)
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


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: a filesystem or kernel without it
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


def _replace_folder(new: Path, dst: Path) -> None:
    """``dst`` becomes ``new`` as a whole; the old content is deleted afterwards."""
    if _exchange(new, dst):
        shutil.rmtree(new, ignore_errors=True)  # now the old content
        return
    # elsewhere: two renames; a kill between them leaves the old folder at <dst>.<...>.old
    old = Path(tempfile.mkdtemp(prefix=temporary_prefix(dst), suffix=".old", dir=dst.parent))
    os.rmdir(old)
    os.rename(dst, old)
    os.rename(new, dst)
    shutil.rmtree(old, ignore_errors=True)


def _name_final_path(exc: BaseException, tmp: Path, dst: Path) -> None:
    """An error about ``tmp/x`` is told as one about ``dst/x``: the user never saw our temporary folder."""
    from ..errors import MedMaskError

    where = getattr(exc, "path", None) if isinstance(exc, MedMaskError) else None
    if where and Path(where).parent == tmp:
        exc.path = str(dst / Path(where).name)
        if hasattr(exc, "filename"):
            exc.filename = exc.path
        exc.args = (f"{exc.path}: {exc.problem}",)
