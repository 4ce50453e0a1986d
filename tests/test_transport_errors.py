"""Network failures become ``TransportError`` (an Authlib ``OAuthError`` too), sync and async.

Real faults (a closed port, a slow provider) and faults a real server cannot
easily produce (``httpx.MockTransport`` raising mid-response) are covered for
resource calls and for both steps of the login dance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from flask import Flask, Response, jsonify, request, url_for

from flask_oauth1_async import OAuth, OAuth1Error, RequestTimeoutError, TransportError
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.browser import Browser
from tests.support.views import PREFIX, VIEW_KINDS


def _error_info(exc: BaseException) -> dict[str, Any]:
    cause = exc.__cause__
    return {
        "type": type(exc).__name__,
        "is_transport_error": isinstance(exc, TransportError),
        "is_timeout_error": isinstance(exc, RequestTimeoutError),
        "is_oauth1_error": isinstance(exc, OAuth1Error),
        "is_authlib_oauth_error": isinstance(exc, AuthlibOAuthError),
        "cause_type": type(cause).__name__ if cause is not None else None,
        "cause_module": type(cause).__module__ if cause is not None else None,
        "original_is_cause": getattr(exc, "original", None) is cause,
        "url": getattr(exc, "url", None),
        "message": str(exc),
    }


def _routes(app: Flask, oauth: OAuth) -> None:
    """/s/call?path=... and /a/call?path=...: one resource call, errors reported as JSON."""

    @app.route("/s/call")
    def s_call() -> Response:
        try:
            resp = oauth.demo.get(request.args["path"])
        except Exception as exc:
            return jsonify(error=_error_info(exc))
        return jsonify(status=resp.status_code, body=resp.text)

    @app.route("/a/call")
    async def a_call() -> Response:
        try:
            resp = await oauth.demo.get(request.args["path"])
        except Exception as exc:
            return jsonify(error=_error_info(exc))
        return jsonify(status=resp.status_code, body=resp.text)

    # The login dance, errors reported as JSON with status 502.
    @app.route("/s/login")
    def s_login() -> Any:
        try:
            return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))
        except Exception as exc:
            return jsonify(error=_error_info(exc)), 502

    @app.route("/s/callback")
    def s_callback() -> Any:
        try:
            token = oauth.demo.authorize_access_token()
        except Exception as exc:
            return jsonify(error=_error_info(exc)), 502
        return jsonify(screen_name=token["screen_name"])

    @app.route("/a/login")
    async def a_login() -> Any:
        try:
            return await oauth.demo.authorize_redirect(url_for("a_callback", _external=True))
        except Exception as exc:
            return jsonify(error=_error_info(exc)), 502

    @app.route("/a/callback")
    async def a_callback() -> Any:
        try:
            token = await oauth.demo.authorize_access_token()
        except Exception as exc:
            return jsonify(error=_error_info(exc)), 502
        return jsonify(screen_name=token["screen_name"])


def _serve(client_app: ClientAppFactory, provider: FakeProvider, **register: Any) -> ClientApp:
    tok = provider.issue_token("alice")
    register.setdefault("fetch_token", lambda: tok)
    return client_app(provider, _routes, **register)


def _call(http: httpx.Client, ca: ClientApp, mode: str, path: str) -> dict[str, Any]:
    resp = http.get(f"{ca.url}/{mode[0]}/call", params={"path": path})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _assert_transport_error(info: dict[str, Any], *, timeout: bool = False) -> None:
    assert info["is_transport_error"] is True, info
    assert info["is_oauth1_error"] is True
    assert info["is_authlib_oauth_error"] is True
    assert info["cause_module"] == httpx.__name__, info  # httpx, or httpx2 in nox -s tests_httpx2
    assert info["original_is_cause"] is True
    assert info["is_timeout_error"] is timeout, info
    assert info["type"] == ("RequestTimeoutError" if timeout else "TransportError"), info


# ------------------------------------------------------------------ real faults


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_connection_refused(
    mode: str, closed_port: int, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider, api_base_url=f"http://127.0.0.1:{closed_port}/api")
    info = _call(http, ca, mode, "me?secret_in_query=1")["error"]
    _assert_transport_error(info)
    assert info["cause_type"] == "ConnectError"
    assert info["url"] == f"http://127.0.0.1:{closed_port}/api/me"  # no query string
    assert "secret_in_query" not in info["message"]
    # The registry still works for a reachable absolute URL afterwards.
    ok = _call(http, ca, mode, provider.url + "/api/me")
    assert ok["status"] == 200


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_timeout(mode: str, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client) -> None:
    ca = _serve(client_app, provider, client_kwargs={"timeout": 0.2})
    info = _call(http, ca, mode, "slow?ms=1000")["error"]
    _assert_transport_error(info, timeout=True)
    assert info["cause_type"] == "ReadTimeout"
    assert issubclass(RequestTimeoutError, TransportError)
    # A fast call on the same remote still succeeds (the pool recovered).
    assert _call(http, ca, mode, "me")["status"] == 200


# ------------------------------------------------------------------ mocked faults


class _BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends one chunk, then fails with *error*."""

    def __init__(self, error: Callable[[], Exception]) -> None:
        self._error = error

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"partial": '
        raise self._error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"partial": '
        raise self._error()


