"""The Flask-OAuthlib compatibility layer, against the real local OAuth 1 provider.

Everything talks to the suite's fake provider (``provider`` of
``tests/conftest.py``: :class:`flask_oauth1_async.testing.FakeProvider`, with
the routes of :mod:`tests.support.fake`) over real HTTP on 127.0.0.1; logins
are played by :class:`tests.support.browser.Browser` against client apps
served by :class:`tests.support.servers.ServerThread`. The provider verifies
every signature, nonce and token with oauthlib, so a 200 from it proves the
layer signed the request correctly.
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from flask import Flask, request, session, url_for

from flask_oauth1_async import ConfigurationError, OAuth1Error
from flask_oauth1_async.compat.flask_oauthlib import (
    OAuth,
    OAuthException,
    OAuthRemoteApp,
    OAuthResponse,
)
from flask_oauth1_async.testing import FakeProvider
from tests.compat.apps import twitter_app, twitter_app_async
from tests.support.browser import Browser
from tests.support.fake import last
from tests.support.keys import RSA_PRIVATE, RSA_PUBLIC
from tests.support.servers import ServerThread
from tests.support.views import VIEW_KINDS

_counter = itertools.count()


# ------------------------------------------------------------------ fixtures & helpers


def token_pair(provider: FakeProvider, user: str = "alice", consumer: str | None = None) -> tuple[str, str]:
    """An access token of *provider* for *user*, as Flask-OAuthlib's ``(token, secret)`` pair."""
    issued = provider.issue_token(user, consumer=consumer)
    return issued["oauth_token"], issued["oauth_token_secret"]


@pytest.fixture
def registries() -> Iterator[list[OAuth]]:
    """Collects compat registries and closes their HTTP clients after the test."""
    made: list[OAuth] = []
    yield made
    for oauth in made:
        oauth.native.close()


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    with ServerThread(app, name="compat-client") as server:
        yield server.url


