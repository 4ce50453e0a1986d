"""A threaded HTTP/1.1 WSGI server on 127.0.0.1 that keeps connections alive.

:class:`ServerThread` serves the fake provider, and the suite's own client
apps too. Werkzeug's development server (3.1) answers every request with
``Connection: close``, whatever ``protocol_version`` says, so a client could
never reuse a connection to it and a test of connection pooling would prove
nothing. This server is built on :mod:`http.server` and
:class:`socketserver.ThreadingMixIn` (one thread per connection): it keeps
connections open, numbers the TCP connections it accepts, counts how many
requests it handled at the same moment, and can add latency.

Request bodies are read completely before the app is called and responses are
buffered (sent with ``Content-Length``); that is what makes keep-alive safe,
and it is fine for tests.
"""

from __future__ import annotations

import http.server
import io
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = ["CONNECTION_KEY", "RequestRecord", "ServerThread"]

#: The WSGI environ key holding the number of the TCP connection that carried a request.
CONNECTION_KEY = "flask_oauth1_async.testing.connection"

_MAX_REQUEST_LINE = 65536
_MAX_BODY = 64 * 1024 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


# ------------------------------------------------------------------ bookkeeping


@dataclass(frozen=True)
class RequestRecord:
    """One request handled by a :class:`ServerThread`.

    ``connection`` is the 1-based number of the TCP connection that carried
    it (connections are numbered in the order they were accepted).
    """

    method: str
    target: str
    status: int
    connection: int
    duration: float


class _ConnectionLocal(threading.local):
    number: int = 0


# ---------------------------------------------------------------- the server