def _mock_handler(fault: str) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"].startswith("OAuth ")  # signed before sending
        if fault == "protocol_mid_response":
            stream = _BrokenStream(
                lambda: httpx.RemoteProtocolError("peer closed connection mid-body", request=request)
            )
            return httpx.Response(200, headers={"Content-Length": "1000"}, stream=stream)
        if fault == "read_error_mid_response":
            stream = _BrokenStream(lambda: httpx.ReadError("connection reset by peer", request=request))
            return httpx.Response(200, stream=stream)
        if fault == "protocol_error":
            raise httpx.RemoteProtocolError("illegal status line: b'HTTP/9'", request=request)
        if fault == "connect_timeout":
            raise httpx.ConnectTimeout("timed out connecting", request=request)
        if fault == "ok":
            return httpx.Response(200, json={"user": "mocked"})
        raise AssertionError(fault)  # pragma: no cover

    return handler


MOCK_FAULTS = {
    "protocol_mid_response": ("RemoteProtocolError", False),
    "read_error_mid_response": ("ReadError", False),
    "protocol_error": ("RemoteProtocolError", False),
    "connect_timeout": ("ConnectTimeout", True),
}


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("fault", sorted(MOCK_FAULTS))
def test_mock_transport_faults(
    fault: str, mode: str, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    transport = httpx.MockTransport(_mock_handler(fault))
    ca = _serve(client_app, provider, client_kwargs={"transport": transport, "async_transport": transport})
    info = _call(http, ca, mode, "me")["error"]
    cause, is_timeout = MOCK_FAULTS[fault]
    _assert_transport_error(info, timeout=is_timeout)
    assert info["cause_type"] == cause
    assert info["url"] == provider.url + "/api/me"
    assert len(provider.received("api", "me")) == 0  # nothing went to the real provider


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_mock_transport_success_path(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    """Sanity check of the mock wiring: the same transports serve a good answer."""
    transport = httpx.MockTransport(_mock_handler("ok"))
    ca = _serve(client_app, provider, client_kwargs={"transport": transport, "async_transport": transport})
    body = _call(http, ca, mode, "me")
    assert body == {"status": 200, "body": '{"user":"mocked"}'}


# ------------------------------------------------------------------ the dance


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_request_token_endpoint_unreachable(
    mode: str, closed_port: int, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, request_token_url=f"http://127.0.0.1:{closed_port}/request_token")
    with Browser() as browser:
        resp = browser.get(ca.url + PREFIX[mode] + "/login")
    assert resp.status_code == 502, resp.text
    info = resp.json()["error"]
    _assert_transport_error(info)
    assert info["cause_type"] == "ConnectError"
    assert info["url"] == f"http://127.0.0.1:{closed_port}/request_token"


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_access_token_endpoint_unreachable(
    mode: str, closed_port: int, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, access_token_url=f"http://127.0.0.1:{closed_port}/access_token")
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login", user="alice")
    assert result.response.status_code == 502, result.response.text
    info = result.response.json()["error"]
    _assert_transport_error(info)
    assert info["cause_type"] == "ConnectError"
    assert info["url"] == f"http://127.0.0.1:{closed_port}/access_token"
    assert len(provider.received("request_token")) == 1
    assert len(provider.received("access_token")) == 0


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_access_token_timeout(mode: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    """A hung token endpoint (mocked) gives RequestTimeoutError during the dance."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("token endpoint hung", request=request)

    transport = httpx.MockTransport(handler)
    ca = _serve(client_app, provider, client_kwargs={"transport": transport, "async_transport": transport})
    with Browser() as browser:
        resp = browser.get(ca.url + PREFIX[mode] + "/login")
    assert resp.status_code == 502, resp.text
    info = resp.json()["error"]
    _assert_transport_error(info, timeout=True)
    assert info["cause_type"] == "ReadTimeout"


# ------------------------------------------------------------------ cancellation


def _cancel_routes(app: Flask, oauth: OAuth) -> None:
    @app.route("/a/cancel")
    async def a_cancel() -> Response:
        try:
            await asyncio.wait_for(oauth.demo.get("slow", params={"ms": "1000"}), 0.1)
        except asyncio.TimeoutError:
            cancelled = True
        else:  # pragma: no cover - only on a badly stalled machine
            cancelled = False
        after = await oauth.demo.get("me", params={"after": "cancel"})
        return jsonify(cancelled=cancelled, after=after.json())

    @app.route("/a/orphan")
    async def a_orphan() -> Response:
        # A task still pending when the view returns is cancelled by Flask/asgiref.
        orphan = asyncio.ensure_future(oauth.demo.get("slow", params={"ms": "300"}))
        await asyncio.sleep(0)
        return jsonify(ok=not orphan.done())

    @app.route("/a/me")
    async def a_me() -> Response:
        resp = await oauth.demo.get("me")
        return jsonify(resp.json())


def test_cancelled_calls_do_not_poison_the_pool(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    tok = provider.issue_token("alice")
    ca = client_app(provider, _cancel_routes, fetch_token=lambda: tok)
    body = http.get(ca.url + "/a/cancel").json()
    assert body["cancelled"] is True
    # The next call on the same pooled client gets its own answer, not the cancelled one's.
    assert body["after"]["args"] == {"after": "cancel"}
    assert body["after"]["user"] == "alice"
    for _ in range(3):
        assert http.get(ca.url + "/a/orphan").json() == {"ok": True}
    for _ in range(3):
        me = http.get(ca.url + "/a/me").json()
        assert me["user"] == "alice"
        assert "slept_ms" not in me
    problems = [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.WARNING]
    assert problems == []
