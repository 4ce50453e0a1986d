"""Which token a resource call uses, and how often ``fetch_token`` runs.

Order: ``token=`` > the per-request cache on ``g`` > ``fetch_token``.
``fetch_token`` may be registry-level (``fetch_token(name)``) or per remote
(``register(fetch_token=...)``), a plain function or an ``async def``; every
variant is exercised in a sync and in an async view, served over real HTTP.
Every fetch is recorded with the id of the HTTP request that triggered it (the
``X-Req`` header) so "at most once per request and remote" is counted exactly.

Also here:

* single flight survives its callers: when the caller running an ``async``
  ``fetch_token`` times out or is cancelled, a caller waiting for it runs the
  lookup itself; when a waiter is cancelled, the runner goes on. No warning,
  no "exception was never retrieved";
* a token must be a pair of non-empty strings, however it is given
  (``token=``, assigned to ``oauth.<name>.token``, returned by
  ``fetch_token``); anything else is a ``ConfigurationError`` and nothing is
  sent;
* ``oauth.<name>.token`` lives on ``flask.g``: it is this request's token
  (assigned, fetched, or the one ``authorize_access_token()`` returned), and
  the next request starts without it.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import MissingTokenError as AuthlibMissingTokenError
from flask import Flask, Response, g, jsonify, request

from flask_oauth1_async import ConfigurationError, MissingTokenError, OAuth, OAuthError
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.browser import Browser
from tests.support.fake import last, register_settings
from tests.support.views import (
    PREFIX,
    VIEW_KINDS,
    WarningRecorder,
    catch_oauth_errors,
    dance_routes,
    token_from_headers,
    token_headers,
)

FETCH_KINDS = ("registry_sync", "registry_async", "remote_sync", "remote_async")
_req_ids = itertools.count(1)


class FetchLog:
    """Thread-safe record of fetch_token calls: (remote name, X-Req, g.who, request.path)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str, str, str]] = []

    def add(self, name: str) -> None:
        # Reads flask.request and g: both must be visible whatever the view/fetch kind.
        entry = (name, request.headers.get("X-Req", "?"), str(g.get("who")), request.path)
        with self._lock:
            self.calls.append(entry)

    def for_request(self, req_id: str) -> Counter[str]:
        with self._lock:
            return Counter(name for name, rid, _, _ in self.calls if rid == req_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self.calls)


def _error_info(exc: Exception) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "is_missing_token": isinstance(exc, MissingTokenError),
        "is_authlib_missing_token": isinstance(exc, AuthlibMissingTokenError),
        "is_oauth_error": isinstance(exc, OAuthError),
        "message": str(exc),
    }


def _routes(app: Flask, oauth: OAuth, tokens: dict[str, dict[str, str]], public_url: str) -> None:
    """Sync views under /s/..., async twins under /a/...."""

    @app.before_request
    def pick_user() -> None:
        g.who = request.headers.get("X-User")

    def _n() -> int:
        return int(request.args.get("n", "1"))

    def _remotes() -> list[str]:
        return request.args.get("remotes", "demo").split(",")

    # -- fetch_token driven calls -------------------------------------------------------
    @app.route("/s/me")
    def s_me() -> Response:
        users = [oauth.create_client(name).get("me").json()["user"] for _ in range(_n()) for name in _remotes()]
        return jsonify(users=users)

    @app.route("/a/me")
    async def a_me() -> Response:
        calls = [oauth.create_client(name).get("me") for _ in range(_n()) for name in _remotes()]
        responses = await asyncio.gather(*calls)
        return jsonify(users=[r.json()["user"] for r in responses])

    # -- token= wins ----------------------------------------------------------------------
    def _explicit() -> Any:
        tok = tokens[request.args["as"]]
        if request.args.get("shape") == "tuple":
            return (tok["oauth_token"], tok["oauth_token_secret"])
        return tok

    @app.route("/s/explicit")
    def s_explicit() -> Response:
        return jsonify(user=oauth.demo.get("me", token=_explicit()).json()["user"])

    @app.route("/a/explicit")
    async def a_explicit() -> Response:
        resp = await oauth.demo.get("me", token=_explicit())
        return jsonify(user=resp.json()["user"])

    # -- withhold_token -------------------------------------------------------------------
    @app.route("/s/public")
    def s_public() -> Response:
        withheld = oauth.demo.get(public_url, withhold_token=True, params={"w": "1"}).json()
        return jsonify(withheld=withheld)

    @app.route("/a/public")
    async def a_public() -> Response:
        withheld = await oauth.demo.get(public_url, withhold_token=True, params={"w": "1"})
        return jsonify(withheld=withheld.json())

    # -- errors ---------------------------------------------------------------------------
    @app.route("/s/missing")
    def s_missing() -> Response:
        errors = []
        for _ in range(_n()):
            try:
                oauth.demo.get("me")
            except Exception as exc:
                errors.append(_error_info(exc))
        return jsonify(errors=errors)

    @app.route("/a/missing")
    async def a_missing() -> Response:
        results = await asyncio.gather(*(oauth.demo.get("me") for _ in range(_n())), return_exceptions=True)
        return jsonify(errors=[_error_info(r) for r in results if isinstance(r, Exception)])