def settings(provider: FakeProvider, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "consumer_key": provider.client_id,
        "consumer_secret": provider.client_secret,
        "base_url": provider.api_base_url,
        "request_token_url": provider.request_token_url,
        "request_token_method": "POST",
        "access_token_url": provider.access_token_url,
        "authorize_url": provider.authorize_url,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def describe(exc: OAuthException) -> dict[str, Any]:
    return {
        "error": "OAuthException",
        "type": exc.type,
        "message": exc.message,
        "str": str(exc),
        "data": exc.data,
        "is_runtime_error": isinstance(exc, RuntimeError),
        "is_oauth1_error": isinstance(exc, OAuth1Error),
        "cause": type(exc.__cause__).__name__,
    }


def make_client(
    registries: list[OAuth],
    provider: FakeProvider,
    *,
    async_views: bool = False,
    name: str = "provider",
    **overrides: Any,
) -> tuple[Flask, OAuth, OAuthRemoteApp]:
    """A client app with login/callback views that report what happened as JSON."""
    app = Flask(f"compat_client_{next(_counter)}")
    app.secret_key = "compat-tests"
    oauth = OAuth(app)
    registries.append(oauth)
    remote = oauth.remote_app(name, **settings(provider, **overrides))

    @remote.tokengetter
    def token_from_session() -> tuple[str, str] | None:
        saved = session.get("token")
        if saved:
            return saved["oauth_token"], saved["oauth_token_secret"]
        return None

    def signed_in(resp: Any, me: Any) -> dict[str, Any]:
        return {
            "fields": sorted(resp),
            "screen_name": resp["screen_name"],
            "is_dict": isinstance(resp, dict),
            "me_status": me.status,
            "me": me.data,
        }

    if async_views:

        @app.get("/login")
        async def login() -> Any:
            try:
                return await remote.authorize(callback=url_for("callback"), **request.args.to_dict())
            except OAuthException as exc:
                return describe(exc), 502

        @app.get("/callback")
        async def callback() -> Any:
            try:
                resp = await remote.authorized_response()
            except OAuthException as exc:
                return describe(exc), 502
            if resp is None:
                return {"denied": True}
            session["token"] = resp
            return signed_in(resp, await remote.get("me"))

    else:

        @app.get("/login")
        def login() -> Any:
            try:
                return remote.authorize(callback=url_for("callback"), **request.args.to_dict())
            except OAuthException as exc:
                return describe(exc), 502

        @app.get("/callback")
        def callback() -> Any:
            try:
                resp = remote.authorized_response()
            except OAuthException as exc:
                return describe(exc), 502
            if resp is None:
                return {"denied": True}
            session["token"] = resp
            return signed_in(resp, remote.get("me"))

    return app, oauth, remote


def in_request(app: Flask, mode: str, call: Callable[[], Any], path: str = "/") -> Any:
    """Run *call* inside a request: directly (sync) or inside a running event loop (async).

    In async mode *call* runs with a loop running, so the dual methods return
    awaitables, exactly as in an ``async def`` view.
    """
    with app.test_request_context(path):
        if mode == "sync":
            return call()

        async def main() -> Any:
            return await call()

        return asyncio.run(main())


# ------------------------------------------------------------------ the example app


@pytest.mark.parametrize("module", [twitter_app, twitter_app_async], ids=["sync-views", "async-views"])
def test_twitter_example_signs_in_tweets_and_signs_out(provider: FakeProvider, module: Any) -> None:
    provider.add_consumer(module.CONSUMER_SECRET, key=module.CONSUMER_KEY)
    app = module.create_app(provider.url)
    try:
        with serving(app) as client_url, Browser() as alice:
            home = alice.get(client_url + "/")
            assert "Sign in with Twitter" in home.text

            result = alice.login_via(client_url + "/login?next=/", user="alice")
            page = result.response
            assert page.status_code == 200, page.text
            assert "You were signed in as alice" in page.text
            assert "Signed in as <b>alice</b>" in page.text
            assert f"(id {provider.users['alice']['user_id']})" in page.text
            # the relative callback was resolved against the request and carried ?next=
            assert result.callback_url.startswith(client_url + "/oauthorized?next=%2F&")
            assert set(result.callback_params) >= {"oauth_token", "oauth_verifier"}

            posted = alice.follow(client_url + "/tweet", method="POST", data={"tweet": "hello, world & all"})
            assert "Tweeted: hello, world &amp; all" in posted.response.text

            out = alice.follow(client_url + "/logout")
            assert "Sign in with Twitter" in out.response.text
    finally:
        app.extensions["oauthlib.client"].native.close()


@pytest.mark.parametrize("module", [twitter_app, twitter_app_async], ids=["sync-views", "async-views"])
def test_twitter_example_denied_login_flashes_and_stays_signed_out(provider: FakeProvider, module: Any) -> None:
    provider.add_consumer(module.CONSUMER_SECRET, key=module.CONSUMER_KEY)
    app = module.create_app(provider.url)
    before = len(provider.received("access_token"))
    try:
        with serving(app) as client_url, Browser() as bob:
            result = bob.login_via(client_url + "/login", deny=True)
            assert "denied" in result.callback_params
            assert result.response.status_code == 200
            assert "You denied the request to sign in." in result.response.text
            assert "Sign in with Twitter" in result.response.text
            # Replaying the denial later is harmless too.
            again = bob.follow(result.callback_url)
            assert "You denied the request to sign in." in again.response.text
    finally:
        app.extensions["oauthlib.client"].native.close()
    assert len(provider.received("access_token")) == before


# ------------------------------------------------------------------ the dance


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_dance_returns_token_dict_and_denial_returns_none(
    provider: FakeProvider, registries: list[OAuth], mode: str
) -> None:
    app, _, _ = make_client(registries, provider, async_views=mode == "async")
    with serving(app) as client_url:
        with Browser() as alice:
            result = alice.login_via(client_url + "/login", user="alice")
            body = result.response.json()
            assert result.response.status_code == 200, body
            # everything the provider sent (oauthlib adds the granted realms, none here)
            assert body["fields"] == [
                "oauth_authorized_realms",
                "oauth_token",
                "oauth_token_secret",
                "screen_name",
                "user_id",
            ]
            assert body["screen_name"] == "alice"
            assert body["is_dict"] is True
            assert body["me_status"] == 200
            assert body["me"]["user"] == "alice"

            with Browser() as mallory:  # a callback replayed in another browser
                stolen = mallory.get(result.callback_url)
                assert stolen.status_code == 502
                assert stolen.json()["type"] == "token_not_found"
            replay = alice.get(result.callback_url)  # and the same browser cannot use it twice
            assert replay.json()["type"] == "token_not_found"

        with Browser() as bob:
            denied = bob.login_via(client_url + "/login", deny=True)
            assert denied.response.json() == {"denied": True}
            # not a callback at all: Flask-OAuthlib also answered None
            assert bob.get(client_url + "/callback").json() == {"denied": True}


def test_request_token_method_defaults_to_get(provider: FakeProvider, registries: list[OAuth]) -> None:
    # RFC 5849 lets a server take the temporary-credentials request by another method than POST;
    # oauthlib's endpoint (the fake provider's) takes GET too.
    app, _, remote = make_client(
        registries,
        provider,
        request_token_method=None,
        request_token_params={"x_auth_access_type": "read"},
    )
    with app.app_context():
        assert remote.request_token_method == "GET"
        assert remote.access_token_method == "POST"
    with serving(app) as client_url, Browser() as alice:
        result = alice.login_via(client_url + "/login", user="alice")
        assert result.response.json()["screen_name"] == "alice"
    recorded = last(provider, "request_token")
    assert recorded.method == "GET"
    assert recorded.valid
    assert urlsplit(recorded.url).query == "x_auth_access_type=read"  # signed, in the query of the GET
    assert last(provider, "access_token").method == "POST"


def test_relative_token_urls_are_resolved_against_base_url(provider: FakeProvider, registries: list[OAuth]) -> None:
    app, _, remote = make_client(
        registries,
        provider,
        request_token_url="/oauth/request_token",  # urljoin: an absolute path replaces /api/
        access_token_url="../oauth/access_token",
        authorize_url="/oauth/authorize",
    )
    with app.app_context():
        assert remote.expand_url("me") == provider.url + "/api/me"
        assert remote.expand_url("/public") == provider.url + "/public"
        assert remote.expand_url("https://elsewhere.invalid/x") == "https://elsewhere.invalid/x"
    with serving(app) as client_url, Browser() as alice:
        assert alice.login_via(client_url + "/login").response.json()["screen_name"] == "alice"


def test_request_token_params_sign_or_are_sent_and_authorize_kwargs_reach_the_url(
    provider: FakeProvider, registries: list[OAuth]
) -> None:
    app, _, _ = make_client(
        registries,
        provider,
        request_token_params={"realm": "photos", "x_auth_access_type": "read", "signature_type": "AUTH_HEADER"},
    )
    with serving(app) as client_url, Browser() as alice:
        result = alice.login_via(client_url + "/login?force_login=true", user="alice")
        assert result.response.json()["screen_name"] == "alice"
    recorded = last(provider, "request_token")
    assert recorded.authorization is not None
    assert recorded.authorization.startswith('OAuth realm="photos", ')
    assert dict(parse_qsl(recorded.body)) == {"x_auth_access_type": "read"}
    query = dict(parse_qsl(urlsplit(result.authorize_url).query))
    assert query["force_login"] == "true"
    assert "realm" not in query  # request_token_params no longer leak into the browser's URL
    assert "x_auth_access_type" not in query


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_rsa_sha1_via_rsa_key_and_signature_method(provider: FakeProvider, registries: list[OAuth], mode: str) -> None:
    rsa_consumer = provider.add_consumer(rsa_public_key=RSA_PUBLIC)
    app, _, _ = make_client(
        registries,
        provider,
        async_views=mode == "async",
        consumer_key=rsa_consumer,
        consumer_secret=None,
        signature_method="RSA-SHA1",
        rsa_key=RSA_PRIVATE,
    )
    with serving(app) as client_url, Browser() as alice:
        body = alice.login_via(client_url + "/login", user="alice").response.json()
    assert body["me_status"] == 200
    assert body["me"]["client_id"] == rsa_consumer
    auth = last(provider, "api", "me").authorization
    assert auth is not None
    assert 'oauth_signature_method="RSA-SHA1"' in auth


def test_rsa_settings_in_request_token_params_still_work(provider: FakeProvider, registries: list[OAuth]) -> None:
    # Before 0.9 the RSA settings lived in request_token_params; they map to the same signer.
    rsa_consumer = provider.add_consumer(rsa_public_key=RSA_PUBLIC)
    app, _, remote = make_client(
        registries,
        provider,
        consumer_key=rsa_consumer,
        consumer_secret=None,
        request_token_params={"signature_method": "RSA-SHA1", "rsa_key": RSA_PRIVATE},
    )
    token = token_pair(provider, consumer=rsa_consumer)
    resp = in_request(app, "sync", lambda: remote.get("me", token=token))
    assert resp.status == 200
    assert resp.data["client_id"] == rsa_consumer


def test_login_started_in_a_sync_view_finishes_in_an_async_view(
    provider: FakeProvider, registries: list[OAuth]
) -> None:
    app, _, remote = make_client(registries, provider)

    @app.get("/login-mixed")
    def login_mixed() -> Any:
        return remote.authorize(callback=url_for("callback_async"))

    @app.get("/callback-async")
    async def callback_async() -> Any:
        resp = await remote.authorized_response()
        assert resp is not None
        me = await remote.get("me")
        return {"screen_name": resp["screen_name"], "me": me.data["user"]}

    with serving(app) as client_url, Browser() as alice:
        assert alice.login_via(client_url + "/login-mixed").response.json() == {"screen_name": "alice", "me": "alice"}


@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256", "PLAINTEXT"])
def test_other_signature_methods(provider_tls: FakeProvider, registries: list[OAuth], method: str) -> None:
    """Over HTTPS: PLAINTEXT is refused over plain HTTP (see the next test)."""
    provider = provider_tls
    app = Flask(f"sig_{next(_counter)}")
    oauth = OAuth(app)
    registries.append(oauth)
    remote = oauth.remote_app(
        "provider", signature_method=method, client_kwargs=provider.client_kwargs(), **settings(provider)
    )
    resp = in_request(app, "sync", lambda: remote.post("echo", data={"a": "b"}, token=token_pair(provider)))
    assert resp.status == 200, resp.raw_data
    auth = last(provider, "api", "echo").authorization
    assert f'oauth_signature_method="{method}"' in (auth or "")


def test_plaintext_over_plain_http_is_refused(provider: FakeProvider, registries: list[OAuth]) -> None:
    """A compat remote's settings are read when it is first used: PLAINTEXT to an http:// URL fails there."""
    app = Flask(f"sig_{next(_counter)}")
    oauth = OAuth(app)
    registries.append(oauth)
    remote = oauth.remote_app("provider", signature_method="PLAINTEXT", **settings(provider))
    with pytest.raises(ConfigurationError, match="PLAINTEXT over TLS only"):
        in_request(app, "sync", lambda: remote.post("echo", data={"a": "b"}, token=token_pair(provider)))
    assert provider.received("api", "echo") == []


def test_authorized_handler_decorator(provider: FakeProvider, registries: list[OAuth]) -> None:
    app, _, remote = make_client(registries, provider)

    @app.get("/login-old")
    def login_old() -> Any:
        return remote.authorize(callback=url_for("callback_old"))

    @app.get("/callback-old")
    @remote.authorized_handler
    def callback_old(resp: Any) -> Any:
        return {"denied": True} if resp is None else {"screen_name": resp["screen_name"]}

    with serving(app) as client_url, Browser() as alice:
        assert alice.login_via(client_url + "/login-old").response.json() == {"screen_name": "alice"}
        assert alice.login_via(client_url + "/login-old", deny=True).response.json() == {"denied": True}


# ------------------------------------------------------------------ errors of the dance


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, None, "Failed to generate request token"),
        (401, "oauth_problem=consumer_key_rejected", "Failed to generate request token (consumer_key_rejected)"),
        (None, "<html>maintenance</html>", "Invalid token response from provider"),
    ],
    ids=["http-500", "oauth-problem", "not-a-token"],
)
def test_failing_request_token_endpoint_raises_oauth_exception(
    provider: FakeProvider, registries: list[OAuth], mode: str, status: int | None, body: str | None, message: str
) -> None:
    if body is None:
        provider.fail_next("request_token", status or 500)
    else:
        provider.answer_next("request_token", body, status=status or 200)
    app, _, remote = make_client(registries, provider)
    with pytest.raises(OAuthException) as caught:
        in_request(app, mode, lambda: remote.authorize(callback="/callback"), path="/login")
    exc = caught.value
    assert exc.type == "token_generation_failed"
    assert exc.message == message
    assert str(exc) == message
    if status == 500:
        assert exc.data == "fake provider: scripted 500 from request_token"  # not a form: the text
    if status == 401:
        assert exc.data == {"oauth_problem": "consumer_key_rejected"}
    assert isinstance(exc.__cause__, OAuth1Error)


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_failing_access_token_endpoint_raises_invalid_response(
    provider: FakeProvider, registries: list[OAuth], mode: str
) -> None:
    app, _, _ = make_client(registries, provider, async_views=mode == "async")
    provider.answer_next("access_token", "oauth_problem=token_rejected", status=401)
    with serving(app) as client_url, Browser() as alice:
        result = alice.login_via(client_url + "/login", user="alice")
    assert result.response.status_code == 502
    assert result.response.json() == {
        "error": "OAuthException",
        "type": "invalid_response",
        "message": "Invalid response from provider",
        "str": "Invalid response from provider",
        "data": {"oauth_problem": "token_rejected"},
        "is_runtime_error": True,
        "is_oauth1_error": True,
        "cause": "AccessTokenRefusedError",  # a ProviderHTTPError that is also an AuthorizationError
    }


