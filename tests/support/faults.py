"""A fault-injecting HTTP/1.1 server on 127.0.0.1 whose behaviour is scripted per path.

It speaks HTTP over raw sockets (one thread per connection, keep-alive), so it
can misbehave in ways a WSGI server cannot: reset a connection in the middle
of a body, promise more bytes than it sends, hang. Each path gets a
:class:`Fault` (or the default, a 200 answer); :meth:`FaultServer.script`
changes it at any time. The server counts accepted TCP connections and keeps
a log of ``(method, path, headers)`` per request.

Faults (constructors on :class:`Fault`):

* ``ok(body, status=200, headers=...)``: a normal answer (keeps the connection);
* ``status(code, body, headers)``: any status, e.g. 503 with an HTML page or
  429 with ``Retry-After``;
* ``hang(seconds)``: read the request, answer nothing for *seconds* (bounded;
  stops early when the server stops), then close;
* ``reset()``: send headers and half the promised body, then close with an
  RST (``SO_LINGER`` 0);
* ``truncate()``: promise ``Content-Length: 1000``, send 10 bytes, close;
* ``huge(size)``: a 200 answer with *size* bytes (2 MB by default);
* ``non_utf8()``: a 200 ``text/plain; charset=utf-8`` body that is not UTF-8;
* ``redirect(location, code=302)``: to a path or a full URL on another server;
* ``stream(size)``: a 200 answer of *size* bytes sent chunk by chunk (never held
  in memory), with its ``Content-Length``;
* ``endless()``: a chunked 200 answer that never ends (until the client goes
  away, the server stops, or :data:`_ENDLESS_CAP` bytes);
* ``trickle(seconds, interval)``: a chunked 200 answer of one byte every
  *interval* seconds for *seconds* seconds.

The last three record how they ended in :attr:`FaultServer.outcomes`:
``"finished"`` (everything was sent) or ``"client-gone"`` (the client closed
the connection first). A scripted handler (``script(path, callable)``) sees
each request's query and body in its :class:`SeenRequest`, so it can echo
them back.

For "connection refused" use :func:`closed_port_url`: a loopback URL where
nothing listens.

Everything is bounded: sockets have timeouts, hangs have a maximum, and
:meth:`FaultServer.stop` closes every connection and joins the threads.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from tests.support.redis_server import free_port

__all__ = ["Fault", "FaultServer", "SeenRequest", "closed_port_url"]

_MAX_HEADER = 65536
_IDLE_TIMEOUT = 5.0
_MAX_HANG = 10.0
#: The most an endless answer sends (64 MB), so that a client that reads everything still ends.
_ENDLESS_CAP = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def closed_port_url(path: str = "/") -> str:
    """``http://127.0.0.1:PORT<path>`` for a port nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}{path}"


@dataclass(frozen=True)
class Fault:
    """How the server answers one path; build with the class methods."""

    kind: str
    status_code: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0

    @classmethod
    def ok(cls, body: bytes | str = b"ok", status: int = 200, headers: dict[str, str] | None = None) -> Fault:
        data = body.encode() if isinstance(body, str) else body
        return cls("answer", status, data, tuple((headers or {"Content-Type": "text/plain"}).items()))

    @classmethod
    def status(cls, code: int, body: bytes | str = b"", headers: dict[str, str] | None = None) -> Fault:
        return cls.ok(body, code, headers)

    @classmethod
    def hang(cls, seconds: float = 3.0) -> Fault:
        return cls("hang", seconds=min(seconds, _MAX_HANG))

    @classmethod
    def reset(cls) -> Fault:
        return cls("reset", body=b"oauth_token=half&oauth_tok")

    @classmethod
    def truncate(cls) -> Fault:
        return cls("truncate", body=b"oauth_toke")

    @classmethod
    def huge(cls, size: int = 2 * 1024 * 1024) -> Fault:
        return cls("answer", 200, b"x" * size, (("Content-Type", "text/plain"),))

    @classmethod
    def non_utf8(cls) -> Fault:
        return cls(
            "answer", 200, b"oauth_token=\xff\xfe\xfa&x=\xc3\x28", (("Content-Type", "text/plain; charset=utf-8"),)
        )

    @classmethod
    def redirect(cls, location: str, code: int = 302) -> Fault:
        return cls("answer", code, b"", (("Location", location),))

    @classmethod
    def stream(cls, size: int) -> Fault:
        return cls("stream", 200, b"", (("Content-Type", "application/x-www-form-urlencoded"),), seconds=size)

    @classmethod
    def endless(cls) -> Fault:
        return cls("endless", 200, b"", (("Content-Type", "application/x-www-form-urlencoded"),))

    @classmethod
    def trickle(cls, seconds: float, interval: float) -> Fault:
        body = b"x" * max(1, int(seconds / interval))
        return cls("trickle", 200, body, (("Content-Type", "text/plain"),), seconds=interval)


@dataclass(frozen=True)
class SeenRequest:
    """One request the fault server read."""

    method: str
    path: str
    headers: dict[str, str]
    connection: int
    #: The request target as sent (path and query).
    target: str = ""
    #: The request body.
    body: bytes = b""


@dataclass
class _Connection:
    sock: socket.socket
    number: int
    thread: threading.Thread | None = None


