"""flask_oauth1_async.testing: the fake provider, the login helper and the pytest plugin.

Each test builds a small user-style app that only uses the public API and
the public testing helpers; the fake provider is a real HTTPS server on
127.0.0.1, started and stopped by the plugin's fixtures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, session, url_for

from flask_oauth1_async import OAuth
from flask_oauth1_async.testing import FakeProvider, LoginError, ProviderCall, login
from tests.support.views import PREFIX, VIEW_KINDS

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]


def make_app(fake: FakeProvider, *, via_config: bool = True) -> tuple[Flask, OAuth]:
    app = Flask(__name__)
    app.secret_key = "testing-helpers"
    oauth = OAuth(app)
    if via_config:
        app.config.update(fake.config("twitter"))
        oauth.register("twitter")
    else:
        oauth.register("twitter", **fake.register_kwargs())

    @app.get("/s/login")
    def s_login() -> Any:
        return oauth.twitter.authorize_redirect(url_for("s_callback", _external=True))

    @app.get("/s/callback")
    def s_callback() -> Any:
        token = oauth.twitter.authorize_access_token()
        session["token"] = dict(token)
        return {"screen_name": token["screen_name"], "user_id": token["user_id"]}

    @app.get("/a/login")
    async def a_login() -> Any:
        return await oauth.twitter.authorize_redirect(url_for("a_callback", _external=True))

    @app.get("/a/callback")
    async def a_callback() -> Any:
        token = await oauth.twitter.authorize_access_token()
        session["token"] = dict(token)
        return {"screen_name": token["screen_name"]}

    @app.get("/s/me")
    def s_me() -> Any:
        resp = oauth.twitter.get("account/verify_credentials.json", token=session["token"])
        return {"status": resp.status_code, "body": _body(resp)}

    @app.get("/a/me")
    async def a_me() -> Any:
        resp = await oauth.twitter.post("statuses/update.json", data={"status": "hi"}, token=session["token"])
        return {"status": resp.status_code, "body": _body(resp)}

    @app.get("/s/public")
    def s_public() -> Any:
        resp = oauth.twitter.get("help/configuration.json", withhold_token=True)
        return {"status": resp.status_code}

    return app, oauth


def _body(resp: httpx.Response) -> Any:
    return resp.json() if resp.headers.get("content-type") == "application/json" else resp.text


@pytest.fixture
def app_and_oauth(oauth1_provider: FakeProvider) -> Iterator[tuple[Flask, OAuth]]:
    app, oauth = make_app(oauth1_provider)
    yield app, oauth
    oauth.close()


@pytest.fixture
def client(app_and_oauth: tuple[Flask, OAuth]) -> Any:
    return app_and_oauth[0].test_client()


# ----------------------------------------------------------------- login helper


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_login_as_named_user_in_sync_and_async_views(
    oauth1_provider: FakeProvider, oauth1_login: Callable[..., Any], client: Any, kind: str
) -> None:
    resp = oauth1_login(client, PREFIX[kind] + "/login", user="bob")
    assert resp.status_code == 200
    assert resp.get_json()["screen_name"] == "bob"
    assert oauth1_provider.access_tokens("bob") != []
    assert oauth1_provider.access_tokens("alice") == []


def test_login_without_user_approves_as_default_user(oauth1_provider: FakeProvider, client: Any) -> None:
    resp = login(client, "/s/login")  # the provider is found from the redirect
    assert resp.get_json() == {"screen_name": "alice", "user_id": oauth1_provider.users["alice"]["user_id"]}


def test_deny_gives_the_apps_denied_answer(oauth1_login: Callable[..., Any], client: Any) -> None:
    resp = oauth1_login(client, "/s/login", deny=True)
    assert resp.status_code == 403  # the library's default answer to AccessDeniedError
    assert "declined" in resp.get_data(as_text=True)


def test_scripted_decisions_win_and_are_used_once(oauth1_provider: FakeProvider, client: Any) -> None:
    oauth1_provider.deny_next()
    oauth1_provider.approve_next("bob")
    assert login(client, "/s/login", user="alice").status_code == 403
    assert login(client, "/s/login", user="alice").get_json()["screen_name"] == "bob"
    assert login(client, "/s/login", user="alice").get_json()["screen_name"] == "alice"


def test_added_user_profile_comes_with_the_token(oauth1_provider: FakeProvider, client: Any) -> None:
    oauth1_provider.add_user("carol", user_id="42")
    assert login(client, "/a/login", user="carol").get_json() == {"screen_name": "carol"}
    assert login(client, "/s/login", user="carol").get_json()["user_id"] == "42"


def test_unknown_user_is_a_login_error(oauth1_login: Callable[..., Any], client: Any) -> None:
    with pytest.raises(LoginError, match="unknown test user"):
        oauth1_login(client, "/s/login", user="mallory")


def test_login_start_that_does_not_redirect_is_a_login_error(oauth1_login: Callable[..., Any], client: Any) -> None:
    with pytest.raises(LoginError, match="without a redirect"):
        oauth1_login(client, "/s/public")


def test_follow_redirects_returns_the_final_page(oauth1_provider: FakeProvider) -> None:
    app, oauth = make_app(oauth1_provider, via_config=False)

    @app.get("/s/login-then-home")
    def s_login_then_home() -> Any:
        return oauth.twitter.authorize_redirect(url_for("s_home_callback", _external=True))

    @app.get("/s/home-callback")
    def s_home_callback() -> Any:
        from flask import redirect

        session["token"] = dict(oauth.twitter.authorize_access_token())
        return redirect(url_for("s_me"))

    try:
        resp = login(
            app.test_client(), "/s/login-then-home", user="bob", provider=oauth1_provider, follow_redirects=True
        )
        assert resp.status_code == 200
        assert resp.get_json()["body"]["screen_name"] == "bob"
    finally:
        oauth.close()


# ----------------------------------------------------------------- recorded calls


def test_calls_record_method_path_signature_and_token(oauth1_provider: FakeProvider, client: Any) -> None:
    login(client, "/s/login", user="alice")
    token = oauth1_provider.access_tokens("alice")[0]
    assert client.get("/s/me").get_json()["status"] == 200
    assert client.get("/a/me").get_json()["status"] == 200
    first, second = oauth1_provider.calls
    assert (first.method, first.path, first.signed, first.valid) == (
        "GET",
        "account/verify_credentials.json",
        True,
        True,
    )
    assert (first.token, first.user, first.status) == (token, "alice", 200)
    assert first.signature_method == "HMAC-SHA1"
    assert (second.method, second.path, second.user) == ("POST", "statuses/update.json", "alice")
    assert "status=hi" in second.body
    # the token endpoints are recorded separately
    assert [c.endpoint for c in oauth1_provider.token_requests] == ["request_token", "authorize", "access_token"]


def test_unsigned_call_is_recorded_as_unsigned_and_refused(oauth1_provider: FakeProvider, client: Any) -> None:
    assert client.get("/s/public").get_json() == {"status": 401}
    oauth1_provider.public("help/configuration.json")
    assert client.get("/s/public").get_json() == {"status": 200}
    refused, served = oauth1_provider.calls
    assert (refused.signed, refused.token, refused.status) == (False, None, 401)
    assert (served.signed, served.status) == (False, 200)


def test_forged_signature_is_refused(oauth1_provider: FakeProvider) -> None:
    # A consumer that does not know the secret: oauthlib's signature check refuses it.
    app = Flask(__name__)
    oauth = OAuth(app)
    oauth.register("twitter", **{**oauth1_provider.register_kwargs(), "client_secret": "wrong" * 6})
    try:
        with app.test_request_context():
            resp = oauth.twitter.get_sync("x", token=("tokentokentokentokentoken", "secret"))
        assert resp.status_code == 401
        (call,) = oauth1_provider.calls
        assert call.signed
        assert not call.valid
    finally:
        oauth.close()


def test_nonce_is_accepted_once(oauth1_provider: FakeProvider, client: Any, app_and_oauth: tuple[Flask, OAuth]) -> None:
    # Replaying a signed request exactly as it was sent: the provider refuses the repeated nonce.
    app, oauth = app_and_oauth
    login(client, "/s/login")
    with app.test_request_context():
        first = oauth.twitter.get_sync("x", token=_session_token(client))
    assert first.status_code == 200
    sent = first.request
    replay = httpx.get(
        str(sent.url), headers=dict(sent.headers), verify=oauth1_provider.ssl_context or True, timeout=10
    )
    assert replay.status_code == 401
    assert [c.valid for c in oauth1_provider.calls] == [True, False]


def _session_token(client: Any) -> dict[str, str]:
    with client.session_transaction() as sess:
        return dict(sess["token"])


def test_respond_with_json_handler_and_method(oauth1_provider: FakeProvider, client: Any) -> None:
    oauth1_provider.respond("account/verify_credentials.json", {"id": 7}, method="GET")
    seen: list[ProviderCall] = []

    def handler(call: ProviderCall) -> Any:
        seen.append(call)
        return {"echo": call.body}, 201

    oauth1_provider.respond("statuses/update.json", handler=handler)
    login(client, "/s/login")
    assert client.get("/s/me").get_json() == {"status": 200, "body": {"id": 7}}
    assert client.get("/a/me").get_json() == {"status": 201, "body": {"echo": "status=hi"}}
    assert seen[0].user == "alice"


def test_revoked_token_is_refused(oauth1_provider: FakeProvider, client: Any) -> None:
    login(client, "/s/login")
    assert oauth1_provider.revoke("alice") == 1
    assert client.get("/s/me").get_json()["status"] == 401
    assert oauth1_provider.calls[-1].valid is False


# ----------------------------------------------------------------- failures and latency


def test_access_token_endpoint_fails_once(oauth1_provider: FakeProvider, client: Any) -> None:
    oauth1_provider.fail_next("access_token", 401)
    failed = login(client, "/s/login")
    assert failed.status_code == 400
    assert "401" in failed.get_data(as_text=True)
    assert login(client, "/s/login").status_code == 200
    statuses = [(c.endpoint, c.status) for c in oauth1_provider.token_requests if c.endpoint == "access_token"]
    assert statuses == [("access_token", 401), ("access_token", 200)]


def test_api_fails_twice_then_works(oauth1_provider: FakeProvider, client: Any) -> None:
    login(client, "/s/login")
    oauth1_provider.fail_next("api", 503, times=2)
    assert [client.get("/s/me").get_json()["status"] for _ in range(3)] == [503, 503, 200]


def test_request_token_failure_reaches_the_app(oauth1_provider: FakeProvider, client: Any) -> None:
    oauth1_provider.fail_next("request_token", 500)
    with pytest.raises(LoginError):
        login(client, "/s/login")


def test_latency_per_endpoint(oauth1_provider: FakeProvider, client: Any) -> None:
    login(client, "/s/login")
    oauth1_provider.slow_down(0.3, "api")
    started = time.perf_counter()
    assert client.get("/s/me").get_json()["status"] == 200
    assert time.perf_counter() - started >= 0.3  # a lower bound: a busy machine only makes it longer
    # Removed again (no upper time bound here: a noisy machine could break it).
    oauth1_provider.slow_down(0, "api")
    assert client.get("/s/me").get_json()["status"] == 200
    with pytest.raises(ValueError, match="negative"):
        oauth1_provider.slow_down(-1, "api")


def test_bad_arguments_are_refused(oauth1_provider: FakeProvider) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        oauth1_provider.fail_next("nope")
    with pytest.raises(ValueError, match="unknown test user"):
        oauth1_provider.approve_next("mallory")
    with pytest.raises(ValueError, match="at least one"):
        FakeProvider(users=())


# ----------------------------------------------------------------- settings and life cycle


def test_register_kwargs_and_config_carry_the_same_settings(oauth1_provider: FakeProvider) -> None:
    kwargs = oauth1_provider.register_kwargs()
    config = oauth1_provider.config("TWITTER")
    assert config == {f"TWITTER_{k.upper()}": v for k, v in kwargs.items()}
    assert kwargs["request_token_url"].startswith("https://127.0.0.1:")
    assert kwargs["client_kwargs"]["verify"] is oauth1_provider.ssl_context


def test_consent_page_for_people(oauth1_provider: FakeProvider, client: Any) -> None:
    location = client.get("/s/login").headers["Location"]
    page = httpx.get(location, verify=oauth1_provider.ssl_context or True, timeout=10)
    assert page.status_code == 200
    assert 'value="alice"' in page.text
    assert 'value="deny"' in page.text


def test_plain_http_mode(oauth1_provider_factory: Callable[..., FakeProvider]) -> None:
    fake = oauth1_provider_factory(users=["dora"], tls=False)
    assert fake.url.startswith("http://127.0.0.1:")
    assert fake.ssl_context is None
    app, oauth = make_app(fake)
    try:
        assert login(app.test_client(), "/s/login").get_json()["screen_name"] == "dora"
    finally:
        oauth.close()


def test_close_stops_the_server() -> None:
    fake = FakeProvider().start()
    url = fake.request_token_url
    context = fake.ssl_context
    fake.close()
    fake.close()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, verify=context or True, timeout=2)
    with pytest.raises(RuntimeError, match="not started"):
        fake.url  # noqa: B018
