"""The OAuth 1.0a protocol steps, written once as generators, and their two drivers.

A *flow* is a generator that never does I/O itself. It yields *effects*:

* :class:`Build` - "build this :class:`httpx.Request` with the client's defaults";
* :class:`Send` - "send this request and give me the response";
* :class:`Invoke` - "call this user callback (``fetch_token``, a cache method),
  which may be a plain function or an ``async def``".

:func:`run_sync` performs the effects with blocking calls and
:func:`run_async` with awaits. Everything else - URL joining, token lookup,
signing, temporary-credential storage, response parsing, error mapping - is
shared, so the sync and async paths cannot drift apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from flask import g, has_request_context, redirect, request, session
from werkzeug.wrappers import Response as WerkzeugResponse

from .errors import (
    AccessDeniedError,
    CallbackNotConfirmedError,
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    MissingTokenError,
    MissingVerifierError,
    ProviderHTTPError,
    RequestTimeoutError,
    TransportError,
    quote_body,
)
from .tokens import OAuth1Token, to_token

if TYPE_CHECKING:
    from .registry import RemoteState

T = TypeVar("T")
log = logging.getLogger("flask_oauth1_async")

#: Pending logins kept per remote app and browser session; older ones are dropped.
MAX_PENDING_LOGINS = 3
#: ``oauth_problem`` (or Authlib-style ``error``) values that mean "the user said no".
_DENIED_PROBLEMS = frozenset({"user_refused", "permission_denied", "access_denied"})
_G_TOKENS = "_flask_oauth1_async_tokens"
_G_PENDING = "_flask_oauth1_async_pending"
_G_LOCKS = "_flask_oauth1_async_locks"
_G_ONCE = "_flask_oauth1_async_once"


class Build:
    """Effect: build a request with the HTTP client's defaults (headers, cookies, timeout)."""

    __slots__ = ("kwargs", "method", "url")

    def __init__(self, method: str, url: str, kwargs: dict[str, Any]) -> None:
        self.method = method
        self.url = url
        self.kwargs = kwargs


class Send:
    """Effect: send a request and return the (fully read) response."""

    __slots__ = ("follow_redirects", "request")

    def __init__(self, request: httpx.Request, follow_redirects: bool | None) -> None:
        self.request = request
        self.follow_redirects = follow_redirects


class Invoke:
    """Effect: call a user callback that may be sync or async.

    With ``once_key`` set, concurrent invocations with the same key inside
    one async view share a single call (used for ``fetch_token``).
    """

    __slots__ = ("args", "func", "once_key")

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], once_key: str | None = None) -> None:
        self.func = func
        self.args = args
        self.once_key = once_key


Effect = Build | Send | Invoke
Flow = Generator[Effect, Any, T]


# ---------------------------------------------------------------- drivers