JSON_TOKEN_ANSWER = '{"oauth_token": "tok", "oauth_token_secret": "SEKRET-123", "error": "not_now"}'


def _json_token_answer_failure(provider: FakeProvider, registries: list[OAuth]) -> OAuthException:
    """Make the request-token endpoint answer 401 with a JSON token body; return the OAuthException."""
    provider.answer_next("request_token", JSON_TOKEN_ANSWER, status=401, content_type="application/json")
    app, _, remote = make_client(registries, provider)
    with pytest.raises(OAuthException) as caught:
        in_request(app, "sync", lambda: remote.authorize(callback="/callback"), path="/login")
    return caught.value


def test_oauth_exception_data_masks_token_secrets(provider: FakeProvider, registries: list[OAuth]) -> None:
    exc = _json_token_answer_failure(provider, registries)
    assert exc.type == "token_generation_failed"
    assert exc.data == {"oauth_token": "tok", "oauth_token_secret": "***", "error": "not_now"}
    assert "SEKRET-123" not in exc.message


def test_chained_core_error_masks_json_token_secrets(provider: FakeProvider, registries: list[OAuth]) -> None:
    cause = _json_token_answer_failure(provider, registries).__cause__
    assert isinstance(cause, OAuth1Error)
    assert "SEKRET-123" not in str(cause)


