"""Secrets never leak into logs, reprs or error messages.

A full dance (sync and async), resource calls (sync and async) and a series of
deliberately triggered errors run with every logger at DEBUG. The secrets are
then taken from the provider's side (its tokens, and the access-token
requests it recorded) and searched for in:

* every log record emitted by the client app and the library (message, args,
  exception text) - records of the test harness itself (the provider's
  threads and the scripted browser's own httpx client, which logs the callback
  URL it is asked to open) are left out;
* ``repr()`` of the registry, the remote, the token, the internal
  ``RemoteBinding`` (and its settings, pool and store), the app state and the ``Signer``;
* ``str()``/``repr()``/``description`` of every error raised, and the body of
  the default "Sign-in failed" page;
* the session cookie (the request-token secret must be encrypted there).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from flask import Flask, Response, jsonify, session, url_for

from flask_oauth1_async import EXTENSION_KEY, AuthorizationError, OAuth, OAuth1Token
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.browser import Browser

T = TypeVar("T")
BROWSER_THREAD = "test-browser"
HARNESS_THREAD_PREFIXES = (BROWSER_THREAD, "fake-oauth1-provider")  # the fake provider's server threads
LOGGERS = (
    "",
    "flask_oauth1_async",
    "httpx",
    "httpcore",
    "httpx2",
    "httpcore2",
    "authlib",
    "asyncio",
    "werkzeug",
    "urllib3",
)


class Recorder:
    """What the client app's views saw: tokens and every exception raised."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: list[OAuth1Token] = []
        self.errors: list[BaseException] = []

    def error(self, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(exc)


def _routes(recorder: Recorder, provider: FakeProvider, dead_url: str) -> Callable[[Flask, OAuth], None]:
    credentials = {"client_id": provider.client_id, "client_secret": provider.client_secret}

    def setup(app: Flask, oauth: OAuth) -> None:
        # Remotes used only to provoke errors.
        oauth.register("dead", api_base_url=dead_url, **credentials)
        oauth.register("slowpoke", api_base_url=provider.api_base_url, client_kwargs={"timeout": 0.2}, **credentials)
        oauth.register("nofetch", api_base_url=provider.api_base_url, fetch_token=lambda: None, **credentials)

        def stored(token: OAuth1Token) -> Response:
            with recorder.lock:
                recorder.tokens.append(token)
            session["tok"] = dict(token)
            app.logger.debug("login complete for %s: %r", token["screen_name"], token)  # repr is masked
            return jsonify(oauth_token=token["oauth_token"], screen_name=token["screen_name"])

        def failed(exc: Exception) -> Any:
            recorder.error(exc)
            app.logger.warning("login failed: %s / %r", exc, exc)
            if isinstance(exc, AuthorizationError):
                raise exc  # let the library's default handler render it
            return jsonify(error=str(exc)), 502

        @app.route("/s/login")
        def s_login() -> Any:
            return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

        @app.route("/s/callback")
        def s_callback() -> Any:
            try:
                return stored(oauth.demo.authorize_access_token())
            except Exception as exc:
                return failed(exc)

        @app.route("/a/login")
        async def a_login() -> Any:
            return await oauth.demo.authorize_redirect(url_for("a_callback", _external=True))

        @app.route("/a/callback")
        async def a_callback() -> Any:
            try:
                return stored(await oauth.demo.authorize_access_token())
            except Exception as exc:
                return failed(exc)

        @app.route("/s/me")
        def s_me() -> Response:
            resp = oauth.demo.get("me")
            echoed = oauth.demo.post("echo", data={"a": "1"})
            return jsonify(user=resp.json()["user"], echoed=echoed.json()["form"])

        @app.route("/a/me")
        async def a_me() -> Response:
            resp = await oauth.demo.get("me")
            echoed = await oauth.demo.post("echo", json={"a": 1})
            return jsonify(user=resp.json()["user"], echoed=echoed.json()["json"])

        def error_calls(secret: str) -> list[tuple[str, Callable[[], Any]]]:
            return [
                # The secret even sits in the query string here: errors quote no query.
                ("transport", lambda: oauth.dead.get("me", params={"leak": secret})),
                ("timeout", lambda: oauth.slowpoke.get("slow", params={"ms": "600"}, token=session["tok"])),
                ("missing_token", lambda: oauth.nofetch.get("me")),
                ("bad_token_shape", lambda: oauth.demo.get("me", token={"oauth_token_secret": secret})),
            ]

        @app.route("/s/errors")
        def s_errors() -> Response:
            names = []
            for name, call in error_calls(session["tok"]["oauth_token_secret"]):
                try:
                    call()
                except Exception as exc:
                    recorder.error(exc)
                    app.logger.exception("resource call %s failed: %r", name, exc)
                    names.append(type(exc).__name__)
            return jsonify(errors=names)

        @app.route("/a/errors")
        async def a_errors() -> Response:
            names = []
            for name, call in error_calls(session["tok"]["oauth_token_secret"]):
                try:
                    await call()
                except Exception as exc:
                    recorder.error(exc)
                    app.logger.exception("resource call %s failed: %r", name, exc)
                    names.append(type(exc).__name__)
            return jsonify(errors=names)

    return setup


def _in_browser_thread(pool: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
    return pool.submit(fn).result(timeout=60)


class Dance:
    """One login driven hop by hop, grabbing the secrets from the provider on the way."""

    def __init__(self, browser: Browser, ca: ClientApp, provider: FakeProvider, login_path: str, user: str) -> None:
        start = browser.get(ca.url + login_path)
        assert start.status_code == 302, start.text
        self.session_cookie = browser.cookies.get("session") or ""
        authorize_url = start.headers["Location"]
        self.request_token = dict(parse_qsl(urlsplit(authorize_url).query))["oauth_token"]
        request_token_secret = provider.token_secret(self.request_token)
        assert request_token_secret is not None
        self.request_token_secret: str = request_token_secret
        consent = browser.get(authorize_url + "&user=" + user)
        assert consent.status_code == 302, consent.text
        self.callback_url = consent.headers["Location"]
        self.verifier = dict(parse_qsl(urlsplit(self.callback_url).query))["oauth_verifier"]
        self.response = browser.get(self.callback_url)


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), str(record.msg)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


@pytest.fixture
def browser_pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=BROWSER_THREAD) as pool:
        yield pool


