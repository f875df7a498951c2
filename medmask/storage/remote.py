"""Range reads of remote objects (``https://``, ``s3://``, any fsspec URL) that a server cannot abuse.

fsspec's ``cat_file`` reads a whole response body: a server that ignores the ``Range``
header (python's ``http.server``, many static hosts) answers a 90-byte header read with
the whole file, and one that sends an endless body fills memory; one that never answers
blocks the reader for good. Here every read streams the answer and takes only what was
asked for, every request has a connect and a read timeout, and a server that ignores
ranges is read whole once (up to :data:`medmask.limits.MAX_REMOTE_DOWNLOAD`) and sliced.

medmask's own keys in ``storage_options`` (the rest go to fsspec): ``connect_timeout`` and
``read_timeout``, seconds (defaults in :mod:`medmask.limits`), for ``http(s)://`` and ``s3://``;
other fsspec backends (``memory://``, ``gcs://``...) keep their own timeouts.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from .. import limits
from ..errors import LimitError, MedMaskError
from .source_types import ByteSource

log = logging.getLogger("medmask.remote")

_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
MEDMASK_KEYS = ("connect_timeout", "read_timeout")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and for the next bytes of an answer."""

    connect: float
    read: float


def split_options(storage_options: dict | None, url: str) -> tuple[Timeouts, dict]:
    """(medmask's timeouts, the options fsspec gets); a timeout that is not a positive number is refused."""
    options = dict(storage_options or {})
    values = {}
    for key in MEDMASK_KEYS:
        if key in options:
            value = options.pop(key)
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = -1.0
            if not value > 0:
                raise MedMaskError(f"storage_options[{key!r}] must be a positive number of seconds, "
                                   f"got {storage_options[key]!r}", url)  # type: ignore[index]
            values[key.split("_")[0]] = value
    values = {"connect": limits.REMOTE_CONNECT_TIMEOUT, "read": limits.REMOTE_READ_TIMEOUT, **values}
    return Timeouts(**values), options


@dataclass
class _Answer:
    """What one range request brought back."""

    body: bytes | bytearray
    whole: bool = False          # the server sent the whole file (it ignored Range)
    total: int | None = None     # the file's size, when the answer says it


