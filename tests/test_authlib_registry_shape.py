"""Authlib's Flask-client registry tests, in their shape, against our native API.

Authlib's own suite (``tests/flask/test_client``) checks its registry with
tests such as ``test_register_remote_app``, ``test_register_conf_from_app``,
``test_register_with_overwrite``, ``test_init_app_later`` and
``test_init_app_params``. The tests below are written for this project (not
copied) and follow the same shape with ``from flask_oauth1_async import
OAuth``: register with keywords or ``{NAME}_*`` config keys, ``overwrite``,
``init_app`` later (an application factory), ``cache`` and ``fetch_token``
given to ``init_app``, and the settings read back as properties.

The last tests are issue 14's items 4 and 5 end to end: logins against a
tiny fake provider that always issues the request token ``"foo"`` (as mocks
in Authlib's own OAuth 1 tests do), in two brand-new apps and registries of
one process. Both must succeed. The fake provider checks no signature; it
only echoes what it received.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from cachelib import SimpleCache
from flask import Flask, Response, jsonify, redirect, request, url_for

from flask_oauth1_async import OAuth
from flask_oauth1_async.temporary_credentials import cache_key
from tests.support.browser import Browser
from tests.support.servers import ServerThread
from tests.support.views import PREFIX, VIEW_KINDS

SECRET = "dev-secret-Qx7"  # a test value; must never show in a repr

# ------------------------------------------------------------------ settings properties


def _urls(base: str = "https://provider.example.test") -> dict[str, str]:
    return {
        "request_token_url": base + "/request-token",
        "access_token_url": base + "/access-token",
        "authorize_url": base + "/authorize",
        "api_base_url": base + "/api/",
    }


def test_register_remote_app_with_keywords() -> None:
    app = Flask("shape-keywords")
    oauth = OAuth(app)
    remote = oauth.register(
        "dev",
        client_id="dev",
        client_secret=SECRET,
        request_token_params={"scope": "read"},
        access_token_params={"x": "1"},
        authorize_params={"force_login": "true"},
        client_kwargs={"timeout": 5},
        **_urls(),
    )
    assert oauth.dev is remote is oauth.create_client("dev")
    assert remote.name == "dev"
    for where in ("outside", "inside"):
        if where == "inside":
            ctx = app.app_context()
            ctx.push()
        try:
            assert remote.client_id == "dev", where
            assert remote.client_secret == SECRET
            assert remote.request_token_url == "https://provider.example.test/request-token"
            assert remote.access_token_url == "https://provider.example.test/access-token"
            assert remote.authorize_url == "https://provider.example.test/authorize"
            assert remote.api_base_url == "https://provider.example.test/api/"
            assert dict(remote.request_token_params or {}) == {"scope": "read"}
            assert dict(remote.access_token_params or {}) == {"x": "1"}
            assert dict(remote.authorize_params or {}) == {"force_login": "true"}
            assert dict(remote.client_kwargs or {}) == {"timeout": 5}
        finally:
            if where == "inside":
                ctx.pop()
    for text in (repr(remote), repr(oauth), str(remote)):
        assert SECRET not in text
    assert repr(remote) == "<RemoteApp 'dev'>"


def test_register_conf_from_app() -> None:
    app = Flask("shape-conf")
    app.config.update({"DEV_CLIENT_ID": "dev", "DEV_CLIENT_SECRET": SECRET, "DEV_ACCESS_TOKEN_PARAMS": {"a": "b"}})
    oauth = OAuth(app)
    oauth.register("dev")
    assert oauth.dev.client_id == "dev"  # OAuth(app): the app is known outside a context too
    assert oauth.dev.client_secret == SECRET
    assert dict(oauth.dev.access_token_params or {}) == {"a": "b"}
    with app.app_context():
        assert oauth.dev.client_id == "dev"
    assert SECRET not in repr(oauth.dev)


def test_register_with_overwrite() -> None:
    app = Flask("shape-overwrite")
    app.config.update(
        {"DEV_CLIENT_ID": "dev-1", "DEV_CLIENT_SECRET": "dev", "DEV_ACCESS_TOKEN_PARAMS": {"foo": "foo-1"}}
    )
    oauth = OAuth(app)
    oauth.register("dev", overwrite=True, client_id="dev", access_token_params={"foo": "foo", "keep": "me"})
    assert oauth.dev.client_id == "dev-1"  # the config wins over the keyword
    assert dict(oauth.dev.access_token_params or {}) == {"foo": "foo-1", "keep": "me"}  # dicts are merged
    oauth.register("other", client_id="kw")  # without overwrite a keyword wins
    app.config["OTHER_CLIENT_ID"] = "config"
    assert oauth.other.client_id == "kw"


def test_init_app_later_application_factory() -> None:
    oauth = OAuth()
    oauth.register("dev", request_token_url="https://p.example.test/rt")
    # Before any app the keywords are known; a setting that only the config can give
    # raises, as in Authlib (there is no app to read DEV_CLIENT_ID from yet).
    with pytest.raises(RuntimeError, match=r"before init_app\(\).*DEV_CLIENT_ID.*oauth\.init_app\(app\)"):
        oauth.dev.client_id  # noqa: B018
    assert oauth.dev.request_token_url == "https://p.example.test/rt"
    app = Flask("shape-later")
    app.config.update({"DEV_CLIENT_ID": "dev", "DEV_CLIENT_SECRET": SECRET})
    oauth.init_app(app)
    with app.app_context():
        assert oauth.dev.client_id == "dev"
        assert oauth.dev.client_secret == SECRET
        assert oauth.dev.name == "dev"
    with pytest.raises(RuntimeError, match="already registered"):
        oauth.init_app(app)


def test_init_app_later_reads_the_config_outside_an_app_context() -> None:
    oauth = OAuth()
    oauth.register("dev")
    app = Flask("shape-later-outside")
    app.config.update({"DEV_CLIENT_ID": "dev", "DEV_CLIENT_SECRET": SECRET})
    oauth.init_app(app)
    assert oauth.dev.client_id == "dev"


def test_init_app_params_set_cache_and_fetch_token() -> None:
    cache = SimpleCache()

    def fetch_token(name: str) -> None:
        return None

    oauth = OAuth()
    assert oauth.cache is None
    assert oauth.fetch_token is None
    oauth.init_app(Flask("shape-params"), cache, fetch_token)  # by position, as Authlib's init_app
    assert oauth.cache is cache
    assert oauth.fetch_token is fetch_token
    keyword = OAuth()
    keyword.init_app(Flask("shape-params-kw"), cache=cache, fetch_token=fetch_token)
    assert (keyword.cache, keyword.fetch_token) == (cache, fetch_token)


# ------------------------------------------------------------------ a fake provider that always says "foo"


class FixedTokenProvider:
    """Always issues request token ``foo``; remembers the last callback; answers what it was sent."""

    def __init__(self) -> None:
        self.callback: str | None = None
        self.access_tokens_issued = 0
        self.app = Flask("fixed-token-provider")
        self.app.add_url_rule("/request_token", view_func=self.request_token, methods=["POST"])
        self.app.add_url_rule("/authorize", view_func=self.authorize)
        self.app.add_url_rule("/access_token", view_func=self.access_token, methods=["POST"])
        self.app.add_url_rule("/api/me", view_func=self.me)

    @staticmethod
    def _oauth_params() -> dict[str, str]:
        header = request.headers.get("Authorization", "")
        return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}

    def request_token(self) -> Response:
        self.callback = self._oauth_params().get("oauth_callback")
        body = "oauth_token=foo&oauth_token_secret=foo-secret&oauth_callback_confirmed=true"
        return Response(body, mimetype="application/x-www-form-urlencoded")

    def authorize(self) -> Any:
        assert request.args.get("oauth_token") == "foo"
        assert self.callback is not None
        return redirect(f"{self.callback}{'&' if '?' in self.callback else '?'}oauth_token=foo&oauth_verifier=v-1")

    def access_token(self) -> Response:
        params = self._oauth_params()
        if params.get("oauth_token") != "foo" or params.get("oauth_verifier") != "v-1":
            return Response("oauth_problem=token_rejected", status=401)
        self.access_tokens_issued += 1
        n = self.access_tokens_issued
        body = f"oauth_token=access-{n}&oauth_token_secret=access-secret-{n}&screen_name=user{n}"
        return Response(body, mimetype="application/x-www-form-urlencoded")

    def me(self) -> Response:
        return jsonify(token=self._oauth_params().get("oauth_token"))


@pytest.fixture(scope="module")
def fixed_provider() -> Iterator[tuple[FixedTokenProvider, str]]:
    provider = FixedTokenProvider()
    with ServerThread(provider.app, name="fixed-token-provider") as server:
        yield provider, server.url


def _client_app(provider_url: str, label: str, **init_kwargs: Any) -> tuple[Flask, OAuth]:
    """A brand-new app and registry, configured the Authlib way: config keys and init_app later."""
    oauth = OAuth()
    oauth.register("dev")
    app = Flask(f"fixed-client-{label}")
    app.secret_key = f"secret-{label}"
    app.config.update(
        {
            "DEV_CLIENT_ID": "dev",
            "DEV_CLIENT_SECRET": SECRET,
            "DEV_REQUEST_TOKEN_URL": provider_url + "/request_token",
            "DEV_ACCESS_TOKEN_URL": provider_url + "/access_token",
            "DEV_AUTHORIZE_URL": provider_url + "/authorize",
            "DEV_API_BASE_URL": provider_url + "/api/",
        }
    )
    oauth.init_app(app, **init_kwargs)

    @app.get("/s/login")
    def s_login() -> Any:
        return oauth.dev.authorize_redirect(url_for("s_callback", _external=True))

    @app.get("/a/login")
    async def a_login() -> Any:
        return await oauth.dev.authorize_redirect(url_for("a_callback", _external=True))

    @app.get("/s/callback")
    def s_callback() -> Any:
        token = oauth.dev.authorize_access_token()
        me = oauth.dev.get("me")  # no token=: the token just obtained is used
        return {"token": dict(token), "property": dict(oauth.dev.token or {}), "me": me.json()}

    @app.get("/a/callback")
    async def a_callback() -> Any:
        token = await oauth.dev.authorize_access_token()
        me = await oauth.dev.get("me")
        return {"token": dict(token), "property": dict(oauth.dev.token or {}), "me": me.json()}

    @app.get("/s/whoami")
    def s_whoami() -> Any:
        return {"property_before": oauth.dev.token, "me": oauth.dev.get("me").json()}

    return app, oauth


def _login(client_url: str, path: str) -> dict[str, Any]:
    with Browser() as browser:
        result = browser.login_via(client_url + path)
    assert result.response.status_code == 200, result.response.text
    return dict(result.response.json())


@pytest.mark.parametrize("view", VIEW_KINDS)
def test_two_new_apps_in_one_process_each_log_in_with_the_same_request_token(
    fixed_provider: tuple[FixedTokenProvider, str], view: str
) -> None:
    _, provider_url = fixed_provider
    path = PREFIX[view] + "/login"
    results = []
    for label in ("first", "second"):
        app, oauth = _client_app(provider_url, f"{view}-{label}")
        try:
            with ServerThread(app, name=f"fixed-client-{label}") as client:
                results.append(_login(client.url, path))
        finally:
            oauth.close()
    first, second = results
    for body in results:
        assert body["token"]["oauth_token"].startswith("access-")
        assert body["property"] == body["token"]  # oauth.dev.token: this request's token
        assert body["me"] == {"token": body["token"]["oauth_token"]}  # the signed call used it
    assert first["token"]["oauth_token"] != second["token"]["oauth_token"]


def test_a_reused_request_token_in_the_same_app_is_refused(fixed_provider: tuple[FixedTokenProvider, str]) -> None:
    # Within one app the replay guard remembers "foo": a provider (or mock) that hands the same request
    # token to a second login in that app gets the second callback refused. Authlib has no such guard.
    _, provider_url = fixed_provider
    app, oauth = _client_app(provider_url, "reuse")
    try:
        with ServerThread(app, name="fixed-client-reuse") as client:
            assert _login(client.url, "/s/login")["token"]["oauth_token"].startswith("access-")
            with Browser() as second:
                result = second.login_via(client.url + "/s/login")
    finally:
        oauth.close()
    assert result.response.status_code == 400  # the default handler for AuthorizationError
    assert "does not match a login started in this browser session" in result.response.text


def test_cache_and_fetch_token_given_to_init_app_are_used(fixed_provider: tuple[FixedTokenProvider, str]) -> None:
    _, provider_url = fixed_provider
    cache = SimpleCache()
    asked: list[str] = []

    def fetch_token(name: str) -> dict[str, str]:
        asked.append(name)
        return {"oauth_token": "stored-token", "oauth_token_secret": "stored-secret"}

    app, oauth = _client_app(provider_url, "cache", cache=cache, fetch_token=fetch_token)
    assert oauth.cache is cache
    assert oauth.fetch_token is fetch_token
    try:
        with ServerThread(app, name="fixed-client-cache") as client, Browser() as browser:
            start = browser.get(client.url + "/s/login")
            assert start.status_code == 302
            pending = cache.get(cache_key("dev", "foo"))
            assert pending is not None  # the request token waits in the cache
            assert "foo-secret" not in str(dict(browser.cookies))  # and not in the cookie
            result = browser.login_via(client.url + "/s/login")
            assert result.response.status_code == 200, result.response.text
            assert cache.get(cache_key("dev", "foo")) is None  # claimed once, then gone
            assert asked == []  # the callback used the token it had just obtained
            later = browser.get(client.url + "/s/whoami").json()
    finally:
        oauth.close()
    assert later == {"property_before": None, "me": {"token": "stored-token"}}
    assert asked == ["dev"]