def _make_fetchers(
    kind: str, log: FetchLog, tokens: dict[str, dict[str, str]]
) -> tuple[Callable[..., Any] | None, Callable[..., Any] | None]:
    """Return (registry-level fetch_token, per-remote fetch_token) for *kind*."""

    def lookup(name: str) -> dict[str, str] | None:
        log.add(name)
        return tokens.get(g.who)

    def registry_sync(name: str) -> dict[str, str] | None:
        return lookup(name)

    async def registry_async(name: str) -> dict[str, str] | None:
        await asyncio.sleep(0)
        return lookup(name)

    def remote_sync() -> dict[str, str] | None:
        return lookup("demo")

    async def remote_async() -> dict[str, str] | None:
        await asyncio.sleep(0)
        return lookup("demo")

    return {
        "registry_sync": (registry_sync, None),
        "registry_async": (registry_async, None),
        "remote_sync": (None, remote_sync),
        "remote_async": (None, remote_async),
    }[kind]


def _serve(
    client_app: ClientAppFactory,
    provider: FakeProvider,
    tokens: dict[str, dict[str, str]],
    *,
    registry_fetch: Callable[..., Any] | None = None,
    remote_fetch: Callable[..., Any] | None = None,
    other_remote: bool = False,
) -> ClientApp:
    def setup(app: Flask, oauth: OAuth) -> None:
        if other_remote:
            oauth.register("other", **register_settings(provider))
        _routes(app, oauth, tokens, provider.api_base_url + "public")

    oauth_kwargs = {"fetch_token": registry_fetch} if registry_fetch is not None else {}
    register = {"fetch_token": remote_fetch} if remote_fetch is not None else {}
    return client_app(provider, setup, oauth_kwargs=oauth_kwargs, **register)


def _get(http: httpx.Client, url: str, user: str | None = None, **params: Any) -> tuple[str, httpx.Response]:
    req_id = f"req-{next(_req_ids)}"
    headers = {"X-Req": req_id}
    if user is not None:
        headers["X-User"] = user
    return req_id, http.get(url, headers=headers, params=params)


