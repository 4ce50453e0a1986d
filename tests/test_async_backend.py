"""The named async backends: ``client_kwargs={"async_transport": "aiohttp"}`` (or ``"httpx"``).

Awaited calls on the aiohttp backend must behave as on httpx's own transport:
the same typed errors for the same faults (a dropped connection is not a
timeout), a proxy from ``client_kwargs`` is used, response cookies are never
kept, and settings the backend cannot honour fail with a
``ConfigurationError`` that says what to do. Every server here is a real one
on 127.0.0.1 (the fault server of :mod:`tests.support.faults`, the side
server), started and stopped by the test.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme
from flask import Flask

import flask_oauth1_async._backends as backends_mod
from flask_oauth1_async import ConfigurationError, OAuth, RequestTimeoutError, TransportError
from flask_oauth1_async._loop_thread import loop_thread
from flask_oauth1_async._pools import ClientPool
from flask_oauth1_async._tls import default_ssl_context
from tests.support.faults import Fault, FaultServer, closed_port_url
from tests.support.side_server import SideServer

BACKENDS = ("httpx", "aiohttp")
TOKEN = {"oauth_token": "tok", "oauth_token_secret": "tok-secret"}


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    server = FaultServer(name="backend-faults").start()
    try:
        yield server
    finally:
        server.stop()


def _remote(
    client_kwargs: dict[str, Any], base: str = "http://127.0.0.1:9", elsewhere: tuple[str, ...] = ()
) -> tuple[Flask, OAuth]:
    """The remote ``demo`` at *base*; signed calls may also go to the URLs *elsewhere* (their origins)."""
    app = Flask("backend-test")
    app.secret_key = "k"
    oauth = OAuth(app)
    oauth.register(
        "demo",
        client_id="cid",
        client_secret="csecret",
        request_token_url=base + "/request_token",
        access_token_url=base + "/access_token",
        authorize_url=base + "/authorize",
        api_base_url=base + "/api/",
        client_kwargs=client_kwargs,
        allowed_origins=[_origin(url) for url in elsewhere],
    )
    return app, oauth


def _origin(url: str) -> str:
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}:{parts.port}"


def _awaited_get(app: Flask, oauth: OAuth, url: str) -> httpx.Response:
    with app.test_request_context():
        remote = oauth.create_client("demo")
        return asyncio.run(remote.get_async(url, token=TOKEN))


def _awaited_error(app: Flask, oauth: OAuth, url: str) -> BaseException:
    with pytest.raises(TransportError) as caught:
        _awaited_get(app, oauth, url)
    return caught.value


def test_named_aiohttp_backend_is_used_for_awaited_calls_only(faults: FaultServer) -> None:
    faults.script("/api/me", Fault.ok('{"user": "alice"}', headers={"Content-Type": "application/json"}))
    app, oauth = _remote({"async_transport": "aiohttp"}, faults.url)
    try:
        assert _awaited_get(app, oauth, "me").json() == {"user": "alice"}
        with app.app_context():
            pool = oauth._binding("demo").pool
            assert type(pool.async_client(loop_thread.home())._transport).__name__ == "FastAsyncTransport"
            assert isinstance(pool.sync_client()._transport, httpx.HTTPTransport)
        seen = [s for s in faults.seen if s.path == "/api/me"]
        assert len(seen) == 1
        assert seen[0].headers["authorization"].startswith("OAuth ")
        assert "transfer-encoding" not in seen[0].headers
    finally:
        oauth.close()


def test_named_httpx_backend_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends_mod, "default_async_transport", "aiohttp")
    pool = ClientPool("demo", {"async_transport": "httpx"})
    assert "transport" not in pool._client_kwargs("async")
    aio = ClientPool("other", {})
    assert type(aio._client_kwargs("async")["transport"]).__name__ == "FastAsyncTransport"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("fault", "timed_out"),
    [(Fault.reset(), False), (Fault.truncate(), False), (Fault.hang(0.05), False), (Fault.hang(3.0), True)],
    ids=["reset", "truncate", "closed-unanswered", "hang"],
)
def test_same_typed_error_for_the_same_fault(backend: str, fault: Fault, timed_out: bool, faults: FaultServer) -> None:
    """A connection closed before any answer (hang 0.05 s, then close) must not read as a timeout."""
    faults.script("/api/x", fault)
    app, oauth = _remote({"async_transport": backend, "timeout": httpx.Timeout(5.0, read=0.3)}, faults.url)
    try:
        error = _awaited_error(app, oauth, "x")
    finally:
        oauth.close()
    assert isinstance(error, RequestTimeoutError) is timed_out, repr(error)
    assert isinstance(error.__cause__, httpx.TransportError)
    assert isinstance(error.__cause__, httpx.TimeoutException) is timed_out, repr(error.__cause__)


@pytest.mark.parametrize("backend", BACKENDS)
def test_refused_connection_is_a_connect_error(backend: str) -> None:
    refused = closed_port_url("/api/x")
    app, oauth = _remote({"async_transport": backend}, elsewhere=(refused,))
    try:
        error = _awaited_error(app, oauth, refused)
    finally:
        oauth.close()
    assert not isinstance(error, RequestTimeoutError)
    assert isinstance(error.__cause__, httpx.ConnectError), repr(error.__cause__)


@pytest.mark.parametrize("backend", BACKENDS)
def test_proxy_from_client_kwargs_is_used(backend: str, faults: FaultServer) -> None:
    """The fault server plays an HTTP proxy: it gets the absolute URL, signed, and answers itself."""
    target = closed_port_url("/api/via-proxy")  # never connected to: the proxy answers
    faults.script(target, Fault.ok('{"via": "proxy"}', headers={"Content-Type": "application/json"}))
    app, oauth = _remote({"async_transport": backend, "proxy": faults.url}, elsewhere=(target,))
    try:
        assert _awaited_get(app, oauth, target).json() == {"via": "proxy"}
    finally:
        oauth.close()
    seen = [s for s in faults.seen if s.path == target]
    assert len(seen) == 1
    assert seen[0].headers["authorization"].startswith("OAuth ")


def test_aiohttp_backend_keeps_no_response_cookie(side: SideServer) -> None:
    """By the name ``localhost`` (still 127.0.0.1): aiohttp's own jar refuses cookies of IP hosts anyway."""
    base = side.url.replace("127.0.0.1", "localhost")
    app, oauth = _remote({"async_transport": "aiohttp"}, elsewhere=(base,))
    try:
        first = _awaited_get(app, oauth, base + "/set?v=alice-session")
        assert first.headers.get("set-cookie", "").startswith("sid=alice-session")
        for _ in range(2):
            assert _awaited_get(app, oauth, base + "/echo").json() == {"cookie": None}
    finally:
        oauth.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_followed_redirect_is_sent_without_a_body(backend: str, faults: FaultServer) -> None:
    """httpx hands the followed request the first one's stream unread; it must not go out as a chunked body."""
    faults.script("/api/moved", Fault.redirect(faults.url + "/api/here"))
    faults.script("/api/here", Fault.ok('{"ok": 1}', headers={"Content-Type": "application/json"}))
    app, oauth = _remote({"async_transport": backend}, faults.url)
    try:
        with app.test_request_context():
            remote = oauth.create_client("demo")
            answer = asyncio.run(remote.get_async("moved", token=TOKEN, follow_redirects=True))
    finally:
        oauth.close()
    assert answer.json() == {"ok": 1}
    assert [(s.method, s.path) for s in faults.seen] == [("GET", "/api/moved"), ("GET", "/api/here")]
    assert all("transfer-encoding" not in s.headers for s in faults.seen)