def run_sync(flow: Flow[T], client: httpx.Client) -> T:
    """Drive *flow* with blocking I/O on *client*."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Send):
                if effect.follow_redirects is None:
                    value = client.send(effect.request)
                else:
                    value = client.send(effect.request, follow_redirects=effect.follow_redirects)
            elif isinstance(effect, Build):
                value = client.build_request(effect.method, effect.url, **effect.kwargs)
            elif effect.once_key is not None and has_request_context():
                value = _invoke_once_sync(effect)
            else:
                value = _invoke_sync(effect.func, effect.args)
        except Exception as exc:
            error = exc


def _invoke_once_sync(effect: Invoke) -> Any:
    # Threads that share one request context (copy_context().run) share ``g``:
    # the first caller runs the callback, the others wait for its result.
    key = effect.once_key
    assert key is not None
    lock: threading.Lock = g.setdefault(_G_LOCKS, {}).setdefault(key, threading.Lock())
    with lock:
        done: dict[str, Any] = g.setdefault(_G_ONCE, {})
        if key in done:
            return done[key]
        result = _invoke_sync(effect.func, effect.args)
        done[key] = result
        return result


def _invoke_sync(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    if iscoroutinefunction(func):
        return async_to_sync(func)(*args)
    result = func(*args)
    if inspect.isawaitable(result):
        awaitable: Awaitable[Any] = result

        async def wait() -> Any:
            return await awaitable

        return async_to_sync(wait)()
    return result


async def run_async(
    flow: Flow[T],
    client: httpx.AsyncClient,
    run_on_loop: Callable[[Any], Awaitable[Any]],
) -> T:
    """Drive *flow* with awaits; requests go through *run_on_loop* (the pool's loop)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Send):
                if effect.follow_redirects is None:
                    value = await run_on_loop(client.send(effect.request))
                else:
                    value = await run_on_loop(client.send(effect.request, follow_redirects=effect.follow_redirects))
            elif isinstance(effect, Build):
                value = client.build_request(effect.method, effect.url, **effect.kwargs)
            elif effect.once_key is not None and has_request_context():
                value = await _invoke_once(effect)
            else:
                value = await _invoke_async(effect.func, effect.args)
        except Exception as exc:
            error = exc


async def _invoke_async(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    if iscoroutinefunction(func):
        return await func(*args)
    result = await sync_to_async(func, thread_sensitive=True)(*args)
    if inspect.isawaitable(result):
        return await result
    return result


async def _invoke_once(effect: Invoke) -> Any:
    pending: dict[str, asyncio.Future[Any]] = g.setdefault(_G_PENDING, {})
    key = effect.once_key
    assert key is not None
    loop = asyncio.get_running_loop()
    while True:
        existing = pending.get(key)
        if existing is None or existing.get_loop() is not loop:
            break
        # asyncio.wait never cancels what it waits for: if *this* caller is
        # cancelled, the shared lookup goes on for the others.
        await asyncio.wait([existing])
        if not existing.cancelled():
            return existing.result()
        # The caller that ran the lookup was cancelled: run it ourselves.
    future: asyncio.Future[Any] = loop.create_future()
    pending[key] = future
    try:
        result = await _invoke_async(effect.func, effect.args)
    except Exception as exc:
        future.set_exception(exc)
        future.exception()  # mark retrieved: waiters get it, nobody else must
        raise
    except BaseException:
        future.cancel()
        raise
    finally:
        if pending.get(key) is future:
            del pending[key]
    future.set_result(result)
    return result


# ---------------------------------------------------------------- shared steps


def send(request: httpx.Request, follow_redirects: bool | None = None) -> Flow[httpx.Response]:
    """Send *request*, turning httpx's network errors into ours."""
    try:
        response: httpx.Response = yield Send(request, follow_redirects)
    except httpx.TimeoutException as exc:
        url = _safe_url(request.url)
        raise RequestTimeoutError(
            f"timed out calling {request.method} {url} ({type(exc).__name__})", url=url, original=exc
        ) from exc
    except httpx.RequestError as exc:
        url = _safe_url(request.url)
        raise TransportError(
            f"{type(exc).__name__} calling {request.method} {url}: {quote_body(str(exc))}", url=url, original=exc
        ) from exc
    return response


def _safe_url(url: httpx.URL | str) -> str:
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def join_url(base: str | None, url: str) -> str:
    """Resolve *url* against the remote's ``api_base_url``.

    * ``http(s)://...`` URLs are used as they are;
    * a path such as ``account/x`` is appended to the whole base, which keeps
      its last segment whether or not it ends with ``/`` (``.../1.1`` +
      ``account/x`` is ``.../1.1/account/x``);
    * a path starting with ``/`` is taken from the base's host, as
      :func:`urllib.parse.urljoin` (and so Authlib and Flask-OAuthlib) do:
      ``https://api.x.com/1.1/`` + ``/2/users/me`` is ``https://api.x.com/2/users/me``.
    """
    lowered = url[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return url
    if url.startswith("//"):
        raise ConfigurationError(
            f"refusing the protocol-relative URL {url!r}: pass an absolute https:// URL to call another host"
        )
    if not base:
        raise ConfigurationError(
            f"cannot resolve the relative URL {url!r}: set api_base_url (or the {{NAME}}_API_BASE_URL key)"
        )
    if url.startswith("/"):
        parts = urlsplit(base)
        return urlunsplit((parts.scheme, parts.netloc, "", "", "")) + url
    if not base.endswith("/"):
        base += "/"
    return base + url


def parse_token_response(response: httpx.Response, endpoint: str) -> dict[str, str]:
    """Parse a request-token or access-token answer, or raise a typed error."""
    if not response.is_success:
        text = _body_text(response)
        problem = ""
        try:
            fields = dict(parse_qsl(text, keep_blank_values=True))
        except ValueError:
            fields = {}
        if fields.get("oauth_problem"):
            problem = f" (oauth_problem={quote_body(fields['oauth_problem'], 60)})"
        excerpt = quote_body(text)
        raise ProviderHTTPError(
            f"the {endpoint} endpoint answered HTTP {response.status_code}{problem}: {excerpt}",
            status_code=response.status_code,
            body_excerpt=excerpt,
        )
    text = _body_text(response)
    data: dict[str, str] = {}
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            data = {str(k): str(v) for k, v in loaded.items() if v is not None}
    else:
        try:
            data = dict(parse_qsl(text.strip(), keep_blank_values=True))
        except ValueError:
            data = {}
    if not data.get("oauth_token") or "oauth_token_secret" not in data:
        excerpt = quote_body(text)
        raise InvalidTokenResponseError(
            f"the {endpoint} endpoint answered HTTP {response.status_code} without a token "
            f"(expected a form-encoded oauth_token and oauth_token_secret): {excerpt}",
            body_excerpt=excerpt,
        )
    return data


def _body_text(response: httpx.Response) -> str:
    try:
        return response.text
    except (UnicodeDecodeError, LookupError):
        return response.content.decode("latin-1")


# ---------------------------------------------------------------- tokens


def resolve_token(state: RemoteState, token: object) -> Flow[OAuth1Token]:
    """Find the token for a signed call: ``token=``, then ``g``, then ``fetch_token``."""
    if token is not None:
        resolved = to_token(token)
        assert resolved is not None
        return resolved
    in_request = has_request_context()
    name = state.name
    if in_request:
        cache: dict[str, OAuth1Token | None] = g.setdefault(_G_TOKENS, {})
        if name in cache:
            cached = cache[name]
            if cached is None:
                raise MissingTokenError(f"no token for {name!r}: fetch_token returned None for this request")
            return cached
    fetch, args = state.token_fetcher()
    if fetch is None:
        raise MissingTokenError(
            f"no token for {name!r}: pass token=..., or configure fetch_token on OAuth() or register()"
        )
    value = yield Invoke(fetch, args, once_key=name)
    resolved = to_token(value)
    if in_request:
        g.setdefault(_G_TOKENS, {})[name] = resolved
    if resolved is None:
        raise MissingTokenError(f"no token for {name!r}: fetch_token returned None")
    return resolved


def current_token(name: str) -> OAuth1Token | None:
    """The token of this request for remote *name* (None outside a request or if unknown)."""
    if not has_request_context():
        return None
    cached: dict[str, OAuth1Token | None] = g.get(_G_TOKENS) or {}
    return cached.get(name)


def set_current_token(name: str, value: object) -> None:
    """Make *value* (a token-like or None) this request's token for remote *name*."""
    if not has_request_context():
        raise RuntimeError("a remote app's token lives on flask.g: set it inside a request")
    tokens: dict[str, OAuth1Token | None] = g.setdefault(_G_TOKENS, {})
    if value is None:
        tokens.pop(name, None)
    else:
        tokens[name] = to_token(value)


def remember_token(name: str, token: OAuth1Token) -> None:
    """Make *token* the token of this request for remote *name*."""
    if has_request_context():
        g.setdefault(_G_TOKENS, {})[name] = token


# ---------------------------------------------------------------- resource calls


def resource_flow(
    state: RemoteState,
    method: str,
    url: str,
    token: object,
    withhold_token: bool,
    kwargs: dict[str, Any],
) -> Flow[httpx.Response]:
    """A signed (or, with *withhold_token*, unsigned) API call."""
    if "auth" in kwargs:
        raise TypeError(
            "auth= is not accepted: the remote app signs requests itself. For a request with other "
            "credentials, pass withhold_token=True and set the Authorization header in headers="
        )
    follow = kwargs.pop("follow_redirects", None)
    target = join_url(state.api_base_url, url)
    req: httpx.Request = yield Build(method.upper(), target, kwargs)
    if not withhold_token:
        tok = yield from resolve_token(state, token)
        req = state.signer.sign(req, token=tok.token, token_secret=tok.secret)
    return (yield from send(req, follow))


# ---------------------------------------------------------------- the dance


def _require(value: str | None, key: str, name: str) -> str:
    if not value:
        raise ConfigurationError(
            f"remote app {name!r} has no {key}: pass {key}= to register() or set {name.upper()}_{key.upper()}"
        )
    return value


def _with_params(url: str, params: Mapping[str, Any]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    query = parts.query
    extra = urlencode([(k, v) for k, v in params.items() if v is not None])
    query = f"{query}&{extra}" if query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def authorize_redirect_flow(
    state: RemoteState, redirect_uri: str | None, kwargs: dict[str, Any]
) -> Flow[WerkzeugResponse]:
    """Fetch a request token, store it, and redirect the browser to the provider."""
    name = state.name
    request_token_url = _require(state.request_token_url, "request_token_url", name)
    authorize_url = _require(state.authorize_url, "authorize_url", name)
    callback = "oob"
    if redirect_uri:
        callback = urljoin(request.url, redirect_uri) if has_request_context() else redirect_uri
    method = state.request_token_method
    params = dict(state.request_token_params)
    build_kwargs: dict[str, Any] = {}
    if params:
        build_kwargs["data" if method in ("POST", "PUT") else "params"] = params
    req: httpx.Request = yield Build(method, request_token_url, build_kwargs)
    req = state.signer.sign(req, callback=callback)
    response = yield from send(req)
    data = parse_token_response(response, "request token")
    if state.require_callback_confirmed and data.get("oauth_callback_confirmed", "").lower() != "true":
        raise CallbackNotConfirmedError(
            "the request token answer does not carry oauth_callback_confirmed=true, which RFC 5849 "
            "section 2.1 requires (an OAuth 1.0a provider); if this provider only speaks legacy "
            "OAuth 1.0, register it with require_callback_confirmed=False"
        )
    yield from save_temporary(state, data["oauth_token"], data["oauth_token_secret"], callback)
    auth_params: dict[str, Any] = {**state.authorize_params, **kwargs, "oauth_token": data["oauth_token"]}
    log.debug("request token obtained for %r; redirecting to the authorize URL", name)
    return redirect(_with_params(authorize_url, auth_params))


def authorize_access_token_flow(state: RemoteState, kwargs: dict[str, Any]) -> Flow[OAuth1Token]:
    """Validate the callback, consume the stored request token, fetch the access token."""
    name = state.name
    access_token_url = _require(state.access_token_url, "access_token_url", name)
    if not has_request_context():
        raise RuntimeError("authorize_access_token() reads the callback query: call it inside the callback view")
    args = request.args
    explicit_token = kwargs.pop("oauth_token", None)
    explicit_verifier = kwargs.pop("oauth_verifier", None)
    oauth_token = explicit_token or args.get("oauth_token") or None
    if oauth_token is None and explicit_verifier:
        # Out-of-band (PIN) logins never come back through a callback: the
        # user types the verifier, and the login is the newest one pending
        # in this browser session.
        oauth_token = newest_pending(name)
    denied = args.get("denied")
    problem = (args.get("oauth_problem") or args.get("error") or "").lower()
    if denied is not None or problem in _DENIED_PROBLEMS:
        yield from discard_temporary(state, oauth_token or denied or "")
        raise AccessDeniedError(f"the user declined to authorize {name!r} at the provider")
    if not oauth_token:
        raise CallbackTokenError(
            "the callback has no oauth_token parameter; was this URL opened directly?", reason="missing"
        )
    record = yield from pop_temporary(state, oauth_token)
    verifier = explicit_verifier or args.get("oauth_verifier")
    if not verifier:
        raise MissingVerifierError("the callback has no oauth_verifier parameter (RFC 5849 section 2.2)")
    params = {**state.access_token_params, **kwargs}
    method = state.access_token_method
    build_kwargs: dict[str, Any] = {}
    if state.access_token_headers:
        build_kwargs["headers"] = dict(state.access_token_headers)
    if params:
        build_kwargs["data" if method in ("POST", "PUT") else "params"] = params
    req: httpx.Request = yield Build(method, access_token_url, build_kwargs)
    req = state.signer.sign(req, token=oauth_token, token_secret=record["secret"], verifier=verifier)
    response = yield from send(req)
    data = parse_token_response(response, "access token")
    token = OAuth1Token(data)
    remember_token(name, token)
    log.debug("access token obtained for %r", name)
    return token


# ---------------------------------------------------------------- temporary credentials


def _session_key(name: str) -> str:
    return f"_oauth1_{name}"


def cache_key(name: str, oauth_token: str) -> str:
    """The cache key of a pending login (the token is hashed: keys stay short and safe)."""
    digest = hashlib.sha256(oauth_token.encode()).hexdigest()[:40]
    return f"flask_oauth1_async:{name}:{digest}"


def _pending(name: str) -> dict[str, dict[str, Any]]:
    raw = session.get(_session_key(name))
    if not isinstance(raw, dict):
        return {}
    now = time.time()
    return {
        k: v for k, v in raw.items() if isinstance(v, dict) and isinstance(v.get("e"), (int, float)) and v["e"] > now
    }


def _age(item: tuple[str, dict[str, Any]]) -> tuple[float, float]:
    """Sort key of a pending login: creation time ("c", sub-second), then expiry."""
    record = item[1]
    return (record.get("c", record["e"]), record["e"])


def _store_pending(name: str, pending: dict[str, dict[str, Any]]) -> list[str]:
    """Save *pending* (newest :data:`MAX_PENDING_LOGINS` only); return the evicted tokens."""
    evicted: list[str] = []
    if len(pending) > MAX_PENDING_LOGINS:
        # "c" is the creation time with sub-second precision; the key order of
        # the dict cannot be trusted (the session serializer sorts keys).
        by_age = sorted(pending.items(), key=_age)
        evicted = [token for token, _ in by_age[:-MAX_PENDING_LOGINS]]
        pending = dict(by_age[-MAX_PENDING_LOGINS:])
    if pending:
        session[_session_key(name)] = pending
    else:
        session.pop(_session_key(name), None)
    return evicted


def save_temporary(state: RemoteState, oauth_token: str, secret: str, redirect_uri: str) -> Flow[None]:
    """Remember a request token until the callback, bound to this browser session."""
    if not has_request_context():
        raise RuntimeError("authorize_redirect() stores the request token in the session: call it inside a view")
    name = state.name
    now = time.time()
    expires = int(now) + state.request_token_ttl
    created = round(now, 6)
    pending = _pending(name)
    cache = state.cache
    if cache is None:
        pending[oauth_token] = {"s": state.encrypt(secret), "r": redirect_uri, "e": expires, "c": created}
    else:
        nonce = secrets.token_urlsafe(16)
        value = json.dumps({"s": secret, "r": redirect_uri, "e": expires, "n": nonce})
        yield Invoke(cache.set, (cache_key(name, oauth_token), value, state.request_token_ttl))
        pending[oauth_token] = {"n": nonce, "e": expires, "c": created}
    for dropped in _store_pending(name, pending):
        if cache is not None:  # an abandoned login: free its cache entry now
            yield Invoke(cache.delete, (cache_key(name, dropped),))


def newest_pending(name: str) -> str | None:
    """The ``oauth_token`` of the newest login of remote *name* pending in this session."""
    pending = _pending(name)
    if not pending:
        return None
    return max(pending.items(), key=_age)[0]


class _ConsumedTokens:
    """Request tokens this process has already consumed, kept until they expire.

    The session is a cookie: a browser (or an attacker holding an old copy of
    it) can send an earlier version that still lists a used login. This set
    stops such a replay before it reaches the provider, within one process;
    a shared cache (``OAuth(cache=...)``) does it across processes.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._limit = limit

    def claim(self, key: str, expires: float) -> bool:
        """Record *key*; False if it was already recorded (a replay)."""
        now = time.time()
        with self._lock:
            if key in self._seen and self._seen[key] > now:
                return False
            if len(self._seen) >= self._limit:
                self._seen = {k: e for k, e in self._seen.items() if e > now}
                while len(self._seen) >= self._limit:
                    self._seen.pop(next(iter(self._seen)))
            self._seen[key] = expires
            return True

    def after_fork_in_child(self) -> None:
        """Give the child process a fresh lock (a fork may happen while it is held)."""
        self._lock = threading.Lock()


_consumed = _ConsumedTokens()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_consumed.after_fork_in_child)


def pop_temporary(state: RemoteState, oauth_token: str) -> Flow[dict[str, str]]:
    """Consume the pending login for *oauth_token* (one-time) or raise :class:`CallbackTokenError`."""
    name = state.name
    raw = session.get(_session_key(name))
    marker = raw.get(oauth_token) if isinstance(raw, dict) else None
    pending = _pending(name)
    pending.pop(oauth_token, None)
    _store_pending(name, pending)
    unknown = CallbackTokenError(
        "the callback's oauth_token does not match a login started in this browser session "
        "(already used, never issued here, or started in another browser)",
        reason="unknown",
    )
    if not isinstance(marker, dict):
        raise unknown
    expired = CallbackTokenError(
        f"the login for {name!r} took longer than {state.request_token_ttl} s; please start it again",
        reason="expired",
    )
    if not isinstance(marker.get("e"), (int, float)) or marker["e"] <= time.time():
        if state.cache is not None:
            yield Invoke(state.cache.delete, (cache_key(name, oauth_token),))
        raise expired
    if not _consumed.claim(cache_key(name, oauth_token), float(marker["e"]) + 60):
        raise unknown
    cache = state.cache
    if cache is None:
        secret = state.decrypt(str(marker.get("s", "")))
        if secret is None:
            raise unknown
        return {"secret": secret, "redirect_uri": str(marker.get("r", ""))}
    key = cache_key(name, oauth_token)
    stored = yield Invoke(cache.get, (key,))
    if stored is not None:
        yield Invoke(cache.delete, (key,))
    if stored is None:
        raise expired
    try:
        data = json.loads(stored.decode() if isinstance(stored, bytes) else stored)
    except (ValueError, TypeError, AttributeError):
        raise unknown from None
    if not isinstance(data, dict) or not secrets.compare_digest(str(data.get("n", "")), str(marker.get("n", ""))):
        raise unknown
    if not isinstance(data.get("e"), (int, float)) or data["e"] <= time.time():
        raise expired
    return {"secret": str(data["s"]), "redirect_uri": str(data.get("r", ""))}


def discard_temporary(state: RemoteState, oauth_token: str) -> Flow[None]:
    """Forget a pending login (after a denial), ignoring unknown tokens."""
    name = state.name
    pending = _pending(name)
    known = pending.pop(oauth_token, None) is not None
    _store_pending(name, pending)
    if known and state.cache is not None:
        yield Invoke(state.cache.delete, (cache_key(name, oauth_token),))