def test_secrets_never_leak(
    provider: FakeProvider,
    client_app: ClientAppFactory,
    caplog: pytest.LogCaptureFixture,
    browser_pool: ThreadPoolExecutor,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    recorder = Recorder()
    setup = _routes(recorder, provider, "http://127.0.0.1:9/api")  # port 9 (discard): refused
    ca = client_app(provider, setup, oauth_kwargs={"fetch_token": lambda name: session.get("tok")})
    caplog.set_level(logging.DEBUG, logger=ca.app.logger.name)

    with Browser() as alice, Browser() as bob, Browser() as mallory:
        # 1. Two good dances (sync, async) and resource calls in both view kinds.
        d1 = _in_browser_thread(browser_pool, lambda: Dance(alice, ca, provider, "/s/login", "alice"))
        assert d1.response.status_code == 200, d1.response.text
        d2 = _in_browser_thread(browser_pool, lambda: Dance(bob, ca, provider, "/a/login", "bob"))
        assert d2.response.status_code == 200, d2.response.text
        for browser, user in ((alice, "alice"), (bob, "bob")):
            for path in ("/s/me", "/a/me"):
                resp = _in_browser_thread(browser_pool, lambda b=browser, p=path: b.get(ca.url + p))  # type: ignore[misc]
                assert resp.status_code == 200, resp.text
                assert resp.json()["user"] == user

        # Secrets, from the provider's side.
        access_token = d1.response.json()["oauth_token"]
        access_secret = provider.token_secret(access_token)
        assert access_secret is not None
        bob_secret = provider.token_secret(d2.response.json()["oauth_token"])
        assert bob_secret is not None
        exchanges = provider.received("access_token")
        assert len(exchanges) == 2
        assert f'oauth_verifier="{d1.verifier}"' in (exchanges[0].authorization or "")
        assert f'oauth_verifier="{d2.verifier}"' in (exchanges[1].authorization or "")

        # 2. Errors in resource calls, sync and async.
        for path in ("/s/errors", "/a/errors"):
            resp = _in_browser_thread(browser_pool, lambda p=path: alice.get(ca.url + p))  # type: ignore[misc]
            assert resp.json()["errors"] == [
                "TransportError",
                "RequestTimeoutError",
                "MissingTokenError",
                "ConfigurationError",
            ]

        # 3. Errors during the dance: a replayed callback (other browser and same browser),
        #    a provider echoing the secrets in a 401, and a 200 that is not a token.
        replays = [
            _in_browser_thread(browser_pool, lambda: mallory.get(d1.callback_url)),
            _in_browser_thread(browser_pool, lambda: alice.get(d1.callback_url)),
        ]
        assert [r.status_code for r in replays] == [400, 400]
        provider.answer_next(
            "access_token",
            f"oauth_problem=token_rejected&oauth_token_secret={access_secret}&oauth_verifier={d1.verifier}",
            status=401,
        )
        d3 = _in_browser_thread(browser_pool, lambda: Dance(alice, ca, provider, "/s/login", "alice"))
        # A 401 from the access-token endpoint refuses this callback: an
        # AuthorizationError, rendered 400 by the library's default handler.
        assert d3.response.status_code == 400
        provider.answer_next(
            "access_token", f"oauth_token_secret={access_secret}&client_secret={provider.client_secret}"
        )
        d4 = _in_browser_thread(browser_pool, lambda: Dance(bob, ca, provider, "/a/login", "bob"))
        assert d4.response.status_code == 502

    dances = (d1, d2, d3, d4)
    secrets: dict[str, str] = {
        "consumer secret": provider.client_secret,
        "access-token secret (alice)": access_secret,
        "access-token secret (bob)": bob_secret,
    }
    for i, d in enumerate(dances, 1):
        secrets[f"request-token secret #{i}"] = d.request_token_secret
        secrets[f"verifier #{i}"] = d.verifier
    assert all(len(v) >= 10 for v in secrets.values()), secrets

    error_types = sorted({type(e).__name__ for e in recorder.errors})
    assert error_types == [
        "AccessTokenRefusedError",
        "CallbackTokenError",
        "ConfigurationError",
        "InvalidTokenResponseError",
        "MissingTokenError",
        "RequestTimeoutError",
        "TransportError",
    ]

    # -- where to look ---------------------------------------------------------------
    state = ca.app.extensions[EXTENSION_KEY].remotes["demo"][1]
    places: dict[str, str] = {
        "repr(oauth)": repr(ca.oauth),
        "repr(oauth.demo)": repr(ca.oauth.demo),
        "repr(RemoteBinding)": repr(state),
        "repr(RemoteSettings)": repr(state.settings),
        "repr(ClientPool)": repr(state.pool),
        "repr(store)": repr(state.store),
        "repr(app state)": repr(ca.app.extensions[EXTENSION_KEY]),
        "repr(Signer)": repr(state.signer),
    }
    assert len(recorder.tokens) == 2
    for i, token in enumerate(recorder.tokens):
        places[f"repr(token {i})"] = repr(token)
        places[f"str(token {i})"] = str(token)
    for i, exc in enumerate(recorder.errors):
        label = f"error {i} {type(exc).__name__}"
        places[f"str({label})"] = str(exc)
        places[f"repr({label})"] = repr(exc)
        places[f"description({label})"] = str(getattr(exc, "description", ""))
        places[f"body_excerpt({label})"] = str(getattr(exc, "body_excerpt", ""))
        places[f"args({label})"] = repr(exc.args)
    for i, resp in enumerate(replays):
        places[f"sign-in failed page {i}"] = resp.text
    for i, d in enumerate(dances, 1):
        places[f"error page of dance {i}"] = d.response.text if d.response.status_code >= 400 else ""
        payload = ca.app.session_interface.get_signing_serializer(ca.app).loads(d.session_cookie)  # type: ignore[attr-defined]
        # The app itself stores the access token in the session (its choice); the
        # library's pending-login data must not show the request-token secret.
        payload.pop("tok", None)
        assert d.request_token in json.dumps(payload)  # the pending login is there...
        places[f"session cookie after /login {i}"] = json.dumps(payload)  # ...but not its secret

    library_records = 0
    excluded = 0
    for j, record in enumerate(caplog.records):
        if record.threadName.startswith(HARNESS_THREAD_PREFIXES):
            excluded += 1
            continue
        if record.name.startswith("flask_oauth1_async"):
            library_records += 1
        places[f"log record {j} ({record.name}, {record.levelname}, {record.threadName})"] = _record_text(record)

    # The capture worked: the library's own DEBUG/INFO records and the client app's records are there.
    assert library_records >= 4, [r.getMessage() for r in caplog.records if r.name.startswith("flask_oauth1")]
    assert any(r.name == ca.app.logger.name and r.levelno == logging.ERROR for r in caplog.records)
    assert any(
        r.name == httpx.__name__ and not r.threadName.startswith(HARNESS_THREAD_PREFIXES) for r in caplog.records
    )
    print(
        f"\n[secrets] checked {len(secrets)} secrets in {len(places)} places "
        f"({len(caplog.records) - excluded} log records, {library_records} from flask_oauth1_async, "
        f"{excluded} harness records skipped, {len(recorder.errors)} errors)"
    )

    # Positive control: the scan is not vacuous. The scripted browser's own httpx client
    # logs the callback URL it opens (a harness record), and the scan does find the verifier there.
    harness = [_record_text(r) for r in caplog.records if r.threadName.startswith(BROWSER_THREAD)]
    assert any(d1.verifier in text for text in harness)

    leaks = [(what, where) for where, text in places.items() for what, secret in secrets.items() if secret in text]
    assert leaks == []