class _KeepAliveWSGIHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 request handler that runs a WSGI app and keeps connections open."""

    protocol_version = "HTTP/1.1"
    # Buffer writes so status line, headers and body leave in one segment
    # (unbuffered writes + Nagle + delayed ACK cost ~40 ms per response).
    wbufsize = -1
    server: _TrackingHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.owner.idle_timeout)
        with suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read :attr:`ServerThread.requests` instead."""

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE + 1)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if len(self.raw_requestline) > _MAX_REQUEST_LINE:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        try:
            if self.parse_request():  # otherwise it sent an error response
                self._handle_wsgi()
        finally:
            self.wfile.flush()

    # -- request parsing -------------------------------------------------------

    def _read_body(self) -> bytes:
        transfer_encoding = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in transfer_encoding:
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError(f"bad Content-Length {length}")
        body = self.rfile.read(length)
        if len(body) != length:
            raise ConnectionError("client closed the connection mid-body")
        return body

    def _read_chunked(self) -> bytes:
        data = bytearray()
        while True:
            size_line = self.rfile.readline(1024)
            if not size_line:
                raise ConnectionError("client closed the connection mid-body")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # discard trailers
                return bytes(data)
            data += self.rfile.read(size)
            self.rfile.readline(8)  # CRLF after the chunk
            if len(data) > _MAX_BODY:
                raise ValueError("request body too large")

    def _environ(self, body: bytes) -> WSGIEnvironment:
        target = self.path
        if not target.startswith("/"):  # absolute-form (proxy style) or "*"
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            # PEP 3333: the undecoded bytes of the path, as a latin-1 str
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": target,
            "REQUEST_URI": target,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)) if body or "Content-Length" in self.headers else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.server.owner.ssl_context else "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            # which TCP connection carried the request (1-based, in the order they were accepted)
            CONNECTION_KEY: self.server.local.number,
        }
        for name, value in self.headers.items():
            if "_" in name:
                continue  # ambiguous with "-" once mapped to CGI names
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    # -- running the app -------------------------------------------------------

    def _handle_wsgi(self) -> None:
        try:
            body = self._read_body()
        except ConnectionError:
            self.close_connection = True
            return
        except ValueError:
            self.send_error(400, "Malformed request body")
            self.close_connection = True
            return

        environ = self._environ(body)
        owner = self.server.owner
        started = time.perf_counter()
        with owner._in_flight_request(environ["PATH_INFO"]):
            status, headers, chunks = self._call_app(owner.app, environ)
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self._send(code, reason, headers, chunks)
        owner._record(
            RequestRecord(
                method=self.command,
                target=self.path,
                status=code,
                connection=self.server.local.number,
                duration=time.perf_counter() - started,
            )
        )

    def _call_app(
        self, app: WSGIApplication | None, environ: WSGIEnvironment
    ) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        chunks: list[bytes] = []
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            if exc_info is not None:
                chunks.clear()  # nothing was sent yet (responses are buffered)
            captured["status"] = status
            captured["headers"] = list(headers)
            return chunks.append

        if app is None:
            return "503 Service Unavailable", [("Content-Type", "text/plain")], [b"no app"]
        try:
            result = app(environ, start_response)
            try:
                for chunk in result:
                    if chunk:
                        chunks.append(bytes(chunk))
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if "status" not in captured:
                raise RuntimeError("WSGI app returned without calling start_response")
        except Exception:  # the app crashed: report it like a real server would
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            return (
                "500 Internal Server Error",
                [("Content-Type", "text/plain; charset=utf-8")],
                [b"Internal Server Error"],
            )
        return captured["status"], captured["headers"], chunks

    def _send(self, code: int, reason: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> None:
        body = b"".join(chunks)
        may_have_body = code >= 200 and code not in _NO_BODY_STATUSES
        self.send_response(code, reason or None)
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("connection", "transfer-encoding", "keep-alive"):
                continue  # hop-by-hop headers are the server's business
            has_length = has_length or lowered == "content-length"
            self.send_header(name, value)
        if not has_length and may_have_body and self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if may_have_body and self.command != "HEAD":
            self.wfile.write(body)


class _TrackingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Threaded HTTP server that counts and tracks its connections."""

    daemon_threads = True
    request_queue_size = 256  # a burst of concurrent connects must not overflow the backlog
    block_on_close = False  # ServerThread joins the threads itself
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: ServerThread) -> None:
        self.owner = owner
        self.local = _ConnectionLocal()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self.accepted = 0
        super().__init__(address, _KeepAliveWSGIHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        with self._lock:
            self.accepted += 1
            self._open.add(sock)
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            number = self.accepted
        worker = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address, number),
            name=f"{self.owner.name}-conn-{number}",
            daemon=True,
        )
        with self._lock:
            self._workers = {t for t in self._workers if t.is_alive()}
            self._workers.add(worker)
        worker.start()

    def _serve_connection(self, raw: socket.socket, client_address: Any, number: int) -> None:
        self.local.number = number
        conn = raw
        try:
            if self.owner.ssl_context is not None:
                raw.settimeout(self.owner.idle_timeout)
                try:
                    conn = self.owner.ssl_context.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # failed handshake: just drop the connection
                with self._lock:
                    self._open.discard(raw)
                    self._open.add(conn)
            self.finish_request(conn, client_address)
        except Exception:
            self.handle_error(conn, client_address)
        finally:
            self._close_socket(conn)
            if conn is not raw:
                self._close_socket(raw)

    def _close_socket(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        if sock.fileno() != -1:
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_WR)
        sock.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return  # clients going away is normal
        if self.owner.stopping:
            return  # connections are being torn down on purpose
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut every open client connection so idle keep-alive threads exit."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def join_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))


class ServerThread:
    """Serve a WSGI *app* on ``host`` (127.0.0.1) with a real threaded server.

    The listening socket is bound in the constructor, so :attr:`url` and
    :attr:`port` are known before :meth:`start` (handy when two apps must know
    each other's URL; :attr:`app` may be replaced until the first request).
    Always use it as a context manager or call :meth:`stop`, which also
    closes the socket of a server that was never started.

    :param app: the WSGI application.
    :param ssl_context: serve HTTPS with this server context.
    :param latency_ms: delay added before every request reaches the app
        (only to paths starting with *latency_path_prefix* if given).
    :param idle_timeout: seconds an idle keep-alive connection is kept.

    Counters (all thread-safe, cleared by :meth:`reset_counters`):
    :attr:`connections` (TCP connections accepted), :attr:`in_flight_max`
    (most requests handled at the same moment), :attr:`requests`.
    """

    def __init__(
        self,
        app: WSGIApplication | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        latency_ms: float = 0.0,
        latency_path_prefix: str | None = None,
        idle_timeout: float = 30.0,
        name: str = "test-server",
    ) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.latency_ms = latency_ms
        self.latency_path_prefix = latency_path_prefix
        self.idle_timeout = idle_timeout
        self.name = name
        self.stopping = False
        self._lock = threading.Lock()
        self._in_flight = 0
        self._in_flight_max = 0
        self._records: list[RequestRecord] = []
        self._connection_offset = 0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._server = _TrackingHTTPServer((host, port), self)
        bound_host, bound_port = self._server.server_address[:2]
        self.host: str = str(bound_host)
        self.port: int = int(bound_port)

    # -- addresses -----------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """``"https"`` when serving TLS, else ``"http"``."""
        return "https" if self.ssl_context is not None else "http"

    @property
    def url(self) -> str:
        """Base URL without trailing slash, e.g. ``http://127.0.0.1:41234``."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def url_for(self, path: str, *, host: str | None = None) -> str:
        """Absolute URL of *path*; *host* may replace the IP (e.g. ``localhost``)."""
        if not path.startswith("/"):
            path = "/" + path
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> ServerThread:
        """Start serving in a daemon thread; returns once the loop is running."""
        if self._stopped:
            raise RuntimeError("a stopped ServerThread cannot be restarted")
        if self._thread is not None:
            return self
        ready = threading.Event()

        def serve() -> None:
            ready.set()
            self._server.serve_forever(poll_interval=0.05)

        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.name} did not start")
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection and socket, join the threads."""
        if self._stopped:
            return
        self._stopped = True
        self.stopping = True
        if self._thread is not None:
            self._server.shutdown()  # returns when serve_forever has exited
            self._thread.join(10)
        self._server.server_close()  # the listening socket
        self._server.close_connections()
        self._server.join_workers(10)

    def __enter__(self) -> ServerThread:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- counters ------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """TCP connections accepted since start (or the last reset)."""
        with self._server._lock:
            accepted = self._server.accepted
        return accepted - self._connection_offset

    @property
    def in_flight(self) -> int:
        """Requests being handled right now."""
        with self._lock:
            return self._in_flight

    @property
    def in_flight_max(self) -> int:
        """Most requests handled at the same moment since start (or the last reset)."""
        with self._lock:
            return self._in_flight_max

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the requests handled since start (or the last reset)."""
        with self._lock:
            return list(self._records)

    def reset_counters(self) -> None:
        """Zero :attr:`connections`, :attr:`in_flight_max` and :attr:`requests`."""
        with self._server._lock:
            accepted = self._server.accepted
        with self._lock:
            self._connection_offset = accepted
            self._in_flight_max = self._in_flight
            self._records.clear()

    def set_latency(self, latency_ms: float, path_prefix: str | None = None) -> None:
        """Change the added latency at runtime (0 disables it)."""
        with self._lock:
            self.latency_ms = latency_ms
            self.latency_path_prefix = path_prefix

    # -- used by the handler ---------------------------------------------------------

    @contextmanager
    def _in_flight_request(self, path: str) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self._in_flight_max = max(self._in_flight_max, self._in_flight)
            delay = self.latency_ms
            prefix = self.latency_path_prefix
        try:
            if delay > 0 and (prefix is None or path.startswith(prefix)):
                time.sleep(delay / 1000.0)
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def __repr__(self) -> str:
        return f"<ServerThread {self.name} {self.url}>"
