"""The basic dance in a sync and an async view, through real servers and a scripted browser."""

from __future__ import annotations

from flask import Flask, jsonify, url_for

from flask_oauth1_async import OAuth
from tests.conftest import ClientAppFactory, Provider
from tests.support.browser import Browser


def _routes(app: Flask, oauth: OAuth) -> None:
    @app.route("/login")
    def login():  # type: ignore[no-untyped-def]
        return oauth.demo.authorize_redirect(url_for("callback", _external=True))

    @app.route("/callback")
    def callback():  # type: ignore[no-untyped-def]
        token = oauth.demo.authorize_access_token()
        return jsonify(screen_name=token["screen_name"], me=oauth.demo.get("me").json())

    @app.route("/alogin")
    async def alogin():  # type: ignore[no-untyped-def]
        return await oauth.demo.authorize_redirect(url_for("acallback", _external=True))

    @app.route("/acallback")
    async def acallback():  # type: ignore[no-untyped-def]
        token = await oauth.demo.authorize_access_token()
        me = await oauth.demo.get("me")
        return jsonify(screen_name=token["screen_name"], me=me.json())


def test_sync_and_async_dance(provider: Provider, client_app: ClientAppFactory) -> None:
    ca = client_app(provider, _routes)
    for path, user in (("/login", "alice"), ("/alogin", "bob")):
        with Browser() as browser:
            result = browser.login_via(ca.url + path, user=user)
            assert result.response.status_code == 200, result.response.text
            body = result.response.json()
            assert body["screen_name"] == user
            assert body["me"]["user"] == user
    assert provider.state.hits["/access_token"] == 2