@pytest.fixture
def tokens(provider: FakeProvider) -> dict[str, dict[str, str]]:
    return {user: provider.issue_token(user) for user in ("alice", "bob", "carol")}


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("kind", FETCH_KINDS)
def test_fetch_token_variants_once_per_request(
    kind: str,
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    tokens: dict[str, dict[str, str]],
    http: httpx.Client,
) -> None:
    log = FetchLog()
    registry_fetch, remote_fetch = _make_fetchers(kind, log, tokens)
    ca = _serve(client_app, provider, tokens, registry_fetch=registry_fetch, remote_fetch=remote_fetch)
    # 5 sequential calls in a sync view, 10 concurrent (gather) calls in an async view.
    n = 5 if mode == "sync" else 10
    for user in ("alice", "bob", "carol"):
        req_id, resp = _get(http, f"{ca.url}/{mode[0]}/me", user, n=n)
        assert resp.status_code == 200, resp.text
        assert resp.json()["users"] == [user] * n
        assert log.for_request(req_id) == Counter({"demo": 1}), log.calls
    assert len(log) == 3
    # fetch_token saw flask.request (header, path) and g (set by before_request).
    for _, _, who, path in log.calls:
        assert who in tokens
        assert path == f"/{mode[0]}/me"
    assert len(provider.received("api", "me")) == 3 * n


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("kind", ["registry_sync", "registry_async"])
def test_fetch_token_once_per_remote(
    kind: str,
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    tokens: dict[str, dict[str, str]],
    http: httpx.Client,
) -> None:
    log = FetchLog()
    registry_fetch, _ = _make_fetchers(kind, log, tokens)
    ca = _serve(client_app, provider, tokens, registry_fetch=registry_fetch, other_remote=True)
    n = 5
    req_id, resp = _get(http, f"{ca.url}/{mode[0]}/me", "bob", n=n, remotes="demo,other")
    assert resp.status_code == 200, resp.text
    assert resp.json()["users"] == ["bob"] * (2 * n)
    assert log.for_request(req_id) == Counter({"demo": 1, "other": 1})


def test_per_remote_fetch_token_wins_over_registry(
    provider: FakeProvider, client_app: ClientAppFactory, tokens: dict[str, dict[str, str]], http: httpx.Client
) -> None:
    registry_calls: list[str] = []

    def registry_fetch(name: str) -> dict[str, str]:
        registry_calls.append(name)
        return tokens["alice"]

    ca = _serve(client_app, provider, tokens, registry_fetch=registry_fetch, remote_fetch=lambda: tokens["carol"])
    for mode in VIEW_KINDS:
        _, resp = _get(http, f"{ca.url}/{mode[0]}/me")
        assert resp.json()["users"] == ["carol"]
    assert registry_calls == []


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("shape", ["mapping", "tuple"])
def test_token_argument_wins(
    shape: str,
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    tokens: dict[str, dict[str, str]],
    http: httpx.Client,
) -> None:
    log = FetchLog()
    registry_fetch, _ = _make_fetchers("registry_sync", log, tokens)
    ca = _serve(client_app, provider, tokens, registry_fetch=registry_fetch)
    # fetch_token would answer alice; token= says bob.
    _, resp = _get(http, f"{ca.url}/{mode[0]}/explicit", "alice", **{"as": "bob", "shape": shape})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"user": "bob"}
    assert len(log) == 0, "fetch_token must not be called when token= is given"


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_withhold_token_sends_no_authorization(
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    tokens: dict[str, dict[str, str]],
    http: httpx.Client,
) -> None:
    log = FetchLog()
    registry_fetch, _ = _make_fetchers("registry_sync", log, tokens)
    ca = _serve(client_app, provider, tokens, registry_fetch=registry_fetch)
    _, resp = _get(http, f"{ca.url}/{mode[0]}/public", "alice")
    assert resp.status_code == 200, resp.text
    assert resp.json()["withheld"] == {"authorization": False, "args": {"w": "1"}}
    assert len(log) == 0, "fetch_token must not be called for withhold_token=True"
    received = last(provider, "api", "public")
    assert received.authorization is None
    assert "oauth_" not in urlsplit(received.url).query


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_fetch_token_returning_none(
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    tokens: dict[str, dict[str, str]],
    http: httpx.Client,
) -> None:
    log = FetchLog()
    registry_fetch, _ = _make_fetchers("registry_sync", log, tokens)
    ca = _serve(client_app, provider, tokens, registry_fetch=registry_fetch)
    # Unknown user -> fetch_token returns None. Three calls in one request.
    req_id, resp = _get(http, f"{ca.url}/{mode[0]}/missing", "nobody", n=3)
    assert resp.status_code == 200, resp.text
    errors = resp.json()["errors"]
    assert len(errors) == 3
    for info in errors:
        assert info["type"] == "MissingTokenError"
        assert info["is_missing_token"] is True
        assert info["is_authlib_missing_token"] is True
        assert info["is_oauth_error"] is True
        assert "fetch_token returned None" in info["message"]
    assert log.for_request(req_id) == Counter({"demo": 1}), "a None answer is cached for the request too"
    assert len(provider.received("api", "me")) == 0


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_no_fetch_token_and_no_token(
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    tokens: dict[str, dict[str, str]],
    http: httpx.Client,
) -> None:
    ca = _serve(client_app, provider, tokens)
    _, resp = _get(http, f"{ca.url}/{mode[0]}/missing", "alice")
    assert resp.status_code == 200, resp.text
    (info,) = resp.json()["errors"]
    assert info["type"] == "MissingTokenError"
    assert info["is_authlib_missing_token"] is True
    # The message says how to fix it.
    assert "token=" in info["message"]
    assert "fetch_token" in info["message"]
    assert len(provider.received("api", "me")) == 0


