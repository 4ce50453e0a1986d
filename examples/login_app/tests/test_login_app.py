"""The login example, tested only with flask_oauth1_async's public testing helpers.

``oauth1_provider`` (a fake OAuth 1.0a provider on 127.0.0.1) and
``oauth1_login`` (the whole login through the test client) come from the
opt-in plugin named in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, redirect

from flask_oauth1_async.testing import FakeProvider

Login = Callable[..., Any]


def stored_accounts(tmp_path: Path) -> list[tuple[str, str]]:
    with contextlib.closing(
        sqlite3.connect(tmp_path / "login_app.sqlite3")
    ) as con:  # closing: a sqlite3 "with" only commits
        return con.execute("SELECT provider, user_id FROM stored_tokens ORDER BY id").fetchall()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_login_shows_the_profile(
    kind: str, app: Flask, oauth1_provider: FakeProvider, oauth1_login: Login, tmp_path: Path
) -> None:
    client = app.test_client()
    resp = oauth1_login(client, f"/{kind}/login", user="bob", follow_redirects=True)
    assert resp.status_code == 200
    assert resp.request.path == f"/{kind}/profile"
    assert "bob" in resp.get_data(as_text=True)
    # the token was saved, and the profile call was signed with it
    assert stored_accounts(tmp_path) == [("demo", oauth1_provider.users["bob"]["user_id"])]
    (call,) = oauth1_provider.calls
    assert (call.method, call.path, call.signed, call.valid, call.user) == ("GET", "me", True, True, "bob")
    assert call.token in oauth1_provider.access_tokens("bob")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_fanout_uses_the_stored_token_for_every_call(
    kind: str, app: Flask, oauth1_provider: FakeProvider, oauth1_login: Login
) -> None:
    client = app.test_client()
    oauth1_login(client, f"/{kind}/login", user="alice")
    resp = client.get(f"/{kind}/fanout")
    assert resp.status_code == 200
    assert sorted(c.path for c in oauth1_provider.calls) == ["followers", "me", "notifications", "timeline"]
    assert {c.user for c in oauth1_provider.calls} == {"alice"}


def test_denied_login_shows_the_cancel_page(app: Flask, oauth1_login: Login, tmp_path: Path) -> None:
    resp = oauth1_login(app.test_client(), "/async/login", deny=True)
    assert resp.status_code == 403
    assert "Sign-in cancelled" in resp.get_data(as_text=True)
    assert stored_accounts(tmp_path) == []


def test_refused_access_token_shows_the_failure_page(
    app: Flask, oauth1_provider: FakeProvider, oauth1_login: Login
) -> None:
    oauth1_provider.fail_next("access_token", 401)
    resp = oauth1_login(app.test_client(), "/sync/login")
    assert resp.status_code == 400
    assert "Sign-in failed" in resp.get_data(as_text=True)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_revoked_token_is_forgotten(
    kind: str, app: Flask, oauth1_provider: FakeProvider, oauth1_login: Login, tmp_path: Path
) -> None:
    client = app.test_client()
    oauth1_login(client, f"/{kind}/login", user="alice")
    oauth1_provider.revoke("alice")
    resp = client.get(f"/{kind}/profile")
    assert resp.status_code == 401
    assert "Please sign in again" in resp.get_data(as_text=True)
    assert stored_accounts(tmp_path) == []


def test_provider_outage_shows_the_trouble_page(app: Flask, oauth1_provider: FakeProvider, oauth1_login: Login) -> None:
    client = app.test_client()
    oauth1_provider.fail_next("request_token", 503)
    resp = client.get("/sync/login")
    assert resp.status_code == 502
    assert "not answering properly" in resp.get_data(as_text=True)


def test_logout_deletes_the_token(app: Flask, oauth1_login: Login, tmp_path: Path) -> None:
    client = app.test_client()
    oauth1_login(client, "/sync/login", user="bob")
    assert len(stored_accounts(tmp_path)) == 1
    client.get("/logout")
    assert stored_accounts(tmp_path) == []
    # MissingTokenError: the app's handler sends the browser back to the index with
    # flask.redirect() and no code=, so the answer is Flask's default (303 from Flask 3.2).
    with app.app_context():
        flask_default = redirect("/").status_code
    resp = client.get("/sync/profile")
    assert resp.status_code == flask_default
    assert resp.headers["Location"].endswith("/")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_login_returns_to_the_next_page(kind: str, app: Flask, oauth1_login: Login) -> None:
    # The next URL travels with the pending login; an off-site one is dropped.
    client = app.test_client()
    response = oauth1_login(client, f"/{kind}/login?next=/{kind}/fanout", user="bob")
    assert response.status_code == 302  # redirect_to_next() answers 302 on every Flask
    assert response.headers["Location"].endswith(f"/{kind}/fanout")
    response = oauth1_login(app.test_client(), f"/{kind}/login?next=https://evil.test/", user="bob")
    assert response.headers["Location"].endswith(f"/{kind}/profile")
