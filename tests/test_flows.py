"""The protocol steps of :mod:`flask_oauth1_async.flows`, with no server and no Flask.

Each flow gets plain inputs (settings, signer, a temporary-credential store,
a ``dict`` as the session, a ``dict`` as the callback query) and is driven by
the real :func:`~flask_oauth1_async._drivers.run_sync` and
:func:`~flask_oauth1_async._drivers.run_async` over a *scripted* client: a
fake that builds requests and answers each send from a list. Every test runs
both drivers on the same script and checks that they saw the same sequence of
effects and produced the same result (or the same error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from flask_oauth1_async import (
    AccessDeniedError,
    AccessTokenRefusedError,
    CallbackNotConfirmedError,
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    MissingTokenError,
    MissingVerifierError,
    ProviderHTTPError,
    RequestTimeoutError,
    TransportError,
    _drivers,
    _effects,
    flows,
)
from flask_oauth1_async.settings import RemoteSettings
from flask_oauth1_async.signing import Signer
from flask_oauth1_async.temporary_credentials import CacheStore, ReplayGuard, Sealer, SessionStore
from flask_oauth1_async.tokens import TokenSlot

BASE = "https://provider.test"
Answer = httpx.Response | BaseException


def _settings(**overrides: Any) -> RemoteSettings:
    values: dict[str, Any] = {
        "client_id": "consumer",
        "client_secret": "consumer-secret",
        "request_token_url": BASE + "/request_token",
        "access_token_url": BASE + "/access_token",
        "authorize_url": BASE + "/authorize",
        "api_base_url": BASE + "/api/",
    }
    values.update(overrides)
    return RemoteSettings.from_mapping("demo", values)


def _form(status: int = 200, **fields: str) -> httpx.Response:
    body = "&".join(f"{k}={v}" for k, v in fields.items())
    return httpx.Response(status, text=body, headers={"content-type": "application/x-www-form-urlencoded"})


@dataclass
class Script:
    """Answers for a flow's sends, in order, and a record of what the driver did."""

    answers: list[Answer]
    seen: list[str] = field(default_factory=list)
    sent: list[httpx.Request] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        item = self.answers.pop(0)
        if isinstance(item, BaseException):
            raise item
        item.request = request
        return item


