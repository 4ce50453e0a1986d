"""Soak: many users log in and call the provider at the same time; nobody sees anybody else.

N users (one thread and one cookie jar each) play a real login against the
test provider through a client app served on 127.0.0.1, then make K resource
calls each through the app; even-numbered users use ``def`` views, odd ones
``async def`` views. The app keeps each user's token in the session and hands
it to the library through ``fetch_token``. Every call answers with the
identity the provider saw for the token it was signed with.

Reported (printed) and checked: cross-user leaks (a call that came back with
another user's identity) must be 0, errors (non-200 answers or exceptions)
must be 0, and the process's RSS growth over the run (after a warm-up user)
must stay under a generous bound (``SOAK_RSS_MB``, 150 MB by default).

Size: small by default (10 users x 10 calls) so it runs in the default suite
(marked ``soak``). A longer run on demand::

    SOAK_USERS=200 SOAK_CALLS=100 /work/venv/bin/python -m pytest tests/reliability/test_soak.py -s
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, session, url_for

from flask_oauth1_async import OAuth
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientAppFactory
from tests.support.browser import Browser
from tests.support.views import PREFIX

USERS = int(os.environ.get("SOAK_USERS", "10"))
CALLS = int(os.environ.get("SOAK_CALLS", "10"))
RSS_BOUND_MB = float(os.environ.get("SOAK_RSS_MB", "150"))
JOIN_SECONDS = max(60.0, USERS * CALLS * 0.2)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def _fetch_token(name: str) -> dict[str, str] | None:
    stored = session.get("tok")
    return dict(stored) if isinstance(stored, dict) else None


def _routes(app: Flask, oauth: OAuth) -> None:
    @app.route("/s/login")
    def s_login() -> Any:
        return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

    @app.route("/a/login")
    async def a_login() -> Any:
        return await oauth.demo.authorize_redirect(url_for("a_callback", _external=True))

    @app.route("/s/callback")
    def s_callback() -> Any:
        token = oauth.demo.authorize_access_token()
        session["tok"] = {"oauth_token": token["oauth_token"], "oauth_token_secret": token["oauth_token_secret"]}
        return jsonify(screen_name=token["screen_name"])

    @app.route("/a/callback")
    async def a_callback() -> Any:
        token = await oauth.demo.authorize_access_token()
        session["tok"] = {"oauth_token": token["oauth_token"], "oauth_token_secret": token["oauth_token_secret"]}
        return jsonify(screen_name=token["screen_name"])

    @app.route("/s/me")
    def s_me() -> Any:
        return jsonify(user=oauth.demo.get("me").json()["user"])

    @app.route("/a/me")
    async def a_me() -> Any:
        resp = await oauth.demo.get("me")
        return jsonify(user=resp.json()["user"])


@pytest.mark.soak
def test_soak_users_never_see_each_other(provider: FakeProvider, client_app: ClientAppFactory) -> None:
    ca = client_app(provider, _routes, oauth_kwargs={"fetch_token": _fetch_token})
    tally: Counter[str] = Counter()
    problems: list[str] = []
    lock = threading.Lock()

    def name_of(number: int) -> str:
        return f"user{number}" if number >= 0 else "warmup"

    for number in (-2, *range(USERS)):
        provider.add_user(name_of(number))

    def user(number: int) -> None:
        name = name_of(number)
        prefix = PREFIX["sync" if number % 2 == 0 else "async"]
        try:
            with Browser() as browser:
                login = browser.login_via(ca.url + prefix + "/login", user=name)
                if login.response.status_code != 200 or login.response.json() != {"screen_name": name}:
                    with lock:
                        tally["errors"] += 1
                        problems.append(f"{name} login: {login.response.status_code} {login.response.text[:100]}")
                    return
                for _ in range(CALLS):
                    answer = browser.get(ca.url + prefix + "/me")
                    with lock:
                        tally["calls"] += 1
                        if answer.status_code != 200:
                            tally["errors"] += 1
                            problems.append(f"{name}: HTTP {answer.status_code} {answer.text[:100]}")
                        elif answer.json()["user"] != name:
                            tally["leaks"] += 1
                            problems.append(f"{name} got {answer.json()['user']}'s identity")
            with lock:
                tally["users"] += 1
        except Exception as exc:  # counted, and shown below
            with lock:
                tally["errors"] += 1
                problems.append(f"{name}: {exc!r}")

    user(-2)  # warm-up (imports, pools, loop thread) before the RSS baseline
    tally.clear()
    rss_before = _rss_kib()
    threads = [threading.Thread(target=user, args=(n,), name=f"soak-{n}") for n in range(USERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "a soak user did not finish in time"
    growth_mb = (_rss_kib() - rss_before) / 1024
    print(
        f"\nsoak: users={USERS} calls/user={CALLS} finished_users={tally['users']} calls={tally['calls']} "
        f"leaks={tally['leaks']} errors={tally['errors']} rss_growth={growth_mb:.1f} MB "
        f"provider_connections={provider.connections}"
    )
    assert problems == []
    assert tally["leaks"] == 0
    assert tally["errors"] == 0
    assert tally["users"] == USERS
    assert tally["calls"] == USERS * CALLS
    assert growth_mb < RSS_BOUND_MB, f"RSS grew by {growth_mb:.1f} MB"
