"""The package's redirects answer 302 Found on every supported Flask.

Flask 3.2 changes the default of :func:`flask.redirect` (and of
``Flask.redirect``, which it calls from Flask 2.2 on) from 302 to 303. The
package does not inherit that default: ``authorize_redirect()`` (native and
through the Flask-OAuthlib layer's ``authorize()``) and ``redirect_to_next()``
pass ``code=302`` themselves. The tests run each one with the installed
Flask and with a ``redirect()`` that defaults to 303 as Flask 3.2's does, so
that a call relying on Flask's default fails here on every Flask.
"""

from __future__ import annotations

from typing import Any

import pytest
import werkzeug.utils
from flask import Flask, session, url_for

import flask_oauth1_async.remote
from flask_oauth1_async import OAuth
from flask_oauth1_async.compat.flask_oauthlib import OAuth as CompatOAuth
from flask_oauth1_async.testing import FakeProvider, login

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]


def see_other_by_default(location: str, code: int = 303, Response: Any = None) -> Any:
    """flask.redirect as Flask 3.2 declares it: 303 unless the caller names a code."""
    return werkzeug.utils.redirect(location, code=code, Response=Response)


@pytest.fixture(params=["installed-flask", "303-default"])
def flask_default(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with the installed Flask's redirect(), and with one that defaults to 303 as Flask 3.2's does.

    The second replaces the ``redirect`` that the remote-app layer imported from
    Flask: a call that relied on Flask's default would answer 303 there.
    """
    if request.param == "303-default":
        monkeypatch.setattr(flask_oauth1_async.remote, "redirect", see_other_by_default)
        assert flask_oauth1_async.remote.redirect("/").status_code == 303
    return str(request.param)


def _app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "redirect-codes"
    return app


def native_app(fake: FakeProvider) -> tuple[Flask, OAuth]:
    app = _app()
    oauth = OAuth(app)
    oauth.register("fake", **fake.register_kwargs())

    @app.get("/sync/login")
    def sync_login() -> Any:
        return oauth.fake.authorize_redirect_sync(url_for("sync_callback", _external=True), next_url="/after")

    @app.get("/sync/callback")
    def sync_callback() -> Any:
        oauth.fake.authorize_access_token_sync()
        return oauth.fake.redirect_to_next()

    @app.get("/async/login")
    async def async_login() -> Any:
        return await oauth.fake.authorize_redirect(url_for("async_callback", _external=True), next_url="/after")

    @app.get("/async/callback")
    async def async_callback() -> Any:
        await oauth.fake.authorize_access_token()
        return oauth.fake.redirect_to_next()

    @app.get("/no-login")
    def no_login() -> Any:
        return oauth.fake.redirect_to_next(default="/home")  # no login completed: the default

    return app, oauth


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_authorize_redirect_and_redirect_to_next_answer_302(
    flask_default: str, kind: str, oauth1_provider: FakeProvider
) -> None:
    app, oauth = native_app(oauth1_provider)
    try:
        client = app.test_client()
        start = client.get(f"/{kind}/login")
        assert start.status_code == 302
        assert start.headers["Location"].startswith(oauth1_provider.authorize_url + "?")
        back = login(client, f"/{kind}/login", user="bob", provider=oauth1_provider)
        assert back.status_code == 302
        assert back.headers["Location"].endswith("/after")
        fallback = client.get("/no-login")
        assert fallback.status_code == 302
        assert fallback.headers["Location"].endswith("/home")
    finally:
        oauth.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_flask_oauthlib_authorize_answers_302(flask_default: str, kind: str, oauth1_provider: FakeProvider) -> None:
    app = _app()
    oauth = CompatOAuth(app)
    fake = oauth.remote_app(
        "fake",
        consumer_key=oauth1_provider.client_id,
        consumer_secret=oauth1_provider.client_secret,
        base_url=oauth1_provider.api_base_url,
        request_token_url=oauth1_provider.request_token_url,
        access_token_url=oauth1_provider.access_token_url,
        authorize_url=oauth1_provider.authorize_url,
        request_token_method="POST",
        client_kwargs=oauth1_provider.client_kwargs(),
    )

    @app.get("/sync/login")
    def sync_login() -> Any:
        return fake.authorize(callback=url_for("sync_callback", _external=True))

    @app.get("/sync/callback")
    def sync_callback() -> Any:
        session["token"] = dict(fake.authorized_response())
        return {"ok": True}

    @app.get("/async/login")
    async def async_login() -> Any:
        return await fake.authorize(callback=url_for("async_callback", _external=True))

    @app.get("/async/callback")
    async def async_callback() -> Any:
        session["token"] = dict(await fake.authorized_response())
        return {"ok": True}

    try:
        client = app.test_client()
        start = client.get(f"/{kind}/login")
        assert start.status_code == 302
        assert start.headers["Location"].startswith(oauth1_provider.authorize_url + "?")
        assert login(client, f"/{kind}/login", user="alice", provider=oauth1_provider).get_json() == {"ok": True}
    finally:
        oauth.native.close()
