"""The two registry behaviours where Authlib's own registry tests used to fail against this package.

* A setting read before ``init_app()`` that only ``app.config`` can give
  raises :class:`RuntimeError` naming the fix (it used to read as ``None``);
  the ``register()`` keywords stay readable without an app, natively and
  through the Flask-OAuthlib layer.
* ``update_token=`` is accepted by ``OAuth(...)`` and ``init_app()`` and
  kept as ``oauth.update_token``, as Authlib's registry does; an OAuth 1
  token never refreshes, so it is never called.
"""

from __future__ import annotations

from typing import Any

import pytest
from cachelib import SimpleCache
from flask import Flask, session, url_for

from flask_oauth1_async import OAuth
from flask_oauth1_async.compat.flask_oauthlib import OAuth as CompatOAuth
from flask_oauth1_async.config import CONFIG_KEYS
from flask_oauth1_async.testing import FakeProvider, login

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]

SECRET = "gap-secret-4Tz"  # a test value: must not appear in any message


def _configured_app(name: str = "gaps") -> Flask:
    app = Flask(name)
    app.config.update(DEV_CLIENT_ID="dev-from-config", DEV_CLIENT_SECRET=SECRET)
    return app


# ------------------------------------------------------------------ settings before an app


def test_config_only_setting_before_init_app_raises_with_the_fix() -> None:
    oauth = OAuth()
    remote = oauth.register("dev", api_base_url="https://p.example.test/api/")
    for key in CONFIG_KEYS:
        if key == "api_base_url":
            continue
        with pytest.raises(RuntimeError) as caught:
            getattr(remote, key)
        message = str(caught.value)
        assert f"{key} of remote app 'dev' was not given to register()" in message
        assert f"DEV_{key.upper()}" in message
        assert "oauth.init_app(app)" in message
    assert remote.api_base_url == "https://p.example.test/api/"  # a keyword needs no app
    app = _configured_app()
    oauth.init_app(app)
    assert remote.client_id == "dev-from-config"  # outside a context: the app given to init_app
    with app.app_context():
        assert remote.client_secret == SECRET
        assert remote.request_token_url is None  # given nowhere, but now there is an app to ask


def test_the_message_never_quotes_a_keyword_value() -> None:
    oauth = OAuth()
    oauth.register("dev", client_secret=SECRET)
    assert oauth.dev.client_secret == SECRET
    with pytest.raises(RuntimeError) as caught:
        oauth.dev.client_id  # noqa: B018
    assert SECRET not in str(caught.value)


def test_reading_in_an_app_the_registry_is_not_on_raises() -> None:
    oauth = OAuth()
    oauth.register("dev", client_id="kw")
    other = _configured_app("other")
    with other.app_context():
        assert oauth.dev.client_id == "kw"
        with pytest.raises(RuntimeError, match=r"not initialised on.*DEV_CLIENT_SECRET"):
            oauth.dev.client_secret  # noqa: B018


def test_flask_oauthlib_layer_reads_its_keywords_before_any_app() -> None:
    oauth = CompatOAuth()  # at import time, before any app exists
    remote = oauth.remote_app(
        "dev",
        consumer_key="ck",
        consumer_secret=SECRET,
        request_token_url="https://p.example.test/request_token",
        access_token_url="https://p.example.test/access_token",
        authorize_url="https://p.example.test/authorize",
        base_url="https://p.example.test/api/",
    )
    assert (remote.consumer_key, remote.consumer_secret) == ("ck", SECRET)
    assert remote.base_url == "https://p.example.test/api/"
    assert remote.request_token_url == "https://p.example.test/request_token"
    # The native remote behind it reads the same keywords (translated) without an app.
    native = remote.native
    assert native.client_id == "ck"
    assert native.authorize_url == "https://p.example.test/authorize"


# ------------------------------------------------------------------ update_token


def test_update_token_is_kept_like_authlibs() -> None:
    def first(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("never called")

    def second(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("never called")

    assert OAuth().update_token is None
    oauth = OAuth(update_token=first)
    assert oauth.update_token is first
    oauth.init_app(Flask("update-1"))  # not given: kept
    assert oauth.update_token is first
    oauth.init_app(Flask("update-2"), update_token=second)
    assert oauth.update_token is second
    cache = SimpleCache()
    positional = OAuth()
    positional.init_app(Flask("update-3"), cache, None, first)  # Authlib's order: cache, fetch_token, update_token
    assert (positional.cache, positional.fetch_token, positional.update_token) == (cache, None, first)
    with_app = OAuth(Flask("update-4"), update_token=second)
    assert with_app.update_token is second


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_update_token_is_never_called(kind: str, oauth1_provider: FakeProvider) -> None:
    calls: list[tuple[Any, ...]] = []

    def update_token(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    app = Flask(f"update-never-{kind}")
    app.secret_key = "update-token"
    oauth = OAuth(update_token=update_token)
    oauth.register("fake", **oauth1_provider.register_kwargs())
    oauth.init_app(app, update_token=update_token)

    @app.get("/sync/login")
    def sync_login() -> Any:
        return oauth.fake.authorize_redirect(url_for("sync_callback", _external=True))

    @app.get("/sync/callback")
    def sync_callback() -> Any:
        session["token"] = dict(oauth.fake.authorize_access_token())
        return sync_me()

    @app.get("/sync/me")
    def sync_me() -> Any:
        resp = oauth.fake.get("me", token=session["token"])
        return {"status": resp.status_code}

    @app.get("/async/login")
    async def async_login() -> Any:
        return await oauth.fake.authorize_redirect(url_for("async_callback", _external=True))

    @app.get("/async/callback")
    async def async_callback() -> Any:
        session["token"] = dict(await oauth.fake.authorize_access_token())
        return await async_me()

    @app.get("/async/me")
    async def async_me() -> Any:
        resp = await oauth.fake.get("me", token=session["token"])
        return {"status": resp.status_code}

    try:
        client = app.test_client()
        assert login(client, f"/{kind}/login", user="bob", provider=oauth1_provider).get_json() == {"status": 200}
        # Where an OAuth 2 client would refresh and call update_token, an OAuth 1
        # token that the provider no longer accepts just gets the provider's answer.
        oauth1_provider.revoke("bob")
        assert client.get(f"/{kind}/me").get_json() == {"status": 401}
        assert calls == []
        assert oauth.update_token is update_token
    finally:
        oauth.close()
