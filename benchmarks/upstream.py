"""The fast local upstream: an asyncio HTTP/1.1 server in its own process.

It must never be the slow point, so it is small: hand-written request
parsing on :class:`asyncio.Protocol`, precomputed responses, HTTP/1.1
keep-alive, ``TCP_NODELAY``, and it runs in a separate (``spawn``) process so
it does not share the GIL with the clients being measured. It listens twice
on 127.0.0.1: plain HTTP and HTTPS (trustme certificates).

Paths:

``/api/...``       a small JSON body (401 if there is no ``Authorization: OAuth`` header)
``/slow/api/...``  the same after an added latency (``?ms=N``, default ``latency_ms``),
                   without blocking other connections
anything else      the same JSON; unsigned requests allowed

Over HTTPS it also speaks HTTP/2 (ALPN ``h2``, with the ``h2`` package; when
it is missing only ``http/1.1`` is offered), so that ``http2=True`` clients
are measured on HTTP/2. Clients that offer no ``h2`` get HTTP/1.1 as before.

It does not verify signatures (the correctness suite does that). It counts,
in shared memory the parent reads at any time: accepted TCP connections per
listener, requests, and ``/api`` requests that were not signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import ssl
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = ["Upstream"]

HTTP_CONNECTIONS, HTTPS_CONNECTIONS, REQUESTS, UNSIGNED = range(4)

_BODY = b'{"user": "alice", "user_id": "1234567", "ok": true}'


def _response(status: bytes, body: bytes, close: bool) -> bytes:
    return b"".join(
        (
            b"HTTP/1.1 ",
            status,
            b"\r\nContent-Type: application/json\r\nContent-Length: ",
            str(len(body)).encode(),
            b"\r\nConnection: ",
            b"close" if close else b"keep-alive",
            b"\r\n\r\n",
            body,
        )
    )


_RESPONSES = {
    (200, False): _response(b"200 OK", _BODY, False),
    (200, True): _response(b"200 OK", _BODY, True),
    (401, False): _response(b"401 Unauthorized", b'{"error": "unsigned"}', False),
    (401, True): _response(b"401 Unauthorized", b'{"error": "unsigned"}', True),
}
_BAD_REQUEST = _response(b"400 Bad Request", b'{"error": "bad request"}', True)
_MAX_HEAD = 65536


class _Connection(asyncio.Protocol):
    """One client connection: parse requests one at a time, answer in order."""

    def __init__(self, counters: Any, index: int, latency_s: float) -> None:
        self.counters = counters
        self.index = index
        self.latency_s = latency_s
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting = False

        self.h2: _H2 | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.counters[self.index] += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = transport.get_extra_info("ssl_object")
        if tls is not None and tls.selected_alpn_protocol() == "h2":
            self.h2 = _H2(transport, self.counters, self.latency_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.h2 is not None:
            self.h2.transport = None

    def data_received(self, data: bytes) -> None:
        if self.h2 is not None:
            self.h2.received(data)
            return
        self.buffer += data
        self._process()

    def _process(self) -> None:
        while not self.waiting and self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self._send(_BAD_REQUEST, True)
                return
            lines = bytes(self.buffer[:end]).split(b"\r\n")
            parts = lines[0].split(b" ")
            if len(parts) != 3:
                self._send(_BAD_REQUEST, True)
                return
            target, version = parts[1], parts[2]
            length = 0
            close = version == b"HTTP/1.0"
            signed = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    token = value.strip().lower()
                    close = token == b"close" or (close and token != b"keep-alive")
                elif name == b"authorization":
                    signed = value.strip()[:6].lower() == b"oauth "
                elif name == b"transfer-encoding":
                    self._send(_BAD_REQUEST, True)  # no client here sends chunked bodies
                    return
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self.counters[REQUESTS] += 1
            path, _, query = target.partition(b"?")
            status = 200
            if b"/api/" in path and not signed:
                self.counters[UNSIGNED] += 1
                status = 401
            response = _RESPONSES[(status, close)]
            if path.startswith(b"/slow"):
                delay = self.latency_s
                for item in query.split(b"&"):
                    if item.startswith(b"ms="):
                        delay = int(item[3:]) / 1000.0
                if delay > 0:
                    self.waiting = True
                    asyncio.get_running_loop().call_later(delay, self._delayed, response, close)
                    return
            self._send(response, close)

    def _delayed(self, response: bytes, close: bool) -> None:
        self.waiting = False
        self._send(response, close)
        self._process()

    def _send(self, response: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        transport.write(response)
        if close:
            transport.close()
            self.transport = None


class _H2:
    """The HTTP/2 side of one connection (the ``h2`` state machine; answers are the same JSON)."""

    def __init__(self, transport: asyncio.Transport, counters: Any, latency_s: float) -> None:
        import h2.config
        import h2.connection

        self.transport: asyncio.Transport | None = transport
        self.counters = counters
        self.latency_s = latency_s
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.conn.initiate_connection()
        self.requests: dict[int, tuple[bytes, bool]] = {}
        self._flush()

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    def received(self, data: bytes) -> None:
        import h2.events
        import h2.exceptions

        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = dict(event.headers)
                signed = headers.get(b"authorization", b"")[:6].lower() == b"oauth "
                self.requests[event.stream_id] = (headers.get(b":path", b"/"), signed)
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._answer(event.stream_id)
        self._flush()

    def _answer(self, stream_id: int) -> None:
        target, signed = self.requests.pop(stream_id, (b"/", False))
        self.counters[REQUESTS] += 1
        path, _, query = target.partition(b"?")
        status, body = 200, _BODY
        if b"/api/" in path and not signed:
            self.counters[UNSIGNED] += 1
            status, body = 401, b'{"error": "unsigned"}'
        delay = 0.0
        if path.startswith(b"/slow"):
            delay = self.latency_s
            for item in query.split(b"&"):
                if item.startswith(b"ms="):
                    delay = int(item[3:]) / 1000.0
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._send, stream_id, status, body)
        else:
            self._send(stream_id, status, body)

    def _send(self, stream_id: int, status: int, body: bytes) -> None:
        if self.transport is None:
            return
        headers = [(b":status", str(status).encode()), (b"content-type", b"application/json")]
        headers.append((b"content-length", str(len(body)).encode()))
        self.conn.send_headers(stream_id, headers)
        self.conn.send_data(stream_id, body, end_stream=True)
        self._flush()


def _serve(counters: Any, certfile: str, keyfile: str, latency_ms: float, conn: Any) -> None:
    """Process entry point: serve until the parent says stop (or goes away)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certfile, keyfile)
        try:
            import h2  # noqa: F401 - HTTP/2 is offered only when it can be spoken

            tls.set_alpn_protocols(["h2", "http/1.1"])
        except ImportError:
            tls.set_alpn_protocols(["http/1.1"])
        latency = latency_ms / 1000.0
        plain = await loop.create_server(
            lambda: _Connection(counters, HTTP_CONNECTIONS, latency), "127.0.0.1", 0, backlog=1024
        )
        secure = await loop.create_server(
            lambda: _Connection(counters, HTTPS_CONNECTIONS, latency), "127.0.0.1", 0, ssl=tls, backlog=1024
        )
        conn.send((plain.sockets[0].getsockname()[1], secure.sockets[0].getsockname()[1]))
        stop = loop.create_future()

        def on_message() -> None:
            if not stop.done():
                stop.set_result(None)

        loop.add_reader(conn.fileno(), on_message)  # a message or EOF (parent gone)
        try:
            await stop
        finally:
            loop.remove_reader(conn.fileno())
            plain.close()
            secure.close()
            await plain.wait_closed()
            await secure.wait_closed()

    asyncio.run(main())