class RemoteSource(ByteSource):
    """An object reached through fsspec, read by bounded range requests (see the module docstring)."""

    def __init__(self, url: str, storage_options: dict | None = None):
        self.name = url
        self._fs, self._path, self._kind, self.timeouts = remote_fs(url, storage_options)
        self._total: int | None = None    # the file's size, once an answer told it
        self._whole: bytes | None = None  # the whole file, when the server ignores Range

    # the size -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        if self._total is None and self._kind != "other":
            self.read_at(0, 1)  # the answer's Content-Range (or the whole body) tells it
        if self._total is None:
            try:
                self._total = int(self._fs.size(self._path))
            except FileNotFoundError:
                raise MedMaskError("no such file", self.name) from None
            except (OSError, TypeError, ValueError) as exc:
                raise MedMaskError(f"cannot learn the file's size: {exc}", self.name) from None
        return self._total

    # reading ------------------------------------------------------------------------------
    def read_at(self, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        if self._whole is not None:
            return bytes(self._whole[offset:offset + length])
        if self._total is not None and offset >= self._total:
            return b""
        answer = self._fetch(offset, length)
        if answer.total is not None:
            self._total = answer.total
        if answer.whole:  # a whole file within the range asked for is no sign of a server ignoring Range
            self._keep_whole(answer.body, note=offset > 0 or len(answer.body) > length)
            return bytes(answer.body[offset:offset + length])
        return bytes(answer.body[:length])

    def _keep_whole(self, body: bytes | bytearray, note: bool = True) -> None:
        self._whole = body
        self._total = self.known_size = len(body)
        if note:
            log.info("%s: server ignores Range requests; read the whole file (%d bytes) once and serving "
                     "every read from it", self.name, len(body))

    def _fetch(self, offset: int, length: int) -> _Answer:
        if self._kind == "http":
            return self._run(_http_range, offset, length)
        if self._kind == "s3":
            return self._run(_s3_range, offset, length)
        try:  # memory://, file://, gcs, azure...: the backend's own ranged read, trimmed to what was asked
            return _Answer(bytes(self._fs.cat_file(self._path, start=offset, end=offset + length))[:length])
        except FileNotFoundError:
            raise MedMaskError("no such file", self.name) from None
        except Exception as exc:  # a range past the end is an error to some backends
            if offset >= self.size:
                return _Answer(b"")
            raise MedMaskError(f"cannot read bytes {offset}..{offset + length}: {exc}", self.name) from None

    def _run(self, fetch: Callable, offset: int, length: int) -> _Answer:
        from fsspec.asyn import sync

        try:
            return sync(self._fs.loop, fetch, self._fs, self._path, offset, length, self.timeouts, self.name)
        except MedMaskError:
            raise
        except FileNotFoundError:
            raise MedMaskError("no such file", self.name) from None
        except PermissionError as exc:
            raise MedMaskError(f"access denied: {exc}", self.name) from None
        except Exception as exc:  # noqa: BLE001 - timeouts, refused connections, TLS: one line naming the URL
            raise MedMaskError(_network_problem(exc, self.timeouts, offset, length), self.name) from None


# ------------------------------------------------------------------------------------------
# the backends


def remote_fs(url: str, storage_options: dict | None = None) -> tuple[Any, str, str, Timeouts]:
    """(fsspec filesystem, path in it, "http"/"s3"/"other", timeouts) for ``url``, with medmask's timeouts set."""
    timeouts, options = split_options(storage_options, url)
    try:
        import fsspec  # optional: pip install 'medmask[remote]'
    except ImportError:
        raise MedMaskError("reading URLs needs fsspec: pip install 'medmask[remote]'", url) from None
    protocol = url.split("://", 1)[0].lower()
    kind = "http" if protocol in ("http", "https") else "s3" if protocol in ("s3", "s3a") else "other"
    try:
        options = _with_timeouts(kind, options, timeouts)
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:  # fsspec names the missing backend package (s3fs, aiohttp, ...)
        extra = "s3" if kind == "s3" else "remote"
        raise MedMaskError(f"cannot open this URL ({exc}); pip install 'medmask[{extra}]'", url) from None
    except (ValueError, TypeError) as exc:
        raise MedMaskError(f"not a URL fsspec knows, or bad storage_options: {exc}", url) from None
    return fs, path, kind, timeouts


def list_remote(url: str, suffixes: tuple[str, ...], storage_options: dict | None = None) -> list[str]:
    """URLs of the files matching a glob (``s3://bucket/*.mska``) or below a folder URL (ending in ``/``),
    whose names end in one of ``suffixes``, sorted; a listing the server refuses is one MedMaskError."""
    import glob as _glob

    fs, path, _, timeouts = remote_fs(url, storage_options)
    try:
        if _glob.has_magic(path):
            found = fs.glob(path)
        else:
            found = fs.find(path)
    except FileNotFoundError:
        return []
    except Exception as exc:  # noqa: BLE001 - listing over the network: one line naming the URL
        raise MedMaskError(f"cannot list: {_network_problem(exc, timeouts, 0, 0)}", url) from None
    names = sorted(str(p) for p in found)
    urls = [p if "://" in p else fs.unstrip_protocol(p) for p in names]
    return [u for u in urls if u.rstrip("/").rsplit("/", 1)[-1].endswith(suffixes)
            and not u.rstrip("/").rsplit("/", 1)[-1].startswith(".")]


def _with_timeouts(kind: str, options: dict, timeouts: Timeouts) -> dict:
    """fsspec options carrying medmask's timeouts into the backend (unless the caller set its own)."""
    options = dict(options)
    if kind == "http":
        client = dict(options.get("client_kwargs") or {})
        client.setdefault("timeout", _http_timeout(timeouts))  # also HEAD and listing requests
        options["client_kwargs"] = client
    elif kind == "s3":
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("connect_timeout", timeouts.connect)
        config.setdefault("read_timeout", timeouts.read)
        config.setdefault("retries", {"mode": "standard", "total_max_attempts": 2})  # a silent server: 2 waits
        options["config_kwargs"] = config
    return options


def _http_timeout(timeouts: Timeouts):
    import aiohttp

    return aiohttp.ClientTimeout(total=None, connect=timeouts.connect, sock_connect=timeouts.connect,
                                 sock_read=timeouts.read)


async def _read_capped(read: Callable, limit: int, probe: bool = False) -> tuple[bytearray, bool]:
    """Up to ``limit`` bytes from ``read(n)``, in one growing buffer (no list of chunks to join);
    with ``probe``, also whether more were on the way (one more byte is asked for)."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = await read(min(_CHUNK, limit - len(buf)))
        if not chunk:
            return buf, False
        buf += chunk
    return buf, bool(probe and await read(1))


def _whole_limit(total: int | None, url: str) -> int:
    """How much of a Range-ignoring server's answer medmask reads (the declared size, within the limit)."""
    cap = min(limits.MAX_REMOTE_DOWNLOAD, limits.MEMORY_BUDGET)
    if total is not None and total > cap:
        raise LimitError(f"server ignores Range requests and the file is {total} bytes "
                         f"({limits.human(total)}), more than the {limits.human(cap)} medmask downloads whole "
                         f"(medmask.limits.MAX_REMOTE_DOWNLOAD, MEDMASK_MAX_REMOTE_DOWNLOAD)", url)
    return cap if total is None else total


async def _http_range(fs, path: str, offset: int, length: int, timeouts: Timeouts, url: str) -> _Answer:
    kw = dict(fs.kwargs)  # request options from storage_options (headers, auth, ...)
    headers = dict(kw.pop("headers", None) or {})
    headers["Range"] = f"bytes={offset}-{offset + length - 1}"
    headers.setdefault("Accept-Encoding", "identity")  # byte offsets are into the file, not a gzip of it
    kw.pop("timeout", None)
    session = await fs.set_session()
    async with session.get(fs.encode_url(path), headers=headers, timeout=_http_timeout(timeouts), **kw) as r:
        if r.status in (404, 410):
            raise FileNotFoundError(path)
        if r.status == 416:  # asked past the end
            m = re.search(r"/(\d+)", r.headers.get("Content-Range", ""))
            return _Answer(b"", total=int(m.group(1)) if m else None)
        if r.status in (401, 403):
            raise PermissionError(f"HTTP {r.status} {r.reason}")
        if r.status == 206:
            m = _CONTENT_RANGE.match(r.headers.get("Content-Range", ""))
            if m and int(m.group(1)) != offset:
                r.close()
                raise MedMaskError(f"server answered bytes {m.group(1)}-{m.group(2)} to a request for bytes "
                                   f"{offset}-{offset + length - 1}", url)
            body, _ = await _read_capped(r.content.read, length)
            r.close()  # whatever else it meant to send is not read
            return _Answer(body, total=int(m.group(3)) if m and m.group(3) != "*" else None)
        if r.status == 200:  # Range ignored: the whole file, from byte 0
            declared = r.content_length if not r.headers.get("Content-Encoding") else None
            cap = _whole_limit(declared, url)
            body, more = await _read_capped(r.content.read, cap, probe=True)
            r.close()
            if more:
                raise LimitError(f"server ignores Range requests and its answer went on past "
                                 f"{limits.human(cap)} ({'the size it declared' if declared is not None else 'no size declared'}; "
                                 f"medmask.limits.MAX_REMOTE_DOWNLOAD)", url)
            return _Answer(body, whole=True, total=len(body))
        r.close()
        raise MedMaskError(f"server answered HTTP {r.status} {r.reason or ''}".rstrip(), url)


async def _s3_range(fs, path: str, offset: int, length: int, timeouts: Timeouts, url: str) -> _Answer:
    from botocore.exceptions import ClientError
    from s3fs.core import version_id_kw
    from s3fs.errors import translate_boto_error

    bucket, key, version = fs.split_path(path)
    await fs.set_session()
    s3 = await fs.get_s3(bucket)
    kw: dict[str, Any] = dict(Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}",
                              **version_id_kw(version))
    method_kwargs = getattr(fs, "_get_s3_method_kwargs", None)  # s3fs's own additions (requester pays, SSE-C)
    if method_kwargs is not None:
        kw = method_kwargs(s3.get_object, **kw)
    try:
        resp = await s3.get_object(**kw)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # asked past the end
            return _Answer(b"")
        raise translate_boto_error(exc) from None
    body = resp["Body"]
    try:
        m = _CONTENT_RANGE.match(resp.get("ContentRange") or "")
        if m:
            if int(m.group(1)) != offset:
                raise MedMaskError(f"server answered bytes {m.group(1)}-{m.group(2)} to a request for bytes "
                                   f"{offset}-{offset + length - 1}", url)
            data, _ = await _read_capped(body.read, length)
            return _Answer(data, total=int(m.group(3)) if m.group(3) != "*" else None)
        # no Content-Range: an S3-compatible server that ignored the range
        declared = resp.get("ContentLength")
        cap = _whole_limit(declared, url)
        data, more = await _read_capped(body.read, cap, probe=True)
        if more:
            raise LimitError(f"server ignores Range requests and its answer went on past {limits.human(cap)}", url)
        return _Answer(data, whole=True, total=len(data))
    finally:
        body.close()