class SyncClient:
    """What :func:`run_sync` needs of an ``httpx.Client``: build and send."""

    def __init__(self, script: Script) -> None:
        self.script = script

    def build_request(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        return httpx.Request(method, url, **kwargs)

    def send(self, request: httpx.Request, **_: Any) -> httpx.Response:
        return self.script.answer(request)


class AsyncClient(SyncClient):
    """What :func:`run_async` needs of an ``httpx.AsyncClient``."""

    async def send(self, request: httpx.Request, **_: Any) -> httpx.Response:  # type: ignore[override]
        await asyncio.sleep(0)
        return self.script.answer(request)


def _recorded(flow: Generator[Any, Any, Any], seen: list[str]) -> Generator[Any, Any, Any]:
    """Pass *flow* through, writing down each effect it yields."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value
        seen.append(type(effect).__name__ + ":" + _describe(effect))
        value, error = None, None
        try:
            value = yield effect
        except Exception as exc:
            error = exc


def _describe(effect: Any) -> str:
    if isinstance(effect, _effects.Build):
        return f"{effect.method} {effect.url.split('?')[0]}"
    if isinstance(effect, _effects.Send):
        return f"{effect.request.method} {effect.request.url.copy_with(query=None)}"
    return getattr(effect.func, "__name__", "callback")


async def _on_loop(coro: Awaitable[Any]) -> Any:
    return await coro


def both(make: Callable[[], Generator[Any, Any, Any]], answers: Callable[[], list[Answer]]) -> tuple[Any, Script]:
    """Run the flow from *make* with both drivers on the same script; return the result and the sync script.

    Asserts that both drivers saw the same effects and ended the same way.
    """
    outcomes = []
    scripts = []
    for kind in ("sync", "async"):
        script = Script(answers())
        flow = _recorded(make(), script.seen)
        try:
            if kind == "sync":
                result: Any = _drivers.run_sync(flow, SyncClient(script))  # type: ignore[arg-type]
            else:
                result = asyncio.run(_drivers.run_async(flow, AsyncClient(script), _on_loop))  # type: ignore[arg-type]
            outcomes.append(("ok", result))
        except Exception as exc:
            outcomes.append(("error", exc))
        scripts.append(script)
    (sync_kind, sync_value), (async_kind, async_value) = outcomes
    assert scripts[0].seen == scripts[1].seen
    assert sync_kind == async_kind
    if sync_kind == "error":
        assert type(sync_value) is type(async_value)
        assert str(sync_value) == str(async_value)
        raise sync_value
    assert sync_value == async_value or isinstance(sync_value, httpx.Response)
    return sync_value, scripts[0]


def _store(cache: Any = None) -> SessionStore | CacheStore:
    if cache is not None:
        return CacheStore("demo", 600, ReplayGuard(), cache)
    return SessionStore("demo", 600, ReplayGuard(), Sealer(lambda: ["k"], max_age=660))


class DictCache:
    """A cache with the protocol's methods, some of them async."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def set(self, key: str, value: str, expires: int) -> None:
        self.data[key] = value

    def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None


# ------------------------------------------------------------------ start_login


def _start(session: dict[str, Any], store: Any, **settings: Any) -> Callable[[], Generator[Any, Any, Any]]:
    return lambda: flows.start_login(
        _settings(**settings), Signer("consumer", "consumer-secret"), store, session, "https://app.test/cb", {"x": "1"}
    )


def test_start_login_returns_the_authorize_url_and_keeps_the_token() -> None:
    sessions: list[dict[str, Any]] = []

    def make() -> Generator[Any, Any, Any]:
        sessions.append({})
        return _start(sessions[-1], _store())()

    # The secret has characters that base64 never produces: it cannot appear in the sealed value by chance.
    url, script = both(
        make, lambda: [_form(oauth_token="rt", oauth_token_secret="rs!secret", oauth_callback_confirmed="true")]
    )
    assert script.seen == [
        "Build:POST https://provider.test/request_token",
        "Send:POST https://provider.test/request_token",
    ]
    parts = urlsplit(url)
    assert parts.path == "/authorize"
    assert dict(parse_qsl(parts.query)) == {"x": "1", "oauth_token": "rt"}
    assert 'oauth_callback="https%3A%2F%2Fapp.test%2Fcb"' in script.sent[0].headers["authorization"]
    for session in sessions:
        assert list(session["_oauth1_demo"]) == ["rt"]
        assert "rs!secret" not in repr(session)


def test_start_login_with_a_cache_invokes_its_set() -> None:
    caches: list[DictCache] = []

    def make() -> Generator[Any, Any, Any]:
        caches.append(DictCache())
        return _start({}, _store(caches[-1]))()

    _, script = both(make, lambda: [_form(oauth_token="rt", oauth_token_secret="rs", oauth_callback_confirmed="true")])
    assert script.seen[-1] == "Invoke:set"
    assert all(len(c.data) == 1 for c in caches)


def test_start_login_refuses_an_unconfirmed_callback() -> None:
    with pytest.raises(CallbackNotConfirmedError):
        both(_start({}, _store()), lambda: [_form(oauth_token="rt", oauth_token_secret="rs")])


def test_start_login_legacy_provider_may_skip_the_confirmation() -> None:
    url, _ = both(
        _start({}, _store(), require_callback_confirmed=False),
        lambda: [_form(oauth_token="rt", oauth_token_secret="rs")],
    )
    assert "oauth_token=rt" in url


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (_form(401, oauth_problem="signature_invalid"), ProviderHTTPError),
        (httpx.Response(200, text="<html>no</html>"), InvalidTokenResponseError),
        (httpx.ConnectError("refused"), TransportError),
        (httpx.ReadTimeout("slow"), RequestTimeoutError),
    ],
    ids=["http-401", "not-a-token", "transport", "timeout"],
)
def test_start_login_errors(answer: Answer, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        both(_start({}, _store()), lambda: [answer])
    assert not isinstance(info.value, AccessTokenRefusedError)


# ------------------------------------------------------------------ finish_login


def _pending_session(store: Any, cache: DictCache | None = None) -> dict[str, Any]:
    session: dict[str, Any] = {}
    _drivers.run_sync(store.save(session, "rt", "rs"), SyncClient(Script([])))  # type: ignore[arg-type]
    return session


def _finish(query: dict[str, str], kwargs: dict[str, Any] | None = None, cache: bool = False) -> Callable[[], Any]:
    def make() -> Generator[Any, Any, Any]:
        store = _store(DictCache() if cache else None)
        session = _pending_session(store)
        return flows.finish_login(
            _settings(), Signer("consumer", "consumer-secret"), store, session, query, kwargs or {}
        )

    return make


@pytest.mark.parametrize("cache", [False, True], ids=["session", "cache"])
def test_finish_login_returns_the_token(cache: bool) -> None:
    login, script = both(
        _finish({"oauth_token": "rt", "oauth_verifier": "v"}, cache=cache),
        lambda: [_form(oauth_token="at", oauth_token_secret="as", screen_name="alice")],
    )
    assert login.token == {"oauth_token": "at", "oauth_token_secret": "as", "screen_name": "alice"}
    assert login.next_url is None
    header = script.sent[0].headers["authorization"]
    assert 'oauth_token="rt"' in header
    assert 'oauth_verifier="v"' in header
    if cache:
        assert script.seen[0] == "Invoke:get"
        assert script.seen[1] == "Invoke:delete"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"denied": "rt"}, AccessDeniedError),
        ({"oauth_token": "rt", "oauth_problem": "user_refused"}, AccessDeniedError),
        ({}, CallbackTokenError),
        ({"oauth_token": "other", "oauth_verifier": "v"}, CallbackTokenError),
        ({"oauth_token": "rt"}, MissingVerifierError),
    ],
    ids=["denied", "user-refused", "missing-token", "unknown-token", "no-verifier"],
)
def test_finish_login_callback_errors_send_nothing(query: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        both(_finish(query), list)


@pytest.mark.parametrize(("status", "error"), [(401, AccessTokenRefusedError), (503, ProviderHTTPError)])
def test_finish_login_refused_exchange(status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        both(_finish({"oauth_token": "rt", "oauth_verifier": "forged"}), lambda: [_form(status, oauth_problem="x")])
    assert type(info.value) is error
    assert info.value.status_code == status  # type: ignore[attr-defined]


def test_finish_login_keeps_nested_json_values() -> None:
    body = '{"oauth_token": "at", "oauth_token_secret": "as", "user": {"id": 7, "tags": ["a"]}, "n": 5}'
    login, _ = both(
        _finish({"oauth_token": "rt", "oauth_verifier": "v"}),
        lambda: [httpx.Response(200, text=body, headers={"content-type": "application/json"})],
    )
    token = login.token
    assert token["user"] == {"id": 7, "tags": ["a"]}
    assert token["n"] == "5"


def test_finish_login_claims_once() -> None:
    store = _store()
    session = _pending_session(store)
    query = {"oauth_token": "rt", "oauth_verifier": "v"}
    settings, signer = _settings(), Signer("consumer", "consumer-secret")
    script = Script([_form(oauth_token="at", oauth_token_secret="as")])
    flow = flows.finish_login(settings, signer, store, session, query, {})
    _drivers.run_sync(flow, SyncClient(script))  # type: ignore[arg-type]
    replay = dict(_pending_session(store))  # an old copy of the cookie, still listing "rt"
    with pytest.raises(CallbackTokenError):
        _drivers.run_sync(flows.finish_login(settings, signer, store, replay, query, {}), SyncClient(script))  # type: ignore[arg-type]


# ------------------------------------------------------------------ call_resource


def _call(token: object = None, slot: TokenSlot | None = None, fetch: Any = None, **kwargs: Any) -> Callable[[], Any]:
    withhold = kwargs.pop("withhold_token", False)
    return lambda: flows.call_resource(
        _settings(),
        Signer("consumer", "consumer-secret"),
        "GET",
        "me",
        token=token,
        withhold_token=withhold,
        slot=slot,
        fetch=fetch,
        fetch_args=("demo",) if fetch else (),
        kwargs=dict(kwargs),
    )


def test_call_resource_signs_with_the_explicit_token() -> None:
    response, script = both(_call(token=("at", "as")), lambda: [httpx.Response(200, json={"ok": 1})])
    assert response.json() == {"ok": 1}
    assert script.seen == ["Build:GET https://provider.test/api/me", "Send:GET https://provider.test/api/me"]
    assert 'oauth_token="at"' in script.sent[0].headers["authorization"]


def test_call_resource_withheld_token_is_unsigned() -> None:
    _, script = both(_call(withhold_token=True), lambda: [httpx.Response(204)])
    assert "authorization" not in script.sent[0].headers


def test_call_resource_fetches_through_the_slot_once() -> None:
    calls: list[str] = []

    def fetch_token(name: str) -> tuple[str, str]:
        calls.append(name)
        return ("at", "as")

    slots: list[TokenSlot] = []

    def make() -> Any:
        slots.append(TokenSlot())
        return _call(slot=slots[-1], fetch=fetch_token)()

    _, script = both(make, lambda: [httpx.Response(200)])
    assert script.seen[0] == "Invoke:fetch_token"  # the token is found first, then the request is built
    assert calls == ["demo", "demo"]  # once per driver
    # A second call with the same slot does not fetch again...
    _drivers.run_sync(_call(slot=slots[0], fetch=fetch_token)(), SyncClient(Script([httpx.Response(200)])))  # type: ignore[arg-type]
    assert calls == ["demo", "demo"]
    # ...until the slot is cleared (remote.token = None).
    slots[0].clear()
    _drivers.run_sync(_call(slot=slots[0], fetch=fetch_token)(), SyncClient(Script([httpx.Response(200)])))  # type: ignore[arg-type]
    assert calls == ["demo", "demo", "demo"]


@pytest.mark.parametrize("fetch", [None, lambda name: None], ids=["no-fetch-token", "fetch-returns-none"])
def test_call_resource_without_a_token(fetch: Any) -> None:
    with pytest.raises(MissingTokenError):
        both(_call(fetch=fetch), list)


def test_call_resource_refuses_auth_and_relative_urls_without_base() -> None:
    with pytest.raises(TypeError):
        both(_call(token=("at", "as"), auth=("u", "p")), list)
    with pytest.raises(ConfigurationError):
        flows.join_url(None, "me")


def test_call_resource_transport_error_hides_the_query() -> None:
    def make() -> Any:
        return flows.call_resource(
            _settings(),
            Signer("consumer", "consumer-secret"),
            "GET",
            "me?secret=1",
            token=("at", "as"),
            withhold_token=False,
            slot=None,
            fetch=None,
            fetch_args=(),
            kwargs={},
        )

    with pytest.raises(TransportError) as info:
        both(make, lambda: [httpx.ConnectError("nope")])
    assert "secret=1" not in str(info.value)


# ------------------------------------------------------------------ what each Send asks of the driver


def _sends(flow: Generator[Any, Any, Any], found: list[_effects.Send]) -> Generator[Any, Any, Any]:
    """Pass *flow* through, keeping each Send effect it yields."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value
        if isinstance(effect, _effects.Send):
            found.append(effect)
        value, error = None, None
        try:
            value = yield effect
        except Exception as exc:
            error = exc


def test_token_steps_send_bounded_by_a_deadline_and_never_let_httpx_follow() -> None:
    sends: list[_effects.Send] = []
    token = _form(oauth_token="rt", oauth_token_secret="rs", oauth_callback_confirmed="true")
    both(lambda: _sends(_start({}, _store(), client_kwargs={"timeout": 2.0})(), sends), lambda: [token])
    assert len(sends) == 2  # one per driver
    for send in sends:
        assert send.limit == flows.MAX_TOKEN_RESPONSE
        assert send.follow_redirects is False
        assert send.deadline is not None
        assert send.deadline.seconds == 8.0  # connect + read + write + pool


@pytest.mark.parametrize(
    ("settings", "kwargs", "seconds"),
    [
        ({}, {}, None),
        ({"deadline": 7}, {}, 7.0),
        ({"deadline": 7}, {"deadline": 1.5}, 1.5),
        ({}, {"deadline": None}, None),
    ],
    ids=["none-by-default", "the-remote's", "the-call's", "none-asked"],
)
def test_resource_calls_have_a_deadline_when_one_is_set(
    settings: dict[str, Any], kwargs: dict[str, Any], seconds: float | None
) -> None:
    sends: list[_effects.Send] = []

    def make() -> Any:
        flow = flows.call_resource(
            _settings(**settings),
            Signer("consumer", "consumer-secret"),
            "GET",
            "me",
            token=("at", "as"),
            withhold_token=False,
            slot=None,
            fetch=None,
            fetch_args=(),
            kwargs=dict(kwargs),
        )
        return _sends(flow, sends)

    both(make, lambda: [httpx.Response(200)])
    for send in sends:
        assert send.limit is None  # the user's response is read whole
        assert send.follow_redirects is False
        assert (send.deadline.seconds if send.deadline is not None else None) == seconds


def test_a_derived_deadline_needs_every_timeout() -> None:
    assert flows.derived_deadline({}) == 20.0  # httpx's default: 5 s for each phase
    assert flows.derived_deadline({"timeout": httpx.Timeout(1.0, read=3.0)}) == 6.0
    assert flows.derived_deadline({"timeout": None}) is None
    assert flows.derived_deadline({"timeout": httpx.Timeout(5.0, pool=None)}) is None


# ------------------------------------------------------------------ the drivers close flows


def _guarded(log: list[str]) -> Generator[Any, Any, Any]:
    try:
        request = yield _effects.Build("GET", BASE + "/x", {})
        yield _effects.Send(request)
    finally:
        log.append("closed")


def test_sync_driver_closes_the_flow_on_base_exception() -> None:
    log: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _drivers.run_sync(_guarded(log), SyncClient(Script([KeyboardInterrupt()])))  # type: ignore[arg-type]
    assert log == ["closed"]


def test_async_driver_closes_the_flow_on_cancellation() -> None:
    log: list[str] = []

    async def main() -> None:
        started = asyncio.Event()

        async def hang(coro: Awaitable[Any]) -> Any:
            if hasattr(coro, "close"):
                coro.close()
            started.set()
            await asyncio.sleep(3600)

        task = asyncio.ensure_future(_drivers.run_async(_guarded(log), AsyncClient(Script([])), hang))  # type: ignore[arg-type]
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert log == ["closed"]