def test_fetch_token_once_per_request_with_threads_in_sync_view(
    provider: FakeProvider, client_app: ClientAppFactory, tokens: dict[str, dict[str, str]], http: httpx.Client
) -> None:
    n_threads = 5
    lock = threading.Lock()
    calls: list[str] = []
    everyone_in = threading.Event()

    def fetch_token(name: str) -> dict[str, str]:
        with lock:
            calls.append(request.headers["X-Req"])
            if len(calls) == n_threads:
                everyone_in.set()
        # Give concurrent callers the chance to arrive (returns at once if all of them do;
        # a single-flight implementation makes this one call wait 1 s, then return).
        everyone_in.wait(1.0)
        return tokens["alice"]

    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/threads")
        def s_threads() -> Response:
            barrier = threading.Barrier(n_threads, timeout=10)
            users: list[str] = []

            def work() -> None:
                barrier.wait()
                user = oauth.demo.get("me").json()["user"]
                with lock:
                    users.append(user)

            threads = [threading.Thread(target=contextvars.copy_context().run, args=(work,)) for _ in range(n_threads)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            return jsonify(users=users)

    ca = client_app(provider, setup, oauth_kwargs={"fetch_token": fetch_token})
    req_id, resp = _get(http, ca.url + "/s/threads")
    assert resp.status_code == 200, resp.text
    assert resp.json()["users"] == ["alice"] * n_threads
    assert calls.count(req_id) == 1, f"fetch_token ran {calls.count(req_id)} times in one request"


# ------------------------------------------------------------------ single flight with a cancelled caller


def _never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    gc.collect()
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


def _single_flight_routes(app: Flask, oauth: OAuth) -> None:
    def call(style: str) -> Any:
        return oauth.demo.get_async("me") if style == "get_async" else oauth.demo.get("me")

    @app.route("/a/gather_wait_for")
    async def gather_wait_for() -> Response:
        style = request.args["style"]
        with WarningRecorder() as recorder:
            if request.args["order"] == "timed-out-first":
                # Scheduled before gather's tasks, so the caller that times out is the one
                # running fetch_token (single flight): the other one must take over.
                first_call: Any = asyncio.ensure_future(call(style))
            else:
                first_call = call(style)
            first, second = await asyncio.gather(
                asyncio.wait_for(first_call, 0.05), call(style), return_exceptions=True
            )
        return jsonify(
            first=type(first).__name__,
            first_is_timeout=isinstance(first, asyncio.TimeoutError),  # not the builtin before 3.11
            second=type(second).__name__,
            second_user=second.json()["user"] if isinstance(second, httpx.Response) else repr(second),
            warnings=recorder.messages(),
        )

    @app.route("/a/cancel/<victim>")
    async def cancel(victim: str) -> Response:
        g.hold_first_fetch = True
        g.first_fetch_started = asyncio.Event()
        g.release_first_fetch = asyncio.Event()
        with WarningRecorder() as recorder:
            runner = asyncio.create_task(oauth.demo.get_async("me"))
            await g.first_fetch_started.wait()  # the runner is inside fetch_token
            waiter = asyncio.create_task(oauth.demo.get_async("me"))
            for _ in range(5):
                await asyncio.sleep(0)  # the waiter now waits for the runner's lookup
            if victim == "runner":
                runner.cancel()
            else:
                waiter.cancel()
                g.release_first_fetch.set()
            results = await asyncio.gather(runner, waiter, return_exceptions=True)
        return jsonify(
            results=[r.json()["user"] if isinstance(r, httpx.Response) else type(r).__name__ for r in results],
            fetches=g.get("fetches", 0),
            warnings=recorder.messages(),
        )


@pytest.fixture
def single_flight_app(provider: FakeProvider, client_app: ClientAppFactory) -> tuple[ClientApp, list[str]]:
    fetch_log: list[str] = []
    alice = provider.issue_token("alice")

    async def fetch_token(name: str) -> dict[str, str]:
        g.fetches = g.get("fetches", 0) + 1
        fetch_log.append(request.path)
        if g.get("hold_first_fetch") and g.fetches == 1:
            g.first_fetch_started.set()
            await asyncio.wait_for(g.release_first_fetch.wait(), 20)
        elif not g.get("hold_first_fetch"):
            await asyncio.sleep(0.3)  # a slow lookup (a database, a remote vault...)
        return alice

    ca = client_app(provider, _single_flight_routes, oauth_kwargs={"fetch_token": fetch_token})
    return ca, fetch_log


@pytest.mark.parametrize("order", ["as-written", "timed-out-first"])
@pytest.mark.parametrize("style", ["get_async", "get"])
def test_single_flight_survives_a_timed_out_caller(
    style: str,
    order: str,
    single_flight_app: tuple[ClientApp, list[str]],
    provider: FakeProvider,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``gather(wait_for(get(), 0.05), get())`` with a 0.3 s async ``fetch_token``.

    As written, which caller runs ``fetch_token`` depends on the Python version
    (3.11's ``wait_for`` wraps its argument in a task that starts after gather's
    second task; 3.12's awaits it directly). ``timed-out-first`` makes the
    timed-out caller the one running it, so the other caller has to run it again.
    """
    ca, fetch_log = single_flight_app
    resp = http.get(ca.url + "/a/gather_wait_for", params={"style": style, "order": order})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["first_is_timeout"] is True, body
    assert body["second"] == "Response", body
    assert body["second_user"] == "alice"
    assert body["warnings"] == []
    assert len(provider.received("api", "me")) == 1  # only the second call reached the API
    if order == "timed-out-first":
        assert len(fetch_log) == 2
    else:
        assert 1 <= len(fetch_log) <= 2
    assert _never_retrieved(caplog) == []


@pytest.mark.parametrize("victim", ["runner", "waiter"])
def test_single_flight_when_one_caller_is_cancelled(
    victim: str,
    single_flight_app: tuple[ClientApp, list[str]],
    provider: FakeProvider,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The caller running ``fetch_token`` (runner) or the one waiting for it (waiter) is cancelled.

    Cancelling the runner: the waiter runs ``fetch_token`` itself (2 runs).
    Cancelling the waiter: the runner goes on (1 run).
    """
    ca, _ = single_flight_app
    resp = http.get(ca.url + f"/a/cancel/{victim}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    if victim == "runner":
        assert body["results"] == ["CancelledError", "alice"], body
        assert body["fetches"] == 2
    else:
        assert body["results"] == ["alice", "CancelledError"], body
        assert body["fetches"] == 1
    assert body["warnings"] == []
    assert len(provider.received("api", "me")) == 1
    assert _never_retrieved(caplog) == []


# ------------------------------------------------------------------ empty or malformed tokens


BAD_TOKENS: dict[str, Any] = {
    "empty-pair": ("", ""),
    "none-pair": (None, None),
    "empty-mapping": {"oauth_token": ""},
    "empty-list": ["", ""],
    "none-token": (None, "secret"),
    "int-token": (123, "secret"),
    "int-secret": ("token", 123),
}


def _token_value(case: str) -> Any:
    if case == "valid-pair":
        return (request.headers["X-Token"], request.headers["X-Secret"])
    if case == "valid-mapping":
        return token_from_headers()
    return BAD_TOKENS[case]


def _token_routes(app: Flask, oauth: OAuth) -> None:
    catch_oauth_errors(app)

    @app.route("/s/token/<how>/<case>")
    def s_token(how: str, case: str) -> Response:
        if how == "argument":
            resp = oauth.demo.get("me", token=_token_value(case))
        elif how == "assigned":
            oauth.demo.token = _token_value(case)
            resp = oauth.demo.get("me")
        else:  # fetch_token gives it
            g.fetch_case = case
            resp = oauth.demo.get("me")
        return jsonify(user=resp.json()["user"])

    @app.route("/a/token/<how>/<case>")
    async def a_token(how: str, case: str) -> Response:
        if how == "argument":
            resp = await oauth.demo.get("me", token=_token_value(case))
        elif how == "assigned":
            oauth.demo.token = _token_value(case)
            resp = await oauth.demo.get("me")
        else:
            g.fetch_case = case
            resp = await oauth.demo.get("me")
        return jsonify(user=resp.json()["user"])


@pytest.fixture
def token_app(provider: FakeProvider, client_app: ClientAppFactory) -> ClientApp:
    return client_app(provider, _token_routes, fetch_token=lambda: _token_value(g.fetch_case))


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
@pytest.mark.parametrize("how", ["argument", "assigned", "fetch_token"])
@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_empty_or_malformed_token_is_a_configuration_error(
    mode: str, how: str, case: str, token_app: ClientApp, provider: FakeProvider, http: httpx.Client
) -> None:
    resp = http.get(f"{token_app.url}{PREFIX[mode]}/token/{how}/{case}")
    assert resp.status_code == 418, resp.text
    assert resp.json()["error"] == "ConfigurationError"
    (exc,) = token_app.app.config["CAUGHT"]
    assert isinstance(exc, ConfigurationError)
    assert len(provider.received("api", "me")) == 0, "nothing may be sent signed with the consumer key alone"


@pytest.mark.parametrize("case", ["valid-pair", "valid-mapping"])
@pytest.mark.parametrize("how", ["argument", "assigned", "fetch_token"])
@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_valid_token_shapes_work(
    mode: str, how: str, case: str, token_app: ClientApp, provider: FakeProvider, http: httpx.Client
) -> None:
    headers = token_headers(provider.issue_token("carol"))
    resp = http.get(f"{token_app.url}{PREFIX[mode]}/token/{how}/{case}", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"user": "carol"}


# ------------------------------------------------------------------ RemoteApp.token


def _token_property_routes(app: Flask, oauth: OAuth) -> None:
    dance_routes(app, oauth)

    def report(before: Any, resp: httpx.Response) -> Response:
        current = oauth.demo.token
        return jsonify(
            before=before,
            user=resp.json()["user"],
            current=current["oauth_token"] if current else None,
            fetches=g.get("fetches", 0),
        )

    def assign() -> None:
        if request.args.get("assign"):
            oauth.demo.token = {
                "oauth_token": request.headers["X-Token"],
                "oauth_token_secret": request.headers["X-Secret"],
            }
        if request.args.get("clear"):
            oauth.demo.token = None

    @app.route("/s/prop")
    def s_prop() -> Response:
        before = oauth.demo.token
        assign()
        return report(before, oauth.demo.get("me"))

    @app.route("/a/prop")
    async def a_prop() -> Response:
        before = oauth.demo.token
        assign()
        return report(before, await oauth.demo.get("me"))


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_token_property_lives_on_g(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    alice = provider.issue_token("alice")
    bob = provider.issue_token("bob")

    def fetch_token() -> dict[str, str]:
        g.fetches = g.get("fetches", 0) + 1
        return alice

    ca = client_app(provider, _token_property_routes, fetch_token=fetch_token)
    url = ca.url + PREFIX[mode] + "/prop"

    # Assigned: used without asking fetch_token.
    resp = http.get(url, params={"assign": "1"}, headers=token_headers(bob))
    assert resp.json() == {"before": None, "user": "bob", "current": bob["oauth_token"], "fetches": 0}
    # The next request starts without it: fetch_token is asked, and its answer becomes the token.
    resp = http.get(url)
    assert resp.json() == {"before": None, "user": "alice", "current": alice["oauth_token"], "fetches": 1}
    # Assigning None forgets an assigned token.
    resp = http.get(url, params={"assign": "1", "clear": "1"}, headers=token_headers(bob))
    assert resp.json() == {"before": None, "user": "alice", "current": alice["oauth_token"], "fetches": 1}

    # After authorize_access_token(), the property is the token it returned.
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login", user="carol")
    assert result.response.status_code == 200, result.response.text
    body = result.response.json()
    assert body["before"] is None
    assert body["current_is_result"] is True
    assert body["token"]["screen_name"] == "carol"


def test_token_property_outside_a_request_and_unknown_attributes(provider: FakeProvider) -> None:
    app = Flask("token-property")
    app.secret_key = "k"
    oauth = OAuth(app)
    remote = oauth.register("demo", **register_settings(provider))
    try:
        assert remote.token is None
        with app.app_context():
            assert remote.token is None
            with pytest.raises(RuntimeError, match="inside a request"):
                remote.token = provider.issue_token("alice")
        with app.test_request_context("/"):
            remote.token = ("t", "s")
            assert remote.token == {"oauth_token": "t", "oauth_token_secret": "s"}
        with app.test_request_context("/"):
            assert remote.token is None
        with pytest.raises(AttributeError):
            oauth.demo.foo = 1  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            remote.tokn = ("t", "s")  # type: ignore[attr-defined]  # a typo must not pass silently
    finally:
        oauth.close()


# ------------------------------------------------------------------ one rule for sync and async lookups


def _clear_routes(app: Flask, oauth: OAuth) -> None:
    @app.get("/s/cleared")
    def sync_cleared() -> Response:
        first = oauth.demo.get_sync("me").json()["user"]
        oauth.demo.token = None  # forget it: the next call looks it up again
        second = oauth.demo.get_sync("me").json()["user"]
        return jsonify(first=first, second=second)

    @app.get("/a/cleared")
    async def async_cleared() -> Response:
        first = (await oauth.demo.get_async("me")).json()["user"]
        oauth.demo.token = None
        second = (await oauth.demo.get_async("me")).json()["user"]
        return jsonify(first=first, second=second)


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_clearing_the_token_refetches_in_both_view_kinds(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    # Regression: the sync path used to keep a second, permanent per-request
    # cache, so after ``remote.token = None`` it reused the cleared token
    # while the async path called fetch_token again.
    users = iter(["alice", "bob"])
    calls: list[str] = []
    issued = {u: provider.issue_token(u) for u in ("alice", "bob")}

    def fetch_token(name: str) -> dict[str, str]:
        user = next(users)
        calls.append(user)
        return issued[user]

    ca = client_app(provider, _clear_routes, oauth_kwargs={"fetch_token": fetch_token})
    response = http.get(ca.url + PREFIX[mode] + "/cleared")
    assert response.status_code == 200, response.text
    assert response.json() == {"first": "alice", "second": "bob"}
    assert calls == ["alice", "bob"]


def _blocking_in_async_routes(app: Flask, oauth: OAuth) -> None:
    @app.get("/a/blocking")
    async def blocking() -> Response:
        # A blocking call inside an async view, with an async fetch_token: it
        # used to fail inside asgiref ("You cannot use AsyncToSync in the
        # same thread as an async event loop").
        first = oauth.demo.get_sync("me").json()["user"]
        second = oauth.demo.get_sync("me").json()["user"]
        return jsonify(users=[first, second], who=g.get("who"))


def test_get_sync_in_an_async_view_with_an_async_fetch_token(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    calls: list[str | None] = []
    token = provider.issue_token("carol")

    async def fetch_token(name: str) -> dict[str, str]:
        await asyncio.sleep(0)
        calls.append(request.path)  # the request context is visible to the callback
        g.who = "seen"
        return token

    ca = client_app(provider, _blocking_in_async_routes, oauth_kwargs={"fetch_token": fetch_token})
    response = http.get(ca.url + "/a/blocking")
    assert response.status_code == 200, response.text
    assert response.json() == {"users": ["carol", "carol"], "who": "seen"}
    assert calls == ["/a/blocking"]  # once per request