def _network_problem(exc: BaseException, timeouts: Timeouts, offset: int, length: int) -> str:
    """One line saying what went wrong with the connection, and which timeout it was."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    names = {cls.__name__ for e in _causes(exc) for cls in type(e).__mro__}
    if names & {"ConnectionTimeoutError", "ConnectTimeoutError"}:
        return (f"no connection within {timeouts.connect:g} s (connect_timeout; set "
                f"storage_options={{'connect_timeout': seconds}} to wait longer)")
    if names & {"TimeoutError", "ServerTimeoutError", "ReadTimeoutError", "FSTimeoutError"}:
        return (f"server sent nothing for {timeouts.read:g} s while reading bytes {offset}..{offset + length} "
                f"(read_timeout; set storage_options={{'read_timeout': seconds}} to wait longer)")
    if names & {"ClientPayloadError", "IncompleteRead"}:
        return f"connection closed before the answer was complete: {text}"
    if names & {"ClientConnectionError", "EndpointConnectionError", "ConnectionError", "ConnectionClosedError"}:
        return f"cannot reach the server: {text}"
    return f"cannot read bytes {offset}..{offset + length}: {type(exc).__name__}: {text}"


def _causes(exc: BaseException | None):
    """``exc`` and what caused it (botocore wraps aiohttp's errors, fsspec wraps both)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
