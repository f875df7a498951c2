"""Servers the remote-read tests start on 127.0.0.1: HTTP with Range support, S3 (moto), and the
badly behaved: http.server (ignores Range), an endless body, a server that never answers.

Each counts the requests it serves, so tests can hold the reader to its request budget.
"""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _LocalServer:
    """A server on 127.0.0.1 run in a daemon thread for the length of a ``with`` block."""

    def __init__(self, server):
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class RangeHTTPServer(_LocalServer):
    """Serves ``files`` ({"/name": bytes}) with single-range GETs and HEAD; logs (method, Range)."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.log: list[tuple[str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                rng = self.headers.get("Range")
                owner.log.append((self.command, rng))
                data = owner.files.get(self.path.split("?")[0])
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, start, end = 200, 0, len(data)
                if rng:
                    m = _RANGE.match(rng)
                    if not m or (not m.group(1) and not m.group(2)):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    if m.group(1):
                        start = int(m.group(1))
                        end = min(len(data), int(m.group(2)) + 1) if m.group(2) else len(data)
                    else:  # suffix range: the last N bytes
                        start = max(0, len(data) - int(m.group(2)))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
                self.end_headers()
                if body:
                    self.wfile.write(data[start:end])

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        super().__init__(server)


class MotoS3Server(_LocalServer):
    """moto's S3 in server mode on 127.0.0.1, behind a WSGI wrapper that logs (method, path, Range)."""

    def __init__(self):
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self.log: list[tuple[str, str, str | None]] = []

        def counting(environ, start_response):
            self.log.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("HTTP_RANGE")))
            return app(environ, start_response)

        super().__init__(make_server("127.0.0.1", 0, counting, threaded=True))

    @property
    def endpoint(self) -> str:
        return self.url

    def storage_options(self) -> dict:
        return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": self.endpoint,
                                                                         "region_name": "us-east-1"},
                "skip_instance_cache": True}


class RangeIgnoringHTTPServer(_LocalServer):
    """Python's own ``http.server`` serving ``folder``: whole files with status 200 whatever the Range
    header asks (many static hosts do the same), and HTML listings of folders; logs (method, Range)."""

    def __init__(self, folder):
        from functools import partial
        from http.server import SimpleHTTPRequestHandler

        self.log: list[tuple[str, str | None]] = []
        owner = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_head(self):
                owner.log.append((self.command, self.headers.get("Range")))
                del self.headers["Range"]  # ignored, even by a Python whose http.server learns ranges
                return super().send_head()

        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        server.daemon_threads = True
        super().__init__(server)


class EndlessHTTPServer(_LocalServer):
    """Answers every GET with ``prefix`` followed by zeros that never end (no Content-Length: the body
    ends when the connection does, which it never does). ``status=206`` also sends a Content-Range
    for the bytes asked, as a server that honours Range but then keeps sending would."""

    def __init__(self, prefix: bytes = b"", status: int = 200):
        self.sent = [0]  # bytes written, over all requests
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(status)
                m = _RANGE.match(self.headers.get("Range") or "")
                start = int(m.group(1)) if m and m.group(1) else 0
                if status == 206 and m:
                    self.send_header("Content-Range", f"bytes {start}-{m.group(2) or ''}/*")
                self.end_headers()
                block = b"\0" * (1 << 16)
                try:
                    self.wfile.write(prefix[start:])
                    while True:
                        self.wfile.write(block)
                        owner.sent[0] += len(block)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # the reader hung up: good

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        super().__init__(server)


class SilentServer:
    """A TCP port that accepts connections (the kernel does) and never answers a byte."""

    def __init__(self):
        import socket

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()
        return f"http://{host}:{port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._sock.close()