def test_oauth_exception_keeps_the_old_constructor() -> None:
    plain = OAuthException("boom")
    assert (plain.message, plain.type, plain.data) == ("boom", None, None)
    assert str(plain) == "boom"
    full = OAuthException("Invalid response from x", type="invalid_response", data={"a": "b"})
    positional = OAuthException("m", "token_missing", [1])
    assert (positional.type, positional.data) == ("token_missing", [1])
    assert full.args == ("Invalid response from x", "invalid_response", {"a": "b"})
    # old base class, core base class and Authlib's base class all catch it
    assert isinstance(full, RuntimeError)
    assert isinstance(full, OAuth1Error)
    assert isinstance(full, OAuthError)
    assert (full.error, full.description) == ("invalid_response", "Invalid response from x")
    assert plain.error == "oauth_exception"
    copied = pickle.loads(pickle.dumps(full))  # noqa: S301 - our own bytes
    assert (copied.message, copied.type, copied.data) == (full.message, full.type, full.data)
    assert repr(full) == "OAuthException('Invalid response from x', type='invalid_response')"
    with pytest.raises(RuntimeError, match=r"^boom$"):
        raise plain


def test_authorized_response_args_must_match_the_query(provider: FakeProvider, registries: list[OAuth]) -> None:
    app, _, remote = make_client(registries, provider)
    with app.test_request_context("/callback"):
        assert remote.authorized_response(args=request.args) is None
        assert remote.authorized_response(args={}) is None
    with app.test_request_context("/callback?oauth_token=t&oauth_verifier=v"):
        with pytest.raises(ValueError, match="query string"):
            remote.authorized_response(args={"oauth_token": "other", "oauth_verifier": "v"})
        with pytest.raises(OAuthException) as caught:  # no login was started in this session
            remote.authorized_response(args=dict(request.args))
        assert caught.value.type == "token_not_found"


