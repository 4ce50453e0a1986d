"""Configuration: the ten ``{NAME}_*`` config keys, precedence, and the registry's life cycle.

Everything that can be is driven through a real client server and the
scripted browser, in a sync view and an async view.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
from authlib.integrations.base_client import OAuthError
from authlib.oauth1.rfc5849.wrapper import OAuth1Request
from flask import Flask, Response, jsonify, request, url_for

from flask_oauth1_async import (
    CONFIG_KEYS,
    EXTENSION_KEY,
    ConfigurationError,
    OAuth,
    RemoteApp,
    RequestTimeoutError,
)
from tests.conftest import ClientAppFactory, Provider
from tests.support.browser import Browser
from tests.support.provider import (
    HMAC_CLIENT_ID,
    HMAC_CLIENT_SECRET,
    Consumer,
    RecordedRequest,
    rfc5849_base_string,
)
from tests.support.servers import ServerThread

VIEW_KINDS = ("sync", "async")
LOGIN_PATH = {"sync": "/login", "async": "/alogin"}
CALLBACK_PATH = {"sync": "/callback", "async": "/acallback"}


# ------------------------------------------------------------------ helpers


def escape(value: str) -> str:
    """RFC 5849 section 3.6 percent-encoding."""
    return quote(value, safe="~")


def _routes(app: Flask, oauth: OAuth) -> None:
    """Dance routes (sync and async) and a JSON handler for every ``OAuthError``."""

    @app.errorhandler(OAuthError)
    def oauth_error(e: OAuthError) -> tuple[Response, int]:
        return jsonify(error=type(e).__name__, message=str(e)), 418

    @app.route("/login")
    def login() -> Any:
        return oauth.demo.authorize_redirect(url_for("callback", _external=True))

    @app.route("/callback")
    def callback() -> Response:
        token = oauth.demo.authorize_access_token()
        return jsonify(screen_name=token["screen_name"], me=oauth.demo.get("me").json())

    @app.route("/alogin")
    async def alogin() -> Any:
        return await oauth.demo.authorize_redirect(url_for("acallback", _external=True))

    @app.route("/acallback")
    async def acallback() -> Response:
        token = await oauth.demo.authorize_access_token()
        me = await oauth.demo.get("me")
        return jsonify(screen_name=token["screen_name"], me=me.json())


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


def _full_config(p: Provider, prefix: str = "DEMO") -> dict[str, Any]:
    return {
        f"{prefix}_CLIENT_ID": HMAC_CLIENT_ID,
        f"{prefix}_CLIENT_SECRET": HMAC_CLIENT_SECRET,
        f"{prefix}_REQUEST_TOKEN_URL": p.url + "/request_token",
        f"{prefix}_ACCESS_TOKEN_URL": p.url + "/access_token",
        f"{prefix}_AUTHORIZE_URL": p.url + "/authorize",
        f"{prefix}_API_BASE_URL": p.url + "/api",
    }


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode([*parse_qsl(parts.query), *params.items()])))


def _start_login(browser: Browser, url: str) -> str:
    response = browser.get(url)
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])


def _approve(browser: Browser, authorize_url: str, user: str = "alice") -> str:
    response = browser.get(_with_query(authorize_url, user=user))
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])


def _verify_hmac_sha256(p: Provider, recorded: RecordedRequest, token_secret: str) -> str:
    """Recompute the HMAC-SHA256 signature of a recorded request; return its base string."""
    uri = p.url + recorded.path + (f"?{recorded.query_string}" if recorded.query_string else "")
    oauth_request = OAuth1Request(recorded.method, uri, recorded.body.decode(), recorded.headers)
    base_string = rfc5849_base_string(oauth_request)
    key = f"{escape(HMAC_CLIENT_SECRET)}&{escape(token_secret)}"
    expected = base64.b64encode(hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()).decode()
    assert oauth_request.signature == expected, "the provider got a signature over exactly these parameters"
    assert oauth_request.signature_method == "HMAC-SHA256"
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
def test_all_ten_config_keys_are_read(kind: str, provider: Provider, serve: ServeFn) -> None:
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
        authorize_url = _start_login(browser, server.url + LOGIN_PATH[kind])
        assert authorize_url.startswith(provider.url + "/authorize?")  # AUTHORIZE_URL
        assert _query(authorize_url)["x_auth"] == ["auth-value"]  # AUTHORIZE_PARAMS
        oauth_token = _query(authorize_url)["oauth_token"][0]
        credential = provider.state.get_temporary(oauth_token)
        assert credential is not None
        request_token_secret = str(credential["oauth_token_secret"])
        response = browser.get(_approve(browser, authorize_url))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["screen_name"] == "alice"
    assert body["me"]["user"] == "alice"  # API_BASE_URL: "me" resolved to .../api/me
    assert body["me"]["client_id"] == HMAC_CLIENT_ID  # CLIENT_ID (+ CLIENT_SECRET: signatures verified)

    # REQUEST_TOKEN_PARAMS: in the form body, and inside the signature base string.
    rt = provider.state.last_request("/request_token")
    assert rt is not None
    assert parse_qs(rt.body.decode()) == {"x_rt": ["rt value"]}
    assert "x_rt%3Drt%2520value" in _verify_hmac_sha256(provider, rt, "")
    # ACCESS_TOKEN_PARAMS: same for the access-token request (signed with the request token).
    at = provider.state.last_request("/access_token")
    assert at is not None
    assert parse_qs(at.body.decode()) == {"x_at": ["at/value"]}
    assert "x_at%3Dat%252Fvalue" in _verify_hmac_sha256(provider, at, request_token_secret)
    # CLIENT_KWARGS: the header on every request to the provider, sync or async.
    for path in ("/request_token", "/access_token", "/api/me"):
        recorded = provider.state.last_request(path)
        assert recorded is not None, path
        assert recorded.headers.get("X-Test") == "from-config", path


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_missing_client_id_names_the_config_key(kind: str, provider: Provider, serve: ServeFn) -> None:
    app = _new_app()
    oauth = OAuth(app)
    settings = provider.settings()
    del settings["client_id"]
    oauth.register("demo", **settings)
    _routes(app, oauth)
    server = serve(app, oauth)
    with Browser() as browser:
        response = browser.get(server.url + LOGIN_PATH[kind])
    assert response.status_code == 418, response.text
    body = response.json()
    assert body["error"] == "ConfigurationError"
    assert "DEMO_CLIENT_ID" in body["message"]
    assert "client_id" in body["message"]
    assert provider.state.hits["/request_token"] == 0


@pytest.mark.parametrize(
    ("client_kwargs", "named"),
    [
        ({"bogus_option": 1, "headers": {"X-Test": "1"}}, "bogus_option"),
        ({"verfiy": False}, "verfiy"),
        ({"base_url": "http://127.0.0.1:1/"}, "api_base_url"),
    ],
    ids=["bogus", "typo", "base_url-hint"],
)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_unknown_client_kwargs_key_is_a_configuration_error(
    kind: str, client_kwargs: dict[str, Any], named: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _routes, config={"DEMO_CLIENT_KWARGS": client_kwargs}, client_kwargs=None)
    with Browser() as browser:
        response = browser.get(ca.url + LOGIN_PATH[kind])
    assert response.status_code == 418, response.text
    body = response.json()
    assert body["error"] == "ConfigurationError"
    assert named in body["message"]
    assert provider.state.hits["/request_token"] == 0


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
def test_register_keywords_win_over_config(kind: str, provider: Provider, client_app: ClientAppFactory) -> None:
    config = {
        "DEMO_CLIENT_ID": "wrong-client",
        "DEMO_CLIENT_SECRET": "wrong-secret",
        "DEMO_AUTHORIZE_PARAMS": {"b": "cfg", "c": "cfg"},
        "DEMO_CLIENT_KWARGS": {"headers": {"X-Test": "cfg"}},
        "DEMO_AUTHORIZE_URL": provider.url + "/authorize",  # fills in what register() did not give
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
        result = browser.login_via(ca.url + LOGIN_PATH[kind])
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["me"]["client_id"] == HMAC_CLIENT_ID
    query = _query(result.authorize_url)
    assert query["a"] == ["kw"]
    assert query["b"] == ["kw"]
    assert "c" not in query, "without overwrite the keyword dict is used as given"
    recorded = provider.state.last_request("/api/me")
    assert recorded is not None
    assert recorded.headers["X-Test"] == "kw"


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_overwrite_lets_non_empty_config_win_and_merges_dicts(
    kind: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    config = {
        "DEMO_CLIENT_ID": HMAC_CLIENT_ID,
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
        result = browser.login_via(ca.url + LOGIN_PATH[kind])
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["me"]["client_id"] == HMAC_CLIENT_ID
    query = _query(result.authorize_url)
    assert (query["a"], query["b"], query["c"]) == (["kw"], ["cfg"], ["cfg"])
    recorded = provider.state.last_request("/api/me")
    assert recorded is not None
    # client_kwargs are merged key by key: "headers" as a whole comes from the config.
    assert recorded.headers["X-Test"] == "cfg"
    assert "X-Other" not in recorded.headers


# ------------------------------------------------------------------ authorize params


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_per_call_authorize_kwargs_override_authorize_params(
    kind: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/login")
        def login() -> Any:
            return oauth.demo.authorize_redirect(url_for("callback", _external=True), x="1", extra="call")

        @app.route("/callback")
        def callback() -> Response:
            return jsonify(oauth.demo.authorize_access_token())

        @app.route("/alogin")
        async def alogin() -> Any:
            return await oauth.demo.authorize_redirect(url_for("acallback", _external=True), x="1", extra="call")

        @app.route("/acallback")
        async def acallback() -> Response:
            return jsonify(await oauth.demo.authorize_access_token())

    ca = client_app(provider, setup, config={"DEMO_AUTHORIZE_PARAMS": {"x": "0", "y": "keep"}})
    with Browser() as browser:
        result = browser.login_via(ca.url + LOGIN_PATH[kind])
    assert result.response.status_code == 200, result.response.text
    query = _query(result.authorize_url)
    assert query["x"] == ["1"]
    assert query["y"] == ["keep"]
    assert query["extra"] == ["call"]
    assert len(query["oauth_token"]) == 1


# ------------------------------------------------------------------ client kwargs: headers, timeout


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_client_kwargs_headers_sent_on_every_call(kind: str, provider: Provider, client_app: ClientAppFactory) -> None:
    headers = {"User-Agent": "my-client/1.0", "X-Test": kind}
    ca = client_app(provider, _routes, client_kwargs={"headers": headers})
    with Browser() as browser:
        result = browser.login_via(ca.url + LOGIN_PATH[kind])
    assert result.response.status_code == 200, result.response.text
    for path in ("/request_token", "/access_token", "/api/me"):
        recorded = provider.state.last_request(path)
        assert recorded is not None, path
        assert recorded.headers.get("User-Agent") == "my-client/1.0", path
        assert recorded.headers.get("X-Test") == kind, path


def _timeout_routes(token: dict[str, str]) -> Callable[[Flask, OAuth], None]:
    def setup(app: Flask, oauth: OAuth) -> None:
        _routes(app, oauth)

        # Without ?t= the client's timeout applies (timeout=None would mean "no timeout" to httpx).
        @app.route("/slow")
        def slow() -> Response:
            params = {"ms": request.args["ms"]}
            if "t" in request.args:
                resp = oauth.demo.get("slow", token=token, params=params, timeout=float(request.args["t"]))
            else:
                resp = oauth.demo.get("slow", token=token, params=params)
            return jsonify(resp.json())

        @app.route("/aslow")
        async def aslow() -> Response:
            params = {"ms": request.args["ms"]}
            if "t" in request.args:
                resp = await oauth.demo.get("slow", token=token, params=params, timeout=float(request.args["t"]))
            else:
                resp = await oauth.demo.get("slow", token=token, params=params)
            return jsonify(resp.json())

    return setup


def _drain(p: Provider) -> None:
    """Wait until the provider has finished the requests the client gave up on.

    They are still sleeping server-side; left alone they would reach the
    provider app (and its counters) during the next test.
    """
    p.server.set_latency(0)
    deadline = time.monotonic() + 10
    while p.server.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert p.server.in_flight == 0


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_client_kwargs_timeout_is_honoured(kind: str, provider: Provider, client_app: ClientAppFactory) -> None:
    # The provider sleeps 1 s against a 0.2 s client timeout: a 5x margin.
    token = provider.token_for("alice")
    ca = client_app(provider, _timeout_routes(token), client_kwargs={"timeout": 0.2})
    slow = "/slow" if kind == "sync" else "/aslow"
    try:
        with Browser() as browser:
            timed_out = browser.get(ca.url + slow + "?ms=1000")
            # A per-call timeout overrides the client's default.
            patient = browser.get(ca.url + slow + "?ms=300&t=10")
            # The dance's own requests use the client timeout too.
            provider.server.set_latency(1000, path_prefix="/request_token")
            login = browser.get(ca.url + LOGIN_PATH[kind])
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
def test_application_factory_pattern(kind: str, provider: Provider, serve: ServeFn) -> None:
    oauth = OAuth()
    remote = oauth.register("demo")  # before any app exists
    assert isinstance(remote, RemoteApp)
    assert oauth.demo is remote
    app = _factory_app(oauth, _full_config(provider), "factory-app")
    assert app.extensions[EXTENSION_KEY].registry is oauth
    server = serve(app, oauth)
    with Browser() as browser:
        result = browser.login_via(server.url + LOGIN_PATH[kind], user="erin")
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["me"]["user"] == "erin"


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_one_registry_serves_two_apps_with_different_credentials(kind: str, provider: Provider, serve: ServeFn) -> None:
    provider.state.add_consumer(Consumer("client-two", client_secret="secret-two"))
    oauth = OAuth()
    oauth.register(
        "demo",
        request_token_url=provider.url + "/request_token",
        access_token_url=provider.url + "/access_token",
        authorize_url=provider.url + "/authorize",
        api_base_url=provider.url + "/api",
    )
    first = _factory_app(oauth, {"DEMO_CLIENT_ID": HMAC_CLIENT_ID, "DEMO_CLIENT_SECRET": HMAC_CLIENT_SECRET}, "one")
    second = _factory_app(oauth, {"DEMO_CLIENT_ID": "client-two", "DEMO_CLIENT_SECRET": "secret-two"}, "two")
    servers = [serve(first, oauth), serve(second, oauth)]
    seen: list[str] = []
    for server, user in zip(servers, ("frank", "grace"), strict=True):
        with Browser() as browser:
            result = browser.login_via(server.url + LOGIN_PATH[kind], user=user)
        assert result.response.status_code == 200, result.response.text
        me = result.response.json()["me"]
        assert me["user"] == user
        seen.append(me["client_id"])
    assert seen == [HMAC_CLIENT_ID, "client-two"]
    consumer_keys = [r.authorization for r in provider.state.requests if r.path == "/request_token" and r.authorization]
    assert len(consumer_keys) == 2
    assert 'oauth_consumer_key="client-hmac"' in consumer_keys[0]
    assert 'oauth_consumer_key="client-two"' in consumer_keys[1]


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
def test_re_registering_replaces_settings(kind: str, provider: Provider, client_app: ClientAppFactory) -> None:
    token = provider.token_for("alice")

    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/me")
        def me() -> Response:
            resp = oauth.demo.get("me", token=token)
            return jsonify(status=resp.status_code)

        @app.route("/ame")
        async def ame() -> Response:
            resp = await oauth.demo.get("me", token=token)
            return jsonify(status=resp.status_code)

    ca = client_app(provider, setup, client_kwargs={"headers": {"X-Test": "v1"}})
    path = "/me" if kind == "sync" else "/ame"
    seen: list[str | None] = []
    with Browser() as browser:
        assert browser.get(ca.url + path).json() == {"status": 200}
        seen.append(provider.state.last_request("/api/me").headers.get("X-Test"))  # type: ignore[union-attr]

        again = ca.oauth.register("demo", **provider.settings(client_kwargs={"headers": {"X-Test": "v2"}}))
        assert again is ca.oauth.demo, "the same RemoteApp object, with new settings"
        assert browser.get(ca.url + path).json() == {"status": 200}
        seen.append(provider.state.last_request("/api/me").headers.get("X-Test"))  # type: ignore[union-attr]

        # New credentials take effect too: a wrong secret is now rejected by the provider.
        ca.oauth.register("demo", **provider.settings(client_secret="wrong"))
        assert browser.get(ca.url + path).json() == {"status": 401}
    assert seen == ["v1", "v2"]


def test_registry_outside_app_context_raises_with_hint(provider: Provider) -> None:
    oauth = OAuth()  # factory style, and no app initialised yet: nothing to fall back to
    oauth.register("demo", **provider.settings())
    token = provider.token_for("alice")
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
        assert provider.state.hits["/api/me"] == 0

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
    kind: str, redirect_uri: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    target = redirect_uri if kind == "sync" else redirect_uri.replace("callback", "acallback")

    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/auth/login")
        def login() -> Any:
            return oauth.demo.authorize_redirect(target)

        @app.route("/auth/callback")
        def callback() -> Response:
            return jsonify(user=oauth.demo.authorize_access_token()["screen_name"], next=request.args.get("next"))

        @app.route("/auth/alogin")
        async def alogin() -> Any:
            return await oauth.demo.authorize_redirect(target)

        @app.route("/auth/acallback")
        async def acallback() -> Response:
            token = await oauth.demo.authorize_access_token()
            return jsonify(user=token["screen_name"], next=request.args.get("next"))

    ca = client_app(provider, setup)
    login_path = "/auth/login" if kind == "sync" else "/auth/alogin"
    with Browser() as browser:
        result = browser.login_via(ca.url + login_path, user="heidi")
    assert result.response.status_code == 200, result.response.text
    callback_path = "/auth/callback" if kind == "sync" else "/auth/acallback"
    assert urlsplit(result.callback_url).path == callback_path
    assert result.callback_url.startswith(ca.url + callback_path)
    expected_next = "/home" if "next" in redirect_uri else None
    assert result.response.json() == {"user": "heidi", "next": expected_next}
    temporary = provider.state.last_request("/request_token")
    assert temporary is not None
    assert temporary.authorization is not None
    assert escape(ca.url + callback_path) in temporary.authorization


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_no_redirect_uri_sends_oob(kind: str, provider: Provider, client_app: ClientAppFactory) -> None:
    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/login")
        def login() -> Any:
            return oauth.demo.authorize_redirect()

        @app.route("/alogin")
        async def alogin() -> Any:
            return await oauth.demo.authorize_redirect()

    ca = client_app(provider, setup)
    with Browser() as browser:
        authorize_url = _start_login(browser, ca.url + LOGIN_PATH[kind])
    assert urlsplit(authorize_url).path == "/authorize"
    recorded = provider.state.last_request("/request_token")
    assert recorded is not None
    assert recorded.authorization is not None
    assert 'oauth_callback="oob"' in recorded.authorization


def test_authorize_redirect_fails_before_any_network_call(provider: Provider) -> None:
    # Regression: outside a request, and without a SECRET_KEY, authorize_redirect()
    # used to make the signed request-token call first and raise afterwards.
    oauth = OAuth()
    oauth.register("demo", **provider.settings())
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
    assert provider.state.hits["/request_token"] == 0


def test_settings_are_readable_as_properties(provider: Provider) -> None:
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
        assert remote.access_token_url == provider.url + "/access_token"
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
