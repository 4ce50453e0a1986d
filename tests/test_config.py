"""Configuration: the ten ``{NAME}_*`` config keys, precedence, and the registry's life cycle.

Everything that can be is driven through a real client server and the
scripted browser, in a sync view and an async view.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import Flask, Response, jsonify, request, url_for
from oauthlib.oauth1.rfc5849 import signature as oauthlib_signature

from flask_oauth1_async import (
    CONFIG_KEYS,
    EXTENSION_KEY,
    ConfigurationError,
    OAuth,
    RemoteApp,
    RequestTimeoutError,
)
from flask_oauth1_async.testing import FakeProvider, ProviderCall
from tests.conftest import ClientAppFactory
from tests.support.browser import Browser, approve, start_login
from tests.support.fake import last, register_settings
from tests.support.servers import ServerThread
from tests.support.views import PREFIX, VIEW_KINDS, dance_routes

# ------------------------------------------------------------------ helpers


def escape(value: str) -> str:
    """RFC 5849 section 3.6 percent-encoding."""
    return quote(value, safe="~")


#: Dance routes (sync and async) whose callback then calls "me"; every ``OAuthError`` is answered as JSON.
_routes = functools.partial(dance_routes, me=True)


ServeFn = Callable[[Flask, OAuth], ServerThread]


@pytest.fixture
def serve() -> Iterator[ServeFn]:
    """Serve apps built by the test itself; stops the servers and closes the registries."""
    started: list[tuple[ServerThread, OAuth]] = []

    def start(app: Flask, oauth: OAuth) -> ServerThread:
        server = ServerThread(app, name="config-client-app").start()
        started.append((server, oauth))
        return server

    yield start
    for server, oauth in started:
        server.stop()
        oauth.close()


def _new_app(name: str = "config-client") -> Flask:
    app = Flask(name)
    app.secret_key = "config-test-secret"
    return app


def _full_config(p: FakeProvider, prefix: str = "DEMO") -> dict[str, Any]:
    return {
        f"{prefix}_CLIENT_ID": p.client_id,
        f"{prefix}_CLIENT_SECRET": p.client_secret,
        f"{prefix}_REQUEST_TOKEN_URL": p.request_token_url,
        f"{prefix}_ACCESS_TOKEN_URL": p.access_token_url,
        f"{prefix}_AUTHORIZE_URL": p.authorize_url,
        f"{prefix}_API_BASE_URL": p.url + "/api",
    }


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _verify_hmac_sha256(p: FakeProvider, recorded: ProviderCall, token_secret: str) -> str:
    """Recompute the HMAC-SHA256 signature of a recorded request (with oauthlib's helpers); return its base string."""
    header = recorded.authorization
    form = recorded.body if (recorded.content_type or "").startswith("application/x-www-form-urlencoded") else None
    everything = oauthlib_signature.collect_parameters(
        uri_query=urlsplit(recorded.url).query,
        body=form,
        headers={"Authorization": header} if header else None,
        exclude_oauth_signature=False,
    )
    sent = dict(everything)
    signed = [(k, v) for k, v in everything if k != "oauth_signature"]
    base_string = oauthlib_signature.signature_base_string(
        recorded.method,
        oauthlib_signature.base_string_uri(recorded.url),
        oauthlib_signature.normalize_parameters(signed),
    )
    key = f"{escape(p.client_secret)}&{escape(token_secret)}"
    expected = base64.b64encode(hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()).decode()
    assert sent["oauth_signature"] == expected, "the provider got a signature over exactly these parameters"
    assert sent["oauth_signature_method"] == "HMAC-SHA256"
    return base_string


# ------------------------------------------------------------------ the ten config keys


def test_config_keys_constant_lists_the_ten_settings() -> None:
    assert CONFIG_KEYS == (
        "client_id",
        "client_secret",
        "request_token_url",
        "request_token_params",
        "access_token_url",
        "access_token_params",
        "authorize_url",
        "authorize_params",
        "api_base_url",
        "client_kwargs",
    )


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_all_ten_config_keys_are_read(kind: str, provider: FakeProvider, serve: ServeFn) -> None:
    app = _new_app()
    app.config.update(_full_config(provider))
    app.config.update(
        DEMO_REQUEST_TOKEN_PARAMS={"x_rt": "rt value"},
        DEMO_ACCESS_TOKEN_PARAMS={"x_at": "at/value"},
        DEMO_AUTHORIZE_PARAMS={"x_auth": "auth-value"},
        DEMO_CLIENT_KWARGS={"headers": {"X-Test": "from-config"}, "signature_method": "HMAC-SHA256"},
    )
    oauth = OAuth(app)
    oauth.register("demo")  # the name only: everything comes from app.config
    _routes(app, oauth)
    server = serve(app, oauth)

    with Browser() as browser:
        authorize_url = start_login(browser, server.url + PREFIX[kind] + "/login")
        assert authorize_url.startswith(provider.authorize_url + "?")  # AUTHORIZE_URL
        assert _query(authorize_url)["x_auth"] == ["auth-value"]  # AUTHORIZE_PARAMS
        oauth_token = _query(authorize_url)["oauth_token"][0]
        request_token_secret = provider.token_secret(oauth_token)
        assert request_token_secret is not None
        response = browser.get(approve(browser, authorize_url))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"]["screen_name"] == "alice"
    assert body["me"]["user"] == "alice"  # API_BASE_URL: "me" resolved to .../api/me
    assert body["me"]["client_id"] == provider.client_id  # CLIENT_ID (+ CLIENT_SECRET: signatures verified)

    # REQUEST_TOKEN_PARAMS: in the form body, and inside the signature base string.
    rt = last(provider, "request_token")
    assert parse_qs(rt.body) == {"x_rt": ["rt value"]}
    assert "x_rt%3Drt%2520value" in _verify_hmac_sha256(provider, rt, "")
    # ACCESS_TOKEN_PARAMS: same for the access-token request (signed with the request token).
    at = last(provider, "access_token")
    assert parse_qs(at.body) == {"x_at": ["at/value"]}
    assert "x_at%3Dat%252Fvalue" in _verify_hmac_sha256(provider, at, request_token_secret)
    # CLIENT_KWARGS: the header on every request to the provider, sync or async.
    for endpoint, path in (("request_token", None), ("access_token", None), ("api", "me")):
        recorded = last(provider, endpoint, path)
        assert recorded.headers.get("X-Test") == "from-config", endpoint


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_missing_client_id_names_the_config_key(kind: str, provider: FakeProvider, serve: ServeFn) -> None:
    app = _new_app()
    oauth = OAuth(app)
    settings = register_settings(provider)
    del settings["client_id"]
    oauth.register("demo", **settings)
    _routes(app, oauth)
    server = serve(app, oauth)
    with Browser() as browser:
        response = browser.get(server.url + PREFIX[kind] + "/login")
    assert response.status_code == 418, response.text
    body = response.json()
    assert body["error"] == "ConfigurationError"
    assert "DEMO_CLIENT_ID" in body["message"]
    assert "client_id" in body["message"]
    assert len(provider.received("request_token")) == 0


@pytest.mark.parametrize(
    ("client_kwargs", "named"),
    [
        ({"bogus_option": 1, "headers": {"X-Test": "1"}}, "bogus_option"),
        ({"verfiy": False}, "verfiy"),
        ({"base_url": "http://127.0.0.1:1/"}, "api_base_url"),
    ],
    ids=["bogus", "typo", "base_url-hint"],
)
def test_unknown_client_kwargs_key_is_a_configuration_error(
    client_kwargs: dict[str, Any], named: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # Checked when the remote is registered on an app whose config has it: nothing is sent.
    with pytest.raises(ConfigurationError) as info:
        client_app(provider, _routes, config={"DEMO_CLIENT_KWARGS": client_kwargs}, client_kwargs=None)
    assert named in str(info.value)
    assert len(provider.received("request_token")) == 0


def test_bad_values_fail_at_register_and_init_app_with_the_fix(provider: FakeProvider) -> None:
    app = Flask("eager-checks")
    oauth = OAuth(app)
    with pytest.raises(ConfigurationError, match="request_token_ttl of remote app 'demo' must be a positive int"):
        oauth.register("demo", **register_settings(provider, request_token_ttl=-5))
    with pytest.raises(ConfigurationError, match="unsupported signature_method 'HMAC-MD5'"):
        oauth.register("demo", **register_settings(provider, client_kwargs={"signature_method": "HMAC-MD5"}))
    with pytest.raises(AttributeError):  # a refused registration registers nothing
        oauth.create_client("demo")
    # A bad value in the config fails init_app() of the app that has it.
    later = OAuth()
    later.register("demo", **register_settings(provider, client_kwargs=None))
    other = Flask("eager-checks-config")
    other.config["DEMO_CLIENT_KWARGS"] = {"signature_type": "cookie"}
    with pytest.raises(ConfigurationError, match="unsupported signature_type 'cookie'"):
        later.init_app(other)
    assert EXTENSION_KEY not in other.extensions


def test_config_filled_in_after_init_app_is_read_at_first_use(provider: FakeProvider) -> None:
    oauth = OAuth()
    oauth.register("demo", api_base_url=provider.api_base_url)  # no consumer key yet: checked at first use
    app = Flask("late-config")
    oauth.init_app(app)
    with app.app_context(), pytest.raises(ConfigurationError, match="set DEMO_CLIENT_ID in the app config"):
        oauth.demo.get_sync("me", token=provider.issue_token("alice"))
    app.config.update(DEMO_CLIENT_ID=provider.client_id, DEMO_CLIENT_SECRET=provider.client_secret)
    try:
        with app.app_context():
            assert oauth.demo.get_sync("me", token=provider.issue_token("alice")).json()["user"] == "alice"
    finally:
        oauth.close()


def test_unknown_register_keyword_is_a_type_error() -> None:
    oauth = OAuth()
    with pytest.raises(TypeError, match="client_idd") as info:
        oauth.register("demo", client_idd="x", client_secret="y")
    assert "client_id" in str(info.value)  # the known settings are listed
    with pytest.raises(AttributeError):
        oauth.create_client("demo")  # nothing was registered


@pytest.mark.parametrize("name", ["", "1demo", "de-mo", "_private", "register", "init_app"])
def test_invalid_or_reserved_remote_names(name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        OAuth().register(name, client_id="x")


# ------------------------------------------------------------------ precedence


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_register_keywords_win_over_config(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    config = {
        "DEMO_CLIENT_ID": "wrong-client",
        "DEMO_CLIENT_SECRET": "wrong-secret",
        "DEMO_AUTHORIZE_PARAMS": {"b": "cfg", "c": "cfg"},
        "DEMO_CLIENT_KWARGS": {"headers": {"X-Test": "cfg"}},
        "DEMO_AUTHORIZE_URL": provider.authorize_url,  # fills in what register() did not give
    }
    ca = client_app(
        provider,
        _routes,
        config=config,
        authorize_url=None,
        authorize_params={"a": "kw", "b": "kw"},
        client_kwargs={"headers": {"X-Test": "kw"}},
    )
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login")
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["me"]["client_id"] == provider.client_id
    query = _query(result.authorize_url)
    assert query["a"] == ["kw"]
    assert query["b"] == ["kw"]
    assert "c" not in query, "without overwrite the keyword dict is used as given"
    recorded = last(provider, "api", "me")
    assert recorded.headers["X-Test"] == "kw"


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_overwrite_lets_non_empty_config_win_and_merges_dicts(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    config = {
        "DEMO_CLIENT_ID": provider.client_id,
        "DEMO_CLIENT_SECRET": "",  # empty: the keyword is kept
        "DEMO_API_BASE_URL": None,  # unset: the keyword is kept
        "DEMO_AUTHORIZE_PARAMS": {"b": "cfg", "c": "cfg"},
        "DEMO_CLIENT_KWARGS": {"headers": {"X-Test": "cfg"}},
    }
    ca = client_app(
        provider,
        _routes,
        config=config,
        overwrite=True,
        client_id="wrong-client",
        authorize_params={"a": "kw", "b": "kw"},
        client_kwargs={"headers": {"X-Test": "kw", "X-Other": "kw"}, "timeout": 10},
    )
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login")
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["me"]["client_id"] == provider.client_id
    query = _query(result.authorize_url)
    assert (query["a"], query["b"], query["c"]) == (["kw"], ["cfg"], ["cfg"])
    recorded = last(provider, "api", "me")
    # client_kwargs are merged key by key: "headers" as a whole comes from the config.
    assert recorded.headers["X-Test"] == "cfg"
    assert "X-Other" not in recorded.headers


# ------------------------------------------------------------------ authorize params


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_per_call_authorize_kwargs_override_authorize_params(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/login")
        def s_login() -> Any:
            return oauth.demo.authorize_redirect(url_for("s_callback", _external=True), x="1", extra="call")

        @app.route("/s/callback")
        def s_callback() -> Response:
            return jsonify(oauth.demo.authorize_access_token())

        @app.route("/a/login")
        async def a_login() -> Any:
            return await oauth.demo.authorize_redirect(url_for("a_callback", _external=True), x="1", extra="call")

        @app.route("/a/callback")
        async def a_callback() -> Response:
            return jsonify(await oauth.demo.authorize_access_token())

    ca = client_app(provider, setup, config={"DEMO_AUTHORIZE_PARAMS": {"x": "0", "y": "keep"}})
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login")
    assert result.response.status_code == 200, result.response.text
    query = _query(result.authorize_url)
    assert query["x"] == ["1"]
    assert query["y"] == ["keep"]
    assert query["extra"] == ["call"]
    assert len(query["oauth_token"]) == 1


# ------------------------------------------------------------------ client kwargs: headers, timeout


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_client_kwargs_headers_sent_on_every_call(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    headers = {"User-Agent": "my-client/1.0", "X-Test": kind}
    ca = client_app(provider, _routes, client_kwargs={"headers": headers})
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login")
    assert result.response.status_code == 200, result.response.text
    for endpoint, path in (("request_token", None), ("access_token", None), ("api", "me")):
        recorded = last(provider, endpoint, path)
        assert recorded.headers.get("User-Agent") == "my-client/1.0", endpoint
        assert recorded.headers.get("X-Test") == kind, endpoint


def _timeout_routes(token: dict[str, str]) -> Callable[[Flask, OAuth], None]:
    def setup(app: Flask, oauth: OAuth) -> None:
        _routes(app, oauth)

        # Without ?t= the client's timeout applies (timeout=None would mean "no timeout" to httpx).
        @app.route("/s/slow")
        def s_slow() -> Response:
            params = {"ms": request.args["ms"]}
            if "t" in request.args:
                resp = oauth.demo.get("slow", token=token, params=params, timeout=float(request.args["t"]))
            else:
                resp = oauth.demo.get("slow", token=token, params=params)
            return jsonify(resp.json())

        @app.route("/a/slow")
        async def a_slow() -> Response:
            params = {"ms": request.args["ms"]}
            if "t" in request.args:
                resp = await oauth.demo.get("slow", token=token, params=params, timeout=float(request.args["t"]))
            else:
                resp = await oauth.demo.get("slow", token=token, params=params)
            return jsonify(resp.json())

    return setup


def _drain(p: FakeProvider) -> None:
    """Wait until the provider has finished the requests the client gave up on.

    They are still sleeping server-side; left alone they would reach the
    provider app (and its counters) during the next test.
    """
    p.slow_down(0, "request_token")
    deadline = time.monotonic() + 10
    while p.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert p.in_flight == 0


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_client_kwargs_timeout_is_honoured(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    # The provider sleeps 1 s against a 0.2 s client timeout: a 5x margin.
    token = provider.issue_token("alice")
    ca = client_app(provider, _timeout_routes(token), client_kwargs={"timeout": 0.2})
    slow = PREFIX[kind] + "/slow"
    try:
        with Browser() as browser:
            timed_out = browser.get(ca.url + slow + "?ms=1000")
            # A per-call timeout overrides the client's default.
            patient = browser.get(ca.url + slow + "?ms=300&t=10")
            # The dance's own requests use the client timeout too.
            provider.slow_down(1.0, "request_token")
            login = browser.get(ca.url + PREFIX[kind] + "/login")
    finally:
        _drain(provider)
    assert timed_out.status_code == 418, timed_out.text
    assert timed_out.json()["error"] == RequestTimeoutError.__name__
    assert patient.status_code == 200, patient.text
    assert patient.json()["slept_ms"] == 300
    assert login.status_code == 418, login.text
    assert login.json()["error"] == RequestTimeoutError.__name__
    assert "/request_token" in login.json()["message"]


# ------------------------------------------------------------------ application factory, several apps


def _factory_app(oauth: OAuth, config: dict[str, Any], name: str) -> Flask:
    app = _new_app(name)
    oauth.init_app(app)
    app.config.update(config)  # after init_app: read on first use
    _routes(app, oauth)
    return app


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_application_factory_pattern(kind: str, provider: FakeProvider, serve: ServeFn) -> None:
    oauth = OAuth()
    remote = oauth.register("demo")  # before any app exists
    assert isinstance(remote, RemoteApp)
    assert oauth.demo is remote
    app = _factory_app(oauth, _full_config(provider), "factory-app")
    assert app.extensions[EXTENSION_KEY].registry is oauth
    server = serve(app, oauth)
    with Browser() as browser:
        result = browser.login_via(server.url + PREFIX[kind] + "/login", user="erin")
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["me"]["user"] == "erin"


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_one_registry_serves_two_apps_with_different_credentials(
    kind: str, provider: FakeProvider, serve: ServeFn
) -> None:
    second_key = provider.add_consumer("secret-two")
    oauth = OAuth()
    oauth.register(
        "demo",
        request_token_url=provider.request_token_url,
        access_token_url=provider.access_token_url,
        authorize_url=provider.authorize_url,
        api_base_url=provider.url + "/api",
    )
    first = _factory_app(
        oauth, {"DEMO_CLIENT_ID": provider.client_id, "DEMO_CLIENT_SECRET": provider.client_secret}, "one"
    )
    second = _factory_app(oauth, {"DEMO_CLIENT_ID": second_key, "DEMO_CLIENT_SECRET": "secret-two"}, "two")
    servers = [serve(first, oauth), serve(second, oauth)]
    seen: list[str] = []
    for server, user in zip(servers, ("frank", "grace"), strict=True):
        with Browser() as browser:
            result = browser.login_via(server.url + PREFIX[kind] + "/login", user=user)
        assert result.response.status_code == 200, result.response.text
        me = result.response.json()["me"]
        assert me["user"] == user
        seen.append(me["client_id"])
    assert seen == [provider.client_id, second_key]
    consumer_keys = [r.authorization for r in provider.received("request_token") if r.authorization]
    assert len(consumer_keys) == 2
    assert f'oauth_consumer_key="{provider.client_id}"' in consumer_keys[0]
    assert f'oauth_consumer_key="{second_key}"' in consumer_keys[1]


def test_init_app_twice_raises_and_extension_is_registered() -> None:
    app = _new_app()
    oauth = OAuth()
    oauth.init_app(app)
    assert EXTENSION_KEY == "flask_oauth1_async"
    assert app.extensions["flask_oauth1_async"].registry is oauth
    with pytest.raises(RuntimeError, match="already registered"):
        oauth.init_app(app)
    with pytest.raises(RuntimeError, match="already registered"):
        OAuth(app)  # a second registry on the same app too
    assert app.extensions["flask_oauth1_async"].registry is oauth


def test_unknown_remote_raises_helpful_attribute_error() -> None:
    oauth = OAuth()
    with pytest.raises(AttributeError, match="none yet"):
        oauth.create_client("unknown")
    oauth.register("demo", client_id="x")
    oauth.register("other", client_id="y")
    lookups: list[Callable[[], RemoteApp]] = [lambda: oauth.unknown, lambda: oauth.create_client("unknown")]
    for lookup in lookups:
        with pytest.raises(AttributeError) as info:
            lookup()
        message = str(info.value)
        assert "'unknown'" in message
        assert "registered: demo, other" in message
        assert "oauth.register('unknown'" in message
    assert not hasattr(oauth, "unknown")
    assert getattr(oauth, "unknown", None) is None


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_re_registering_replaces_settings(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    token = provider.issue_token("alice")

    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/me")
        def s_me() -> Response:
            resp = oauth.demo.get("me", token=token)
            return jsonify(status=resp.status_code)

        @app.route("/a/me")
        async def a_me() -> Response:
            resp = await oauth.demo.get("me", token=token)
            return jsonify(status=resp.status_code)

    ca = client_app(provider, setup, client_kwargs={"headers": {"X-Test": "v1"}})
    path = PREFIX[kind] + "/me"
    seen: list[str | None] = []
    with Browser() as browser:
        assert browser.get(ca.url + path).json() == {"status": 200}
        seen.append(last(provider, "api", "me").headers.get("X-Test"))

        again = ca.oauth.register("demo", **register_settings(provider, client_kwargs={"headers": {"X-Test": "v2"}}))
        assert again is ca.oauth.demo, "the same RemoteApp object, with new settings"
        assert browser.get(ca.url + path).json() == {"status": 200}
        seen.append(last(provider, "api", "me").headers.get("X-Test"))

        # New credentials take effect too: a wrong secret is now rejected by the provider.
        ca.oauth.register("demo", **register_settings(provider, client_secret="wrong"))
        assert browser.get(ca.url + path).json() == {"status": 401}
    assert seen == ["v1", "v2"]


def test_registry_outside_app_context_raises_with_hint(provider: FakeProvider) -> None:
    oauth = OAuth()  # factory style, and no app initialised yet: nothing to fall back to
    oauth.register("demo", **register_settings(provider))
    token = provider.issue_token("alice")
    try:
        with pytest.raises(RuntimeError, match=r"app_context\(\)") as info:
            oauth.demo.get_sync("me", token=token)
        assert "application context" in str(info.value)
        with pytest.raises(RuntimeError, match="app_context"):
            oauth.demo.get("me", token=token)
        with pytest.raises(RuntimeError, match="app_context"):
            asyncio.run(oauth.demo.get_async("me", token=token))
        with pytest.raises(RuntimeError, match="inside a view"):  # checked before anything else
            oauth.demo.authorize_redirect_sync("http://127.0.0.1/cb")
        assert len(provider.received("api", "me")) == 0

        # As in Authlib, init_app() makes that app the one used outside a context.
        app = _new_app()
        oauth.init_app(app)
        assert oauth.demo.get_sync("me", token=token).json()["user"] == "alice"
        with app.app_context():
            assert oauth.demo.get_sync("me", token=token).json()["user"] == "alice"
        other = _new_app("not-initialised")
        with other.app_context(), pytest.raises(RuntimeError, match="init_app"):
            oauth.demo.get_sync("me", token=token)
    finally:
        oauth.close()


# ------------------------------------------------------------------ redirect_uri


@pytest.mark.parametrize("redirect_uri", ["callback", "/auth/callback", "../auth/callback", "callback?next=%2Fhome"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_relative_redirect_uri_is_resolved_against_the_request(
    kind: str, redirect_uri: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # An absolute path names the view kind's own callback; relative ones resolve below it.
    target = PREFIX[kind] + redirect_uri if redirect_uri.startswith("/") else redirect_uri

    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/auth/login")
        def s_login() -> Any:
            return oauth.demo.authorize_redirect(target)

        @app.route("/s/auth/callback")
        def s_callback() -> Response:
            return jsonify(user=oauth.demo.authorize_access_token()["screen_name"], next=request.args.get("next"))

        @app.route("/a/auth/login")
        async def a_login() -> Any:
            return await oauth.demo.authorize_redirect(target)

        @app.route("/a/auth/callback")
        async def a_callback() -> Response:
            token = await oauth.demo.authorize_access_token()
            return jsonify(user=token["screen_name"], next=request.args.get("next"))

    ca = client_app(provider, setup)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/auth/login", user="heidi")
    assert result.response.status_code == 200, result.response.text
    callback_path = PREFIX[kind] + "/auth/callback"
    assert urlsplit(result.callback_url).path == callback_path
    assert result.callback_url.startswith(ca.url + callback_path)
    expected_next = "/home" if "next" in redirect_uri else None
    assert result.response.json() == {"user": "heidi", "next": expected_next}
    temporary = last(provider, "request_token")
    assert temporary.authorization is not None
    assert escape(ca.url + callback_path) in temporary.authorization


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_no_redirect_uri_sends_oob(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/login")
        def s_login() -> Any:
            return oauth.demo.authorize_redirect()

        @app.route("/a/login")
        async def a_login() -> Any:
            return await oauth.demo.authorize_redirect()

    ca = client_app(provider, setup)
    with Browser() as browser:
        authorize_url = start_login(browser, ca.url + PREFIX[kind] + "/login")
    assert urlsplit(authorize_url).path == urlsplit(provider.authorize_url).path
    recorded = last(provider, "request_token")
    assert recorded.authorization is not None
    assert 'oauth_callback="oob"' in recorded.authorization


def test_authorize_redirect_fails_before_any_network_call(provider: FakeProvider) -> None:
    # Regression: outside a request, and without a SECRET_KEY, authorize_redirect()
    # used to make the signed request-token call first and raise afterwards.
    oauth = OAuth()
    oauth.register("demo", **register_settings(provider))
    app = Flask("no-request")
    oauth.init_app(app)
    with app.app_context():
        with pytest.raises(RuntimeError, match="inside a view"):
            oauth.demo.authorize_redirect_sync("http://127.0.0.1/cb")
        with pytest.raises(RuntimeError, match="inside a view"):
            asyncio.run(oauth.demo.authorize_redirect_async("http://127.0.0.1/cb"))
    # A request, but no SECRET_KEY:
    with app.test_request_context("/login"), pytest.raises(ConfigurationError, match="SECRET_KEY"):
        oauth.demo.authorize_redirect_sync("/cb")
    assert len(provider.received("request_token")) == 0


def test_settings_are_readable_as_properties(provider: FakeProvider) -> None:
    oauth = OAuth()
    remote = oauth.register("demo", client_id="kw-id", client_secret="kw-secret", request_token_params={"a": 1})
    # Before any app, outside any context: the keywords.
    assert remote.client_id == "kw-id"
    assert remote.client_secret == "kw-secret"
    assert remote.request_token_params == {"a": 1}
    with pytest.raises(RuntimeError, match="DEMO_ACCESS_TOKEN_URL"):  # only an app's config could give it
        remote.access_token_url  # noqa: B018
    app = _new_app()
    app.config.update(_full_config(provider))
    oauth.init_app(app)
    with app.app_context():  # resolved for the current app: the config fills in the rest
        assert remote.client_id == "kw-id"
        assert remote.access_token_url == provider.access_token_url
        assert remote.api_base_url == provider.url + "/api"
    assert "kw-secret" not in repr(remote)


def test_init_app_arguments_are_kept_on_the_registry() -> None:
    cache = object()

    def fetch_token(name: str) -> None:
        return None

    oauth = OAuth()
    oauth.init_app(_new_app(), cache=cache, fetch_token=fetch_token)  # type: ignore[arg-type]
    assert oauth.cache is cache
    assert oauth.fetch_token is fetch_token