@dataclass
class FaultServer:
    """The server; use ``with FaultServer() as server:`` (see the module docstring)."""

    default: Fault = field(default_factory=Fault.ok)
    name: str = "faults"
    #: 0 picks a free port; a fixed one lets a "refused" URL come alive later.
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._handlers: dict[str, Callable[[SeenRequest], Fault]] = {}
        self._connections: list[_Connection] = []
        self._seen: list[SeenRequest] = []
        self._outcomes: list[tuple[str, str]] = []
        self._accepted = 0
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, fault: Fault | Callable[[SeenRequest], Fault]) -> None:
        """Answer *path* with *fault* from now on (a callable picks the fault per request)."""
        with self._lock:
            if callable(fault) and not isinstance(fault, Fault):
                self._handlers[path] = fault
                self._faults.pop(path, None)
            else:
                self._faults[path] = fault
                self._handlers.pop(path, None)

    def fault_for(self, seen: SeenRequest) -> Fault:
        with self._lock:
            handler = self._handlers.get(seen.path)
            fault = self._faults.get(seen.path, self.default)
        return handler(seen) if handler is not None else fault

    # -- counters -------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """TCP connections accepted since start."""
        with self._lock:
            return self._accepted

    @property
    def seen(self) -> list[SeenRequest]:
        """Requests read since start (a copy)."""
        with self._lock:
            return list(self._seen)

    @property
    def outcomes(self) -> list[tuple[str, str]]:
        """``(path, "finished" | "client-gone")`` of each stream, endless or trickle answer that ended."""
        with self._lock:
            return list(self._outcomes)

    def wait_for_outcomes(self, count: int, timeout: float = 15.0) -> list[tuple[str, str]]:
        """:attr:`outcomes` once there are *count* of them (or *timeout* seconds have passed)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.outcomes) < count:
            time.sleep(0.02)
        return self.outcomes

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> FaultServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            conn.sock.close()
        for conn in connections:
            if conn.thread is not None:
                conn.thread.join(5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(_IDLE_TIMEOUT)
            with self._lock:
                self._accepted += 1
                conn = _Connection(sock, self._accepted)
                self._connections.append(conn)
            conn.thread = threading.Thread(
                target=self._serve, args=(conn,), name=f"{self.name}-conn-{conn.number}", daemon=True
            )
            conn.thread.start()

    def _serve(self, conn: _Connection) -> None:
        sock = conn.sock
        buffer = b""
        try:
            while not self._stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                    if len(buffer) > _MAX_HEADER:
                        return
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = ([*lines[0].split(" "), "", ""])[:3]
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                while len(buffer) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                seen = SeenRequest(method, target.partition("?")[0], headers, conn.number, target, body)
                with self._lock:
                    self._seen.append(seen)
                if not self._answer(sock, self.fault_for(seen), seen.path):
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def _answer(self, sock: socket.socket, fault: Fault, path: str) -> bool:
        """Send *fault*'s answer; True if the connection stays usable."""
        if fault.kind in ("stream", "endless", "trickle"):
            try:
                self._stream(sock, fault)
            except OSError:
                self._record(path, "client-gone")
                return False
            self._record(path, "finished")
            return fault.kind == "stream"
        if fault.kind == "hang":
            self._stopping.wait(fault.seconds)
            return False
        if fault.kind == "reset":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            sock.sendall(head + fault.body)
            time.sleep(0.05)  # let the client read the first bytes, then abort the connection
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if fault.kind == "truncate":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            sock.sendall(head + fault.body)
            sock.shutdown(socket.SHUT_WR)
            return False
        reason = _REASONS.get(fault.status_code, "Status")
        lines = [f"HTTP/1.1 {fault.status_code} {reason}"]
        lines += [f"{k}: {v}" for k, v in fault.headers]
        lines.append(f"Content-Length: {len(fault.body)}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + fault.body)
        return True

    def _record(self, path: str, outcome: str) -> None:
        with self._lock:
            self._outcomes.append((path, outcome))

    def _stream(self, sock: socket.socket, fault: Fault) -> None:
        """Send a stream, endless or trickle answer; OSError when the client went away."""
        lines = ["HTTP/1.1 200 OK", *(f"{k}: {v}" for k, v in fault.headers)]
        if fault.kind == "stream":
            size = int(fault.seconds)
            sock.sendall(("\r\n".join([*lines, f"Content-Length: {size}"]) + "\r\n\r\n").encode("latin-1"))
            block = b"x" * _CHUNK
            sent = 0
            while sent < size and not self._stopping.is_set():
                piece = block[: min(_CHUNK, size - sent)]
                sock.sendall(piece)
                sent += len(piece)
            return
        sock.sendall(("\r\n".join([*lines, "Transfer-Encoding: chunked"]) + "\r\n\r\n").encode("latin-1"))
        if fault.kind == "endless":
            block = b"a&" * (_CHUNK // 2)
            chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
            sent = 0
            while sent < _ENDLESS_CAP and not self._stopping.is_set():
                sock.sendall(chunk)
                sent += len(block)
        else:
            for byte in fault.body:
                if self._stopping.wait(fault.seconds):
                    break
                sock.sendall(b"1\r\n" + bytes([byte]) + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