def test_unknown_backend_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'curl'"):
        ClientPool("demo", {"async_transport": "curl"})._client_kwargs("async")


def test_http2_is_refused_on_the_aiohttp_backend() -> None:
    pool = ClientPool("demo", {"async_transport": "aiohttp", "http2": True})
    with pytest.raises(ConfigurationError, match="http2"):
        pool._client_kwargs("async")
    assert pool._client_kwargs("sync")["http2"] is True


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx_aiohttp", None)
    monkeypatch.setitem(sys.modules, "httpx_aiohttp.httpx2", None)  # its module for httpx2
    with pytest.raises(ConfigurationError, match=r"flask_oauth1_async\[aiohttp\]"):
        ClientPool("demo", {"async_transport": "aiohttp"})._client_kwargs("async")


@pytest.mark.parametrize("backend", BACKENDS)
def test_client_certificate_never_goes_into_the_shared_context(backend: str, tmp_path: Any) -> None:
    ca = trustme.CA()
    pem = tmp_path / "client.pem"
    ca.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(str(pem))
    shared = default_ssl_context()
    assert ClientPool("plain", {})._client_kwargs("sync")["verify"] is shared
    with_cert = ClientPool("with-cert", {"cert": str(pem), "async_transport": backend})
    contexts = [with_cert._client_kwargs("sync")["verify"]]
    async_kwargs = with_cert._client_kwargs("async")
    if backend == "aiohttp":
        contexts.append(async_kwargs["transport"].ssl_context)
        assert "cert" not in async_kwargs  # the transport holds it, httpx never sees it
    else:
        contexts.append(async_kwargs["verify"])
    for context in contexts:
        assert isinstance(context, ssl.SSLContext)
        assert context is not shared