# ------------------------------------------------------------------ config (app_key)


def _config_layouts(provider: FakeProvider) -> dict[str, dict[str, Any]]:
    values = settings(provider)
    return {
        "dict": {"TWITTER": values},
        "flat": {f"TWITTER_{key.upper()}": value for key, value in values.items()},
    }


@pytest.mark.parametrize("layout", ["dict", "flat"])
def test_app_key_config_layouts_with_an_app_factory(
    provider: FakeProvider, registries: list[OAuth], layout: str
) -> None:
    oauth = OAuth()  # defined at import time, before any app exists
    registries.append(oauth)
    twitter = oauth.remote_app("twitter", app_key="TWITTER")

    @twitter.tokengetter
    def token_from_session() -> Any:
        saved = session.get("token")
        return (saved["oauth_token"], saved["oauth_token_secret"]) if saved else None

    app = Flask(f"factory_{layout}")
    app.secret_key = "factory"
    app.config.update(_config_layouts(provider)[layout])
    oauth.init_app(app)

    @app.get("/callback")
    def callback() -> Any:
        resp = twitter.authorized_response()
        session["token"] = resp
        return {"me": twitter.get("me").data}

    @app.get("/login")
    def login() -> Any:
        return twitter.authorize(callback="/callback")

    with app.app_context():
        assert twitter.consumer_key == provider.client_id
        assert twitter.request_token_method == "POST"
        assert twitter.access_token_method == "POST"  # default: not in the config
        assert twitter.base_url == provider.url + "/api/"
    with serving(app) as client_url, Browser() as alice:
        assert alice.login_via(client_url + "/login").response.json()["me"]["user"] == "alice"