@dataclass
class Upstream:
    """Parent-side handle of the upstream process (a context manager)."""

    certfile: str
    keyfile: str
    latency_ms: float = 100.0

    def __post_init__(self) -> None:
        self._process: Any = None
        self._conn: Any = None
        self._counters: Any = None
        self.http_port = 0
        self.https_port = 0

    def start(self) -> Upstream:
        ctx = multiprocessing.get_context("spawn")
        self._counters = ctx.Array("q", 4, lock=False)
        parent, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve,
            args=(self._counters, self.certfile, self.keyfile, self.latency_ms, child),
            name="bench-upstream",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        try:
            if not parent.poll(30):
                raise EOFError
            self.http_port, self.https_port = parent.recv()
        except EOFError:
            self.stop()
            raise RuntimeError("the upstream process did not start (see its traceback above)") from None
        return self

    def stop(self) -> None:
        """Tell the process to stop and wait for it (terminate it if it hangs)."""
        proc, self._process = self._process, None
        if proc is None:
            return
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        self._conn.close()

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def base_url(self, scheme: str) -> str:
        port = self.https_port if scheme == "https" else self.http_port
        return f"{scheme}://127.0.0.1:{port}"

    def connections(self, scheme: str) -> int:
        """TCP connections accepted so far on the *scheme* listener."""
        return int(self._counters[HTTPS_CONNECTIONS if scheme == "https" else HTTP_CONNECTIONS])

    def all_connections(self) -> int:
        return self.connections("http") + self.connections("https")

    @property
    def requests(self) -> int:
        return int(self._counters[REQUESTS])

    @property
    def unsigned(self) -> int:
        """``/api`` requests that arrived without an OAuth ``Authorization`` header."""
        return int(self._counters[UNSIGNED])
