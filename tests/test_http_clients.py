"""The httpx clients behind a remote: they keep nothing from one call to the next, and run the user's hooks.

A remote's clients are shared by every request and every user of the app, so
a response cookie must never be stored in them: the next call, whoever makes
it, carries only the cookies given in ``client_kwargs``. The cookies come from
the side server (:mod:`tests.support.side_server`); a control shows that an
ordinary httpx client would have kept them.

Event hooks from ``client_kwargs``: plain ``event_hooks`` run in blocking and
in awaited calls; an ``async def`` hook there is refused with a
``ConfigurationError`` for blocking calls (every time, before anything is
sent) and run by awaited ones; ``async_event_hooks`` replace ``event_hooks``
for awaited calls. Hook runs are counted, never timed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flask import Flask, Response, jsonify, request

from flask_oauth1_async import ConfigurationError, OAuth
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientAppFactory
from tests.support.side_server import SideServer
from tests.support.views import PREFIX, VIEW_KINDS, catch_oauth_errors, token_from_headers, token_headers

# ------------------------------------------------------------------ response cookies


def _cookie_routes(side_url: str) -> Callable[[Flask, OAuth], None]:
    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/side/<action>")
        def s_side(action: str) -> Response:
            resp = oauth.demo.get(f"{side_url}/{action}", params={"v": request.args.get("v", "")})
            return jsonify(set_cookie=resp.headers.get_list("set-cookie"), seen=resp.json()["cookie"])

        @app.route("/a/side/<action>")
        async def a_side(action: str) -> Response:
            resp = await oauth.demo.get(f"{side_url}/{action}", params={"v": request.args.get("v", "")})
            return jsonify(set_cookie=resp.headers.get_list("set-cookie"), seen=resp.json()["cookie"])

    return setup


def test_side_server_cookie_is_storable_by_a_plain_client(side: SideServer) -> None:
    """Control: an ordinary httpx client keeps the side server's cookie, so the tests below can fail."""
    with httpx.Client(trust_env=False) as plain:
        plain.get(side.url + "/set", params={"v": "alice-session"})
        assert plain.get(side.url + "/echo").json() == {"cookie": "sid=alice-session"}


@pytest.mark.parametrize("configured", [False, True], ids=["no-client-cookies", "client-cookies"])
@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_shared_client_never_stores_response_cookies(
    mode: str,
    configured: bool,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    side: SideServer,
    http: httpx.Client,
) -> None:
    tokens = {user: provider.issue_token(user) for user in ("alice", "bob")}
    register: dict[str, Any] = {}
    if configured:
        register["client_kwargs"] = {"cookies": {"static": "1"}}
    ca = client_app(
        provider,
        _cookie_routes(side.url),
        oauth_kwargs={"fetch_token": lambda name: tokens[request.headers["X-User"]]},
        allowed_origins=[side.url],  # the side server: signed calls go there too
        **register,
    )
    expected = "static=1" if configured else None
    base = ca.url + PREFIX[mode]

    # Alice's call gets a session cookie from the server...
    resp = http.get(base + "/side/set", params={"v": "alice-session"}, headers={"X-User": "alice"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [c.split(";")[0] for c in body["set_cookie"]] == ["sid=alice-session"]
    assert body["seen"] == expected

    # ...which neither Bob's next call nor Alice's own next call carries.
    for user in ("bob", "alice", "bob"):
        resp = http.get(base + "/side/echo", headers={"X-User": user})
        assert resp.status_code == 200, resp.text
        assert resp.json()["seen"] == expected, f"{user}'s call carried {resp.json()['seen']!r}"


# ------------------------------------------------------------------ event hooks


class HookLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[tuple[str, str]] = []

    def add(self, kind: str, detail: str) -> None:
        with self._lock:
            self.entries.append((kind, detail))

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for kind, _ in self.entries]


def _hook_routes(app: Flask, oauth: OAuth) -> None:
    catch_oauth_errors(app)

    @app.route("/s/me")
    def s_me() -> Response:
        return jsonify(user=oauth.demo.get("me").json()["user"])

    @app.route("/a/me")
    async def a_me() -> Response:
        return jsonify(user=(await oauth.demo.get("me")).json()["user"])


def _hook_header(provider: FakeProvider, index: int) -> str | None:
    return provider.received("api", "me")[index].headers.get("X-Hook")


def test_sync_event_hooks_run_in_sync_and_async_calls(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    log = HookLog()

    def on_request(req: httpx.Request) -> None:
        log.add("request", req.url.path)
        req.headers["X-Hook"] = "sync-hook"

    def on_response(resp: httpx.Response) -> None:
        log.add("response", str(resp.status_code))

    hooks = {"request": [on_request], "response": [on_response]}
    ca = client_app(provider, _hook_routes, fetch_token=token_from_headers, client_kwargs={"event_hooks": hooks})
    headers = token_headers(provider.issue_token("alice"))
    for mode in VIEW_KINDS:
        resp = http.get(ca.url + PREFIX[mode] + "/me", headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"user": "alice"}
    assert log.entries == [("request", "/api/me"), ("response", "200")] * 2
    assert [_hook_header(provider, i) for i in range(2)] == ["sync-hook", "sync-hook"]


def test_async_hook_in_event_hooks_is_refused_for_blocking_calls(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    log = HookLog()

    async def on_request(req: httpx.Request) -> None:
        await asyncio.sleep(0)
        log.add("async-request", req.url.path)
        req.headers["X-Hook"] = "async-hook"

    ca = client_app(
        provider,
        _hook_routes,
        fetch_token=token_from_headers,
        client_kwargs={"event_hooks": {"request": [on_request]}},
    )
    headers = token_headers(provider.issue_token("alice"))
    for _ in range(2):  # refused every time, not only when the client is first built
        resp = http.get(ca.url + "/s/me", headers=headers)
        assert resp.status_code == 418, resp.text
        assert resp.json()["error"] == "ConfigurationError"
        assert "async_event_hooks" in resp.json()["message"]
    assert all(isinstance(e, ConfigurationError) for e in ca.app.config["CAUGHT"])
    assert len(provider.received("api", "me")) == 0
    assert log.entries == []
    # Awaited calls run it.
    resp = http.get(ca.url + "/a/me", headers=headers)
    assert resp.status_code == 200, resp.text
    assert log.kinds() == ["async-request"]
    assert _hook_header(provider, 0) == "async-hook"


def test_async_event_hooks_replace_event_hooks_for_awaited_calls(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    log = HookLog()

    def sync_hook(req: httpx.Request) -> None:
        log.add("sync", req.url.path)
        req.headers["X-Hook"] = "sync-hook"

    async def async_hook(req: httpx.Request) -> None:
        await asyncio.sleep(0)
        log.add("async", req.url.path)
        req.headers["X-Hook"] = "async-hook"

    ca = client_app(
        provider,
        _hook_routes,
        fetch_token=token_from_headers,
        client_kwargs={"event_hooks": {"request": [sync_hook]}, "async_event_hooks": {"request": [async_hook]}},
    )
    headers = token_headers(provider.issue_token("alice"))
    for mode in ("sync", "async", "sync", "async"):
        resp = http.get(ca.url + PREFIX[mode] + "/me", headers=headers)
        assert resp.status_code == 200, resp.text
    assert log.kinds() == ["sync", "async", "sync", "async"]
    assert [_hook_header(provider, i) for i in range(4)] == ["sync-hook", "async-hook"] * 2