def test_app_key_is_read_per_app(provider: FakeProvider, registries: list[OAuth]) -> None:
    oauth = OAuth()
    registries.append(oauth)
    twitter = oauth.remote_app("twitter", app_key="TWITTER")
    good, bad = Flask("good_app"), Flask("bad_app")
    good.config.update(_config_layouts(provider)["dict"])
    bad.config.update(_config_layouts(provider)["flat"])
    bad.config["TWITTER_CONSUMER_SECRET"] = "wrong-secret"
    oauth.init_app(good)
    oauth.init_app(bad)
    token = token_pair(provider)
    assert in_request(good, "sync", lambda: twitter.get("me", token=token)).status == 200
    assert in_request(bad, "sync", lambda: twitter.get("me", token=token)).status == 401


def test_app_key_missing_setting_names_both_layouts(registries: list[OAuth]) -> None:
    oauth = OAuth()
    registries.append(oauth)
    twitter = oauth.remote_app("twitter", app_key="TWITTER")
    app = Flask("empty_config")
    oauth.init_app(app)
    with app.test_request_context("/"):
        with pytest.raises(ConfigurationError) as caught:
            twitter.get("me", token=("t", "s"))
        assert "app.config['TWITTER']['base_url'] or TWITTER_BASE_URL" in str(caught.value)
        with pytest.raises(ConfigurationError) as caught:
            twitter.get("http://127.0.0.1:9/me", token=("t", "s"))  # never sent: the check comes first
        assert "app.config['TWITTER']['consumer_key'] or TWITTER_CONSUMER_KEY" in str(caught.value)


# ------------------------------------------------------------------ tokens


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("getter_kind", ["def", "async def"])
def test_tokengetter_tuple_from_sync_or_async_getter(
    provider: FakeProvider, registries: list[OAuth], mode: str, getter_kind: str
) -> None:
    app = Flask(f"getter_{next(_counter)}")
    oauth = OAuth(app)
    registries.append(oauth)
    remote = oauth.remote_app("provider", **settings(provider))
    token = token_pair(provider, "carol")
    calls: list[str] = []

    if getter_kind == "def":

        @remote.tokengetter
        def getter() -> tuple[str, str]:
            calls.append(request.path)
            return token

    else:

        @remote.tokengetter
        async def getter() -> tuple[str, str]:
            calls.append(request.path)
            return token

    def both() -> Any:
        if mode == "sync":
            return [remote.get("me"), remote.post("echo", data={"a": "1"})]

        async def run() -> Any:
            return [await remote.get("me"), await remote.post("echo", data={"a": "1"})]

        return run()

    first, second = in_request(app, mode, both, path="/who")
    assert first.status == 200
    assert first.data["user"] == "carol"
    assert second.data["form"] == {"a": "1"}
    assert calls == ["/who"]  # called once per request, with the request visible


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_missing_token_raises_token_missing(provider: FakeProvider, registries: list[OAuth], mode: str) -> None:
    app = Flask(f"no_token_{next(_counter)}")
    oauth = OAuth(app)
    registries.append(oauth)
    no_getter = oauth.remote_app("nogetter", **settings(provider))
    none_getter = oauth.remote_app("nonegetter", **settings(provider))
    none_getter.tokengetter(lambda: None)
    for remote in (no_getter, none_getter):
        with pytest.raises(OAuthException) as caught:
            in_request(app, mode, lambda r=remote: r.get("me"))
        assert caught.value.type == "token_missing"
        assert caught.value.message.startswith("No token available")
    # an explicit token needs no getter
    assert in_request(app, mode, lambda: no_getter.get("me", token=token_pair(provider))).status == 200


# ------------------------------------------------------------------ resource calls


