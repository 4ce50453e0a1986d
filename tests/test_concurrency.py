"""Fan-out inside one async view, and per-user isolation under concurrent load.

Overlap is proven by counting requests in flight at the provider
(``FakeProvider.max_in_flight``), never by wall-clock thresholds; wall times
are only printed (run with ``-s``).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask, Response, jsonify, session, url_for

from flask_oauth1_async import OAuth
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientAppFactory
from tests.support.browser import Browser
from tests.support.views import PREFIX, VIEW_KINDS

FAN_OUT = 10
SLOW_MS = 200
N_USERS = 20
N_CALLS = 520


# ------------------------------------------------------------------ fan-out


def _fan_routes(app: Flask, oauth: OAuth) -> None:
    @app.route("/a/fan")
    async def a_fan() -> Response:
        responses = await asyncio.gather(*(oauth.demo.get("slow", params={"ms": SLOW_MS}) for _ in range(FAN_OUT)))
        return jsonify(users=[r.json()["user"] for r in responses])

    @app.route("/s/fan")
    def s_fan() -> Response:
        responses = [oauth.demo.get("slow", params={"ms": SLOW_MS}) for _ in range(FAN_OUT)]
        return jsonify(users=[r.json()["user"] for r in responses])


@pytest.mark.parametrize(("mode", "expect_overlap"), [("async", True), ("sync", False)])
def test_fan_out(
    mode: str, expect_overlap: bool, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    tok = provider.issue_token("alice")
    ca = client_app(provider, _fan_routes, oauth_kwargs={"fetch_token": lambda name: tok})
    provider.reset_counters()
    started = time.perf_counter()
    resp = http.get(f"{ca.url}/{mode[0]}/fan")
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert resp.status_code == 200, resp.text
    assert resp.json()["users"] == ["alice"] * FAN_OUT
    in_flight_max = provider.max_in_flight
    print(
        f"\n[fan-out] {mode} view, {FAN_OUT} x /api/slow?ms={SLOW_MS}: "
        f"in_flight_max={in_flight_max}, wall={elapsed_ms:.0f} ms (not asserted)"
    )
    assert len(provider.received("api", "slow")) == FAN_OUT
    if expect_overlap:
        assert in_flight_max >= FAN_OUT
    else:
        assert in_flight_max == 1


CROSS = 8


def _cross_routes(app: Flask, oauth: OAuth) -> None:
    barrier = threading.Barrier(CROSS, timeout=20)

    @app.route("/s/slow")
    def s_slow() -> Response:
        barrier.wait()  # all CROSS requests are inside their views before anyone calls out
        return jsonify(user=oauth.demo.get("slow", params={"ms": SLOW_MS}).json()["user"])

    @app.route("/a/slow")
    async def a_slow() -> Response:
        barrier.wait()  # blocks only this request's own loop thread
        resp = await oauth.demo.get("slow", params={"ms": SLOW_MS})
        return jsonify(user=resp.json()["user"])


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_calls_from_concurrent_requests_overlap(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    """The shared sync client / the shared background loop do not serialise requests."""
    tok = provider.issue_token("alice")
    ca = client_app(provider, _cross_routes, oauth_kwargs={"fetch_token": lambda name: tok})
    provider.reset_counters()
    with (
        httpx.Client(timeout=30, trust_env=False) as http,
        ThreadPoolExecutor(max_workers=CROSS) as pool,
    ):
        responses = list(pool.map(lambda _: http.get(f"{ca.url}/{mode[0]}/slow"), range(CROSS)))
    assert [r.status_code for r in responses] == [200] * CROSS
    assert all(r.json()["user"] == "alice" for r in responses)
    in_flight_max = provider.max_in_flight
    print(f"\n[cross-request] {CROSS} concurrent {mode} requests x 1 slow call: in_flight_max={in_flight_max}")
    assert in_flight_max >= CROSS


# ------------------------------------------------------------------ isolation


def _isolation_routes(app: Flask, oauth: OAuth) -> None:
    def store(token: dict[str, str]) -> Response:
        session["tok"] = {"oauth_token": token["oauth_token"], "oauth_token_secret": token["oauth_token_secret"]}
        session["name"] = token["screen_name"]
        return jsonify(screen_name=token["screen_name"])

    @app.route("/s/login")
    def s_login() -> Response:
        return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

    @app.route("/s/callback")
    def s_callback() -> Response:
        return store(oauth.demo.authorize_access_token())

    @app.route("/a/login")
    async def a_login() -> Response:
        return await oauth.demo.authorize_redirect(url_for("a_callback", _external=True))

    @app.route("/a/callback")
    async def a_callback() -> Response:
        return store(await oauth.demo.authorize_access_token())

    @app.route("/s/me")
    def s_me() -> Response:
        resp = oauth.demo.get("me")
        return jsonify(user=resp.json()["user"], session_name=session.get("name"))

    @app.route("/a/me")
    async def a_me() -> Response:
        resp = await oauth.demo.get("me")
        return jsonify(user=resp.json()["user"], session_name=session.get("name"))


def _fetch_token_from_session(name: str) -> dict[str, str] | None:
    return session.get("tok")  # type: ignore[no-any-return]


def test_concurrent_users_never_see_each_others_data(provider: FakeProvider, client_app: ClientAppFactory) -> None:
    ca = client_app(provider, _isolation_routes, oauth_kwargs={"fetch_token": _fetch_token_from_session})
    users = [f"user{i:02d}" for i in range(N_USERS)]
    for name in users:
        provider.add_user(name)
    browsers = [Browser() for _ in users]
    try:
        # 1. Concurrent logins: even users through the sync views, odd through the async ones.
        def login(i: int) -> str:
            path = PREFIX["sync" if i % 2 == 0 else "async"] + "/login"
            result = browsers[i].login_via(ca.url + path, user=users[i])
            assert result.response.status_code == 200, result.response.text
            return str(result.response.json()["screen_name"])

        with ThreadPoolExecutor(max_workers=N_USERS) as pool:
            names = list(pool.map(login, range(N_USERS)))
        assert names == users
        assert len(provider.received("access_token")) == N_USERS

        # 2. Concurrent resource calls through both views, in a shuffled order.
        jobs = [(i % N_USERS, PREFIX["sync" if (i // N_USERS) % 2 == 0 else "async"] + "/me") for i in range(N_CALLS)]
        random.Random(1234).shuffle(jobs)

        def call(job: tuple[int, str]) -> tuple[int, str, int, str | None, str | None]:
            i, path = job
            resp = browsers[i].get(ca.url + path)
            body = resp.json() if resp.status_code == 200 else {}
            return i, path, resp.status_code, body.get("user"), body.get("session_name")

        provider.reset_counters()
        ca.server.reset_counters()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(call, jobs))
        elapsed = time.perf_counter() - started
        client_in_flight_max = ca.server.in_flight_max
    finally:
        for browser in browsers:
            browser.close()

    statuses = Counter(status for _, _, status, _, _ in results)
    leaks = [(users[i], path, user) for i, path, status, user, _ in results if status == 200 and user != users[i]]
    session_mixups = [(users[i], name) for i, _, status, _, name in results if status == 200 and name != users[i]]
    per_route = Counter(path for _, path, _, _, _ in results)
    print(
        f"\n[isolation] {N_USERS} users, {len(results)} concurrent calls ({dict(per_route)}): "
        f"statuses={dict(statuses)}, cross-user leaks={len(leaks)}, "
        f"client app in_flight_max={client_in_flight_max}, provider in_flight_max={provider.max_in_flight}, "
        f"wall={elapsed:.2f} s (not asserted)"
    )
    assert len(results) == N_CALLS >= 500
    assert per_route["/s/me"] >= 250
    assert per_route["/a/me"] >= 250
    assert client_in_flight_max >= 2  # the client app really served requests at the same time
    assert statuses == Counter({200: N_CALLS})
    assert leaks == []
    assert session_mixups == []
    assert len(provider.received("api", "me")) == N_CALLS