@pytest.fixture
def api(provider: FakeProvider, registries: list[OAuth]) -> tuple[Flask, OAuthRemoteApp]:
    app = Flask(f"api_{next(_counter)}")
    oauth = OAuth(app)
    registries.append(oauth)
    remote = oauth.remote_app("provider", **settings(provider))
    token = token_pair(provider, "dave")
    remote.tokengetter(lambda: token)
    return app, remote


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_format_json_post_sends_json(api: tuple[Flask, OAuthRemoteApp], mode: str) -> None:
    app, remote = api
    payload = {"text": "héllo", "n": 2, "nested": {"ok": True}}
    resp = in_request(app, mode, lambda: remote.post("echo", data=payload, format="json"))
    assert resp.status == 200
    assert resp.data["json"] == payload
    assert resp.data["content_type"] == "application/json"
    assert resp.data["form"] == {}


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_form_bodies_are_signed_for_every_method(api: tuple[Flask, OAuthRemoteApp], mode: str, method: str) -> None:
    app, remote = api
    data = {"status": "a b&c=d", "tags": ["x", "y"], "skip": None}
    resp = in_request(app, mode, lambda: getattr(remote, method)("echo", data=data))
    assert resp.status == 200, resp.raw_data
    assert resp.data["method"] == method.upper()
    # Sent in RFC 3986 form (a space is %20, never "+"), exactly as signed.
    assert resp.data["raw"] == "status=a%20b%26c%3Dd&tags=x&tags=y"
    assert resp.data["content_type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_request_with_explicit_method_and_raw_content_type(api: tuple[Flask, OAuthRemoteApp], mode: str) -> None:
    app, remote = api
    resp = in_request(
        app,
        mode,
        lambda: remote.request("echo", data="<note>hi</note>", method="PUT", content_type="application/xml"),
    )
    assert resp.status == 200
    assert resp.data["raw"] == "<note>hi</note>"
    assert resp.data["content_type"] == "application/xml"


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_get_puts_data_in_the_query_string(api: tuple[Flask, OAuthRemoteApp], mode: str) -> None:
    app, remote = api
    resp = in_request(app, mode, lambda: remote.get("me?page=2", data={"q": "a b/é", "count": 5}))
    assert resp.status == 200
    assert resp.data["args"] == {"page": "2", "q": "a b/é", "count": "5"}


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_responses_are_parsed_by_content_type(api: tuple[Flask, OAuthRemoteApp], mode: str) -> None:
    app, remote = api

    def fetch_all() -> Any:
        paths = ["me", "xml", "form", "text", "status/404"]
        if mode == "sync":
            return [remote.get(p) for p in paths]

        async def run() -> Any:
            return [await remote.get(p) for p in paths]

        return run()

    as_json, as_xml, as_form, as_text, missing = in_request(app, mode, fetch_all)
    assert isinstance(as_json, OAuthResponse)
    assert as_json.data["user"] == "dave"
    assert as_json.headers["content-type"] == "application/json"
    assert isinstance(as_xml.data, ElementTree.Element)
    assert as_xml.data.tag == "user"
    assert as_xml.data.findtext("name") == "dave"
    assert as_form.data == {"user": "dave", "status": "ok"}
    assert as_text.data == b"hello dave"  # raw bytes, as Flask-OAuthlib on Python 3
    assert as_text.raw_data == b"hello dave"
    assert as_text.text == "hello dave"
    assert missing.status == 404  # HTTP errors do not raise
    assert missing.data == {"user": "dave", "status": 404}
    assert repr(missing) == "<OAuthResponse [404]>"
    assert isinstance(as_json.response, httpx.Response)


def test_remote_content_type_forces_parsing(provider: FakeProvider, registries: list[OAuth]) -> None:
    app = Flask("forced_type")
    oauth = OAuth(app)
    registries.append(oauth)
    remote = oauth.remote_app("provider", content_type="application/json", **settings(provider))
    resp = in_request(app, "sync", lambda: remote.get("form", token=token_pair(provider)))
    # the form body is not JSON: the bytes are kept instead of raising
    assert resp.data == resp.raw_data == b"user=alice&status=ok"
    forced_text = oauth.remote_app("text", content_type="text/plain", **settings(provider))
    assert in_request(app, "sync", lambda: forced_text.get("me", token=token_pair(provider))).data.startswith(b"{")


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_pre_request_runs_before_signing(api: tuple[Flask, OAuthRemoteApp], mode: str) -> None:
    app, remote = api
    seen: list[tuple[str, dict[str, str], Any]] = []

    def fix_up(uri: str, headers: dict[str, str], body: Any) -> tuple[str, dict[str, str], Any]:
        seen.append((uri, dict(headers), body))
        headers["X-Api-Version"] = "2"
        return uri + "&lang=fr", headers, body + "&extra=added"

    remote.pre_request = fix_up
    resp = in_request(app, mode, lambda: remote.post("echo?a=1", data={"status": "hi"}))
    assert resp.status == 200, resp.raw_data  # the changes were signed
    assert resp.data["args"] == {"a": "1", "lang": "fr"}
    assert resp.data["form"] == {"status": "hi", "extra": "added"}
    uri, headers, body = seen[0]
    assert uri == remote_url(app, remote, "echo?a=1")
    assert headers == {"Content-Type": "application/x-www-form-urlencoded"}  # not signed yet
    assert body == "status=hi"


def remote_url(app: Flask, remote: OAuthRemoteApp, path: str) -> str:
    with app.app_context():
        return remote.expand_url(path)


# ------------------------------------------------------------------ dual mode & native access


def test_dual_methods_in_an_event_loop(api: tuple[Flask, OAuthRemoteApp]) -> None:
    app, remote = api

    async def misuse() -> str:
        pending: Any = remote.get("me")
        try:
            pending.data  # noqa: B018 - forgetting the await
        except TypeError as exc:
            return str(exc)
        raise AssertionError("a pending call must not look like a response")

    message = in_request(app, "sync", lambda: asyncio.run(misuse()))
    assert message.startswith("oauth.provider.get() was called while an event loop is running")
    assert "await oauth.provider.get(...)" in message
    assert "get_sync(...)" in message

    async def explicit() -> tuple[int, int]:
        blocking = remote.get_sync("me")  # allowed: blocks the loop on purpose
        awaited = await remote.get_async("me")
        return blocking.status, awaited.status

    assert in_request(app, "sync", lambda: asyncio.run(explicit())) == (200, 200)
    assert in_request(app, "sync", lambda: remote.request_sync("me").status) == 200


def test_native_remote_shares_settings_and_tokens(api: tuple[Flask, OAuthRemoteApp], provider: FakeProvider) -> None:
    app, remote = api
    native = in_request(app, "sync", lambda: remote.native.get_sync("me"))
    assert isinstance(native, httpx.Response)
    assert native.json()["user"] == "dave"  # the tokengetter serves the native API too
    with app.test_request_context("/"):
        assert app.extensions["flask_oauth1_async"].registry is remote.oauth.native


# ------------------------------------------------------------------ the registry


def test_registry_api(provider: FakeProvider, registries: list[OAuth]) -> None:
    app = Flask("registry")
    oauth = OAuth(app)
    registries.append(oauth)
    assert app.extensions["oauthlib.client"] is oauth
    assert oauth.app is app
    twitter = oauth.remote_app("twitter", **settings(provider))
    assert oauth.twitter is twitter
    assert oauth.remote_apps == {"twitter": twitter}
    assert repr(twitter) == "<OAuthRemoteApp 'twitter'>"
    with pytest.raises(AttributeError, match="No such app: github"):
        _ = oauth.github
    with pytest.raises(ValueError, match="already registered"):
        oauth.remote_app("twitter", **settings(provider))

    # register=False: usable, not listed; a clashing or odd name still works
    hidden = oauth.remote_app("twitter", register=False, **settings(provider))
    dashed = oauth.remote_app("my-provider", **settings(provider))
    reserved = oauth.remote_app("init_app", **settings(provider))
    assert oauth.remote_apps == {"twitter": twitter, "my-provider": dashed, "init_app": reserved}
    for remote in (hidden, dashed, reserved):
        assert in_request(app, "sync", lambda r=remote: r.get("me", token=token_pair(provider))).status == 200

    with pytest.raises(TypeError, match="requires consumer key and secret"):
        oauth.remote_app("nosecret", **settings(provider, consumer_secret=None))
    with pytest.raises(TypeError, match="requires consumer key and rsa key"):
        oauth.remote_app("norsa", **settings(provider, signature_method="RSA-SHA1"))
    with pytest.raises(TypeError):
        oauth.remote_app("typo", consumer_kee="x", **settings(provider))
    with pytest.raises(ConfigurationError, match="OAuth 2 remote apps are not supported"):
        oauth.remote_app("oauth2", **settings(provider, request_token_url=None))
    odd = oauth.remote_app("odd", **settings(provider, request_token_params={"nonce": "fixed"}))
    with pytest.raises(ConfigurationError, match="oauthlib internal"):
        in_request(app, "sync", lambda: odd.get("me", token=("t", "s")))
    unknown_format = oauth.remote_app("fmt", **settings(provider))
    with pytest.raises(TypeError, match="Unknown format 'xml'"):
        in_request(app, "sync", lambda: unknown_format.post("echo", data={}, format="xml", token=("t", "s")))


# ------------------------------------------------------------------ static types


def test_user_code_type_checks_in_sync_and_async_views() -> None:
    from mypy import api as mypy_api

    root = Path(__file__).resolve().parents[2]
    stdout, stderr, status = mypy_api.run(
        ["--strict", "--config-file", str(root / "pyproject.toml"), str(root / "tests/compat/apps/typing_check.py")]
    )
    assert status == 0, stdout + stderr
