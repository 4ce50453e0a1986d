"""The Flask extension: :class:`OAuth` (the registry) and :class:`RemoteApp`.

Configuration
-------------

A remote app's settings come from two places: the keyword arguments of
:meth:`OAuth.register` and the Flask config keys ``{NAME}_{KEY}`` (``NAME`` is
the registered name upper-cased). The ten config keys are:

=================================  ============================================
``{NAME}_CLIENT_ID``               consumer key (required)
``{NAME}_CLIENT_SECRET``           consumer secret
``{NAME}_REQUEST_TOKEN_URL``       temporary-credential endpoint
``{NAME}_REQUEST_TOKEN_PARAMS``    extra parameters sent to it (a dict)
``{NAME}_ACCESS_TOKEN_URL``        token-credential endpoint
``{NAME}_ACCESS_TOKEN_PARAMS``     extra parameters sent to it (a dict)
``{NAME}_AUTHORIZE_URL``           where the browser is sent to authorize
``{NAME}_AUTHORIZE_PARAMS``        extra query parameters for that URL (a dict)
``{NAME}_API_BASE_URL``            base for relative resource URLs
``{NAME}_CLIENT_KWARGS``           httpx client options and OAuth 1 options
=================================  ============================================

Precedence: a keyword given to :meth:`~OAuth.register` wins; a config key
fills in what was not given. With ``register(..., overwrite=True)`` it is the
other way round: a non-empty config value replaces the keyword, and for the
dict-valued settings the config dict is merged over the keyword's dict. The
config is read from the app in use the first time a remote is used in it, so
the application-factory pattern works and one registry can serve several apps
with different credentials.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import logging
import os
import ssl
import threading
import urllib.request
import weakref
from collections.abc import Callable, Mapping
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, Protocol, cast

import httpx
from asgiref.sync import iscoroutinefunction
from flask import Flask, current_app, has_app_context
from werkzeug.wrappers import Response as WerkzeugResponse

from . import _flow
from ._dual import DualRedirect, DualResponse, DualToken, PendingCall, dual
from ._transport import default_ssl_context, loop_thread, track_for_exit
from .errors import AccessDeniedError, AuthorizationError, ConfigurationError
from .signing import Signer
from .tokens import OAuth1Token, TokenLike

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["CONFIG_KEYS", "EXTENSION_KEY", "OAuth", "RemoteApp", "TemporaryCredentialCache"]

#: The key of this extension's state in ``app.extensions``.
EXTENSION_KEY = "flask_oauth1_async"

#: Settings that may come from ``{NAME}_{KEY}`` config keys (lower-cased here).
CONFIG_KEYS: tuple[str, ...] = (
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
_DICT_KEYS = frozenset({"request_token_params", "access_token_params", "authorize_params", "client_kwargs"})

#: Extra :meth:`OAuth.register` keywords (not read from config).
EXTRA_KEYS: tuple[str, ...] = (
    "fetch_token",
    "require_callback_confirmed",
    "request_token_ttl",
    "request_token_method",
    "access_token_method",
    "access_token_headers",
)

#: ``client_kwargs`` entries that configure OAuth 1 signing instead of httpx.
OAUTH1_CLIENT_KWARGS: tuple[str, ...] = ("signature_method", "signature_type", "realm", "rsa_key")

_EXTRA_CLIENT_KWARGS = frozenset({"async_transport", "async_event_hooks"})

_HTTPX_CLIENT_KWARGS = (
    frozenset(
        (
            set(inspect.signature(httpx.Client.__init__).parameters)
            | set(inspect.signature(httpx.AsyncClient.__init__).parameters)
        )
        - {"self", "auth", "base_url"}
    )
    | _EXTRA_CLIENT_KWARGS
)

log = logging.getLogger("flask_oauth1_async")

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class TemporaryCredentialCache(Protocol):
    """What ``OAuth(cache=...)`` needs: ``get``, ``set`` and ``delete``.

    Each method may be a plain function or an ``async def``. ``set`` is called
    as ``set(key, value, expires)`` with the expiry in seconds as the third
    *positional* argument, so cachelib caches and Flask-Caching's ``Cache``
    (whose parameter is named ``timeout``) both fit. Values are JSON strings.
    """

    def get(self, key: str) -> Any:
        """Return the stored string (or bytes), or None."""

    def set(self, key: str, value: str, expires: int) -> Any:
        """Store *value* under *key* for *expires* seconds."""

    def delete(self, key: str) -> Any:
        """Remove *key* (no error if absent)."""


def resolve_settings(
    name: str, registered: Mapping[str, Any], overwrite: bool, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge :meth:`OAuth.register` keywords with ``{NAME}_*`` config keys (see module docs)."""
    settings = dict(registered)
    prefix = name.upper() + "_"
    for key in CONFIG_KEYS:
        value = config.get(prefix + key.upper())
        if key not in settings or settings[key] is None:
            if value is not None:
                settings[key] = dict(value) if key in _DICT_KEYS and isinstance(value, Mapping) else value
        elif overwrite and value:
            if key in _DICT_KEYS and isinstance(value, Mapping) and isinstance(settings[key], Mapping):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
    return settings


def _dict_setting(settings: Mapping[str, Any], key: str, name: str) -> dict[str, Any]:
    value = settings.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} of remote app {name!r} must be a dict, not {type(value).__name__}")
    return dict(value)


class _RefuseResponseCookies(DefaultCookiePolicy):
    """Cookie policy of the shared clients: never store a cookie from a response."""

    def set_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False


def _as_async_hook(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if iscoroutinefunction(hook):
        return hook

    async def run(obj: Any) -> Any:
        return hook(obj)

    return run


class RemoteState:
    """The resolved settings, signer and HTTP clients of one remote app in one Flask app.

    Internal: :class:`RemoteApp` creates these on demand. Holds secrets, so
    its :func:`repr` shows only the name.
    """

    def __init__(self, app: Flask, app_state: _AppState, remote: RemoteApp, settings: Mapping[str, Any]) -> None:
        name = remote.name
        self.name = name
        self._app_ref = weakref.ref(app)
        self._app_state = app_state
        client_id = settings.get("client_id")
        if not client_id:
            raise ConfigurationError(
                f"remote app {name!r} has no client_id: pass client_id= to register() "
                f"or set {name.upper()}_CLIENT_ID in the app config"
            )
        self.request_token_url: str | None = settings.get("request_token_url")
        self.access_token_url: str | None = settings.get("access_token_url")
        self.authorize_url: str | None = settings.get("authorize_url")
        self.api_base_url: str | None = settings.get("api_base_url")
        self.request_token_params = _dict_setting(settings, "request_token_params", name)
        self.access_token_params = _dict_setting(settings, "access_token_params", name)
        self.authorize_params = _dict_setting(settings, "authorize_params", name)
        self.access_token_headers = _dict_setting(settings, "access_token_headers", name)
        self.require_callback_confirmed = bool(settings.get("require_callback_confirmed", True))
        ttl = settings.get("request_token_ttl", 600)
        if not isinstance(ttl, int) or ttl <= 0:
            raise ConfigurationError(f"request_token_ttl of remote app {name!r} must be a positive int (seconds)")
        self.request_token_ttl: int = ttl
        self.request_token_method = str(settings.get("request_token_method") or "POST").upper()
        self.access_token_method = str(settings.get("access_token_method") or "POST").upper()
        self._fetch_token: Callable[[], Any] | None = settings.get("fetch_token")

        client_kwargs = _dict_setting(settings, "client_kwargs", name)
        oauth_opts = {k: client_kwargs.pop(k) for k in OAUTH1_CLIENT_KWARGS if k in client_kwargs}
        unknown = sorted(set(client_kwargs) - _HTTPX_CLIENT_KWARGS)
        if unknown:
            hint = " (use api_base_url instead)" if "base_url" in unknown else ""
            raise ConfigurationError(
                f"client_kwargs of remote app {name!r} has unknown keys {unknown}{hint}; allowed are the "
                f"httpx client options and {', '.join(OAUTH1_CLIENT_KWARGS)}"
            )
        self.signer = Signer(
            str(client_id),
            settings.get("client_secret"),
            signature_method=str(oauth_opts.get("signature_method") or "HMAC-SHA1"),
            signature_type=str(oauth_opts.get("signature_type") or "header"),
            realm=oauth_opts.get("realm"),
            rsa_key=oauth_opts.get("rsa_key"),
        )
        self._httpx_kwargs = client_kwargs
        self._verify = self._resolve_verify(client_kwargs.pop("verify", True))
        self._lock = threading.Lock()
        self._sync: httpx.Client | None = None
        self._sync_pid = 0
        self._async: httpx.AsyncClient | None = None
        self._async_pid = 0
        self._fernet: Fernet | None = None
        self._in_flight = 0
        self._retired = False
        track_for_exit(self)

    def __repr__(self) -> str:
        return f"<RemoteState {self.name!r}>"

    @staticmethod
    def _resolve_verify(verify: object) -> ssl.SSLContext | bool:
        if verify is True:
            return default_ssl_context()
        if verify is False or isinstance(verify, ssl.SSLContext):
            return verify
        if isinstance(verify, (str, os.PathLike)):
            path = os.fspath(verify)
            if os.path.isdir(path):
                return ssl.create_default_context(capath=path)
            return ssl.create_default_context(cafile=path)
        raise ConfigurationError("client_kwargs['verify'] must be True, False, an ssl.SSLContext or a CA bundle path")

    # -- collaborators -------------------------------------------------------

    @property
    def cache(self) -> TemporaryCredentialCache | None:
        """The temporary-credential cache of the app, if any."""
        return self._app_state.cache

    def token_fetcher(self) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
        """Return the callable that finds the current user's token, and its arguments."""
        if self._fetch_token is not None:
            return self._fetch_token, ()
        fetch = self._app_state.fetch_token
        if fetch is not None:
            return fetch, (self.name,)
        return None, ()

    def _get_fernet(self) -> Fernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet

            app = self._app_ref()
            secret = app.secret_key if app is not None else None
            if not secret:
                raise ConfigurationError(
                    "the Flask app has no SECRET_KEY; sessions (and so the OAuth 1 login) need one"
                )
            raw = secret.encode() if isinstance(secret, str) else bytes(secret)
            key = hashlib.sha256(b"flask_oauth1_async temporary credentials\x00" + raw).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(key))
        return self._fernet

    def encrypt(self, secret: str) -> str:
        """Encrypt a request-token secret for the session cookie (key derived from SECRET_KEY)."""
        return self._get_fernet().encrypt(secret.encode()).decode()

    def decrypt(self, blob: str) -> str | None:
        """Decrypt what :meth:`encrypt` made; None if it is not ours (or the key changed)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._get_fernet().decrypt(blob.encode(), ttl=self.request_token_ttl + 60).decode()
        except (InvalidToken, ValueError):
            return None

    # -- HTTP clients --------------------------------------------------------

    def _client_kwargs(self, kind: str) -> dict[str, Any]:
        kwargs = dict(self._httpx_kwargs)
        # One client serves every user, so it must never keep cookies that a
        # response sets: they would be sent with the next user's calls.
        # Cookies given in client_kwargs are still sent.
        jar = CookieJar(policy=_RefuseResponseCookies())
        for cookie in httpx.Cookies(kwargs.pop("cookies", None)).jar:
            jar.set_cookie(cookie)
        kwargs["cookies"] = jar
        hooks = kwargs.pop("event_hooks", None) or {}
        async_hooks = kwargs.pop("async_event_hooks", None)
        if kind == "sync":
            if any(iscoroutinefunction(h) for hs in hooks.values() for h in hs):
                raise ConfigurationError(
                    f"client_kwargs['event_hooks'] of {self.name!r} has async hooks, which blocking calls cannot "
                    "run; put them in client_kwargs['async_event_hooks'] (used for awaited calls)"
                )
            if hooks:
                kwargs["event_hooks"] = hooks
        elif async_hooks is not None:
            kwargs["event_hooks"] = {event: [_as_async_hook(h) for h in hs] for event, hs in async_hooks.items()}
        elif hooks:
            kwargs["event_hooks"] = {event: [_as_async_hook(h) for h in hs] for event, hs in hooks.items()}
        sync_transport = kwargs.pop("transport", None)
        async_transport = kwargs.pop("async_transport", None)
        if kind == "sync":
            if sync_transport is not None:
                if not isinstance(sync_transport, httpx.BaseTransport):
                    raise ConfigurationError(
                        f"client_kwargs['transport'] of {self.name!r} is not a sync httpx transport; "
                        "blocking calls need one (async ones go in client_kwargs['async_transport'])"
                    )
                kwargs["transport"] = sync_transport
        else:
            transport = async_transport if async_transport is not None else sync_transport
            if transport is not None:
                if not isinstance(transport, httpx.AsyncBaseTransport):
                    raise ConfigurationError(
                        f"client_kwargs['transport'] of {self.name!r} is not an async httpx transport; "
                        "pass one as client_kwargs['async_transport'] for awaited calls"
                    )
                kwargs["transport"] = transport
        kwargs["verify"] = self._verify
        return kwargs

    def sync_client(self) -> httpx.Client:
        """The pooled, thread-safe :class:`httpx.Client` (recreated after a fork)."""
        client = self._sync
        if client is not None and self._sync_pid == os.getpid():
            return client
        with self._lock:
            if self._sync is None or self._sync_pid != os.getpid():
                self._sync = httpx.Client(**self._client_kwargs("sync"))
                self._sync_pid = os.getpid()
            return self._sync

    def async_client(self) -> httpx.AsyncClient:
        """The pooled :class:`httpx.AsyncClient`; it is only ever used on the background loop."""
        client = self._async
        if client is not None and self._async_pid == os.getpid():
            return client
        with self._lock:
            if self._async is None or self._async_pid != os.getpid():
                self._async = httpx.AsyncClient(**self._client_kwargs("async"))
                self._async_pid = os.getpid()
            return self._async

    def run_sync(self, flow: _flow.Flow[Any]) -> Any:
        """Drive *flow* with the sync client."""
        self._enter()
        try:
            return _flow.run_sync(flow, self.sync_client())
        finally:
            self._leave()

    async def run_async(self, flow: _flow.Flow[Any]) -> Any:
        """Drive *flow* with the async client on the background loop."""
        self._enter()
        try:
            return await _flow.run_async(flow, self.async_client(), loop_thread.run)
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            done = self._retired and self._in_flight == 0
        if done:
            self._close_soon()

    def retire(self) -> None:
        """Close the clients once the calls still using them have finished.

        Used when a remote is registered again: requests in flight keep their
        connections, new ones get a new :class:`RemoteState`.
        """
        with self._lock:
            self._retired = True
            idle = self._in_flight == 0
        if idle:
            self._close_soon()

    def _detach(self) -> httpx.AsyncClient | None:
        """Forget both clients, close the sync one, and return the async one to close.

        Clients inherited from a parent process are dropped without closing
        (their sockets belong to the parent).
        """
        with self._lock:
            sync, self._sync = self._sync, None
            aclient, self._async = self._async, None
        if sync is not None and self._sync_pid == os.getpid():
            sync.close()
        if aclient is not None and self._async_pid == os.getpid() and loop_thread.running:
            return aclient
        return None

    def _close_soon(self) -> None:
        aclient = self._detach()
        if aclient is not None:
            loop_thread.submit(aclient.aclose())  # fire and forget: never block a caller's loop

    def close(self) -> None:
        """Close both clients (blocking). Safe to call more than once."""
        aclient = self._detach()
        if aclient is not None:
            loop_thread.submit(aclient.aclose()).result(timeout=10)

    async def aclose(self) -> None:
        """Close both clients without blocking the running event loop."""
        aclient = self._detach()
        if aclient is not None:
            await loop_thread.run(aclient.aclose())

    def close_for_exit(self) -> None:
        """Called at interpreter exit."""
        self.close()

    def after_fork_in_child(self) -> None:
        """Give the child process fresh locks (a fork may happen while one is held)."""
        self._lock = threading.Lock()
        self._in_flight = 0


class _AppState:
    """What ``init_app`` stores in ``app.extensions['flask_oauth1_async']``."""

    def __init__(
        self, registry: OAuth, cache: TemporaryCredentialCache | None, fetch_token: Callable[[str], Any] | None
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.fetch_token = fetch_token
        self.remotes: dict[str, tuple[int, RemoteState]] = {}
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<flask_oauth1_async state: {sorted(self.remotes)}>"

    def close_for_exit(self) -> None:
        """Nothing to close: the remotes' states close their own clients."""

    def after_fork_in_child(self) -> None:
        """Give the child process a fresh lock (a fork may happen while it is held)."""
        self.lock = threading.Lock()


def _render_authorization_error(exc: AuthorizationError) -> Any:
    """Default answer for an uncaught callback error: 400 (403 when denied), no traceback.

    Registered by :meth:`OAuth.init_app` for :class:`AuthorizationError`. A
    handler the app registered for a broader class (``OAuthError``,
    ``Exception``...) is used instead; one for ``AuthorizationError`` or a
    subclass replaces this function altogether (Flask picks the most specific).
    """
    app = current_app
    handlers = app.error_handler_spec.get(None, {}).get(None, {})
    mro = type(exc).__mro__
    for cls in mro[mro.index(AuthorizationError) + 1 :]:
        handler = handlers.get(cls)
        if handler is not None:
            return app.ensure_sync(handler)(exc)
    status = 403 if isinstance(exc, AccessDeniedError) else 400
    log.info("OAuth 1 callback rejected (%s): %s", exc.error, exc.description)
    body = f"Sign-in failed: {exc.description}\n"
    return WerkzeugResponse(body, status=status, mimetype="text/plain")


class OAuth:
    """The registry of OAuth 1.0a remote apps, as a Flask extension.

    ``OAuth(app)`` or ``OAuth()`` plus :meth:`init_app` (application
    factories). *cache* stores temporary credentials outside the session
    cookie (see :class:`TemporaryCredentialCache`); *fetch_token* is called as
    ``fetch_token(name)`` inside a request to find the current user's token
    and may be a plain function or an ``async def``. Both can also be given
    (or overridden) per app in :meth:`init_app`.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        cache: TemporaryCredentialCache | None = None,
        fetch_token: Callable[[str], Any] | None = None,
    ) -> None:
        self.cache = cache
        self.fetch_token = fetch_token
        self._definitions: dict[str, tuple[bool, dict[str, Any]]] = {}
        self._remotes: dict[str, RemoteApp] = {}
        self._generations: dict[str, int] = {}
        self._app_states: weakref.WeakSet[_AppState] = weakref.WeakSet()
        self._app: Flask | None = None
        if app is not None:
            self._app = app
            self.init_app(app)

    def __repr__(self) -> str:
        return f"<OAuth remotes={sorted(self._remotes)}>"

    def init_app(
        self,
        app: Flask,
        cache: TemporaryCredentialCache | None = None,
        fetch_token: Callable[[str], Any] | None = None,
    ) -> None:
        """Attach the registry to *app* (registers ``app.extensions['flask_oauth1_async']``)."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "A flask_oauth1_async OAuth registry is already registered on this app. "
                "Call init_app() once per app, and use one registry per app with several remotes."
            )
        state = _AppState(self, cache if cache is not None else self.cache, fetch_token or self.fetch_token)
        app.extensions[EXTENSION_KEY] = state
        self._app_states.add(state)
        track_for_exit(state)
        app.register_error_handler(AuthorizationError, _render_authorization_error)
        default_ssl_context()  # load the CA bundle now, not inside the first request

    def register(self, name: str, overwrite: bool = False, **kwargs: Any) -> RemoteApp:
        """Register a remote app called *name* and return it.

        Keywords are the ten settings of the module docs (``client_id``...
        ``client_kwargs``) plus ``fetch_token`` (a no-argument callable,
        sync or async), ``require_callback_confirmed`` (default True),
        ``request_token_ttl`` (seconds a login may take, default 600),
        ``request_token_method`` / ``access_token_method`` (default
        ``"POST"``) and ``access_token_headers``. Registering a name again
        replaces its settings (and drops its HTTP clients).
        """
        if not name or not set(name) <= _NAME_CHARS or name[0].isdigit():
            raise ValueError(f"remote app name {name!r} must be a Python identifier (letters, digits, _)")
        if name.startswith("_") or hasattr(type(self), name):
            raise ValueError(f"remote app name {name!r} is reserved; choose another")
        unknown = sorted(set(kwargs) - set(CONFIG_KEYS) - set(EXTRA_KEYS))
        if unknown:
            raise TypeError(
                f"register() got unknown settings {unknown}; known are {', '.join(CONFIG_KEYS + EXTRA_KEYS)}"
            )
        self._definitions[name] = (overwrite, dict(kwargs))
        self._generations[name] = self._generations.get(name, 0) + 1
        remote = self._remotes.get(name)
        if remote is None:
            remote = RemoteApp(self, name)
            self._remotes[name] = remote
        return remote

    def create_client(self, name: str) -> RemoteApp:
        """Return the remote app registered as *name* (AttributeError if there is none)."""
        remote = self._remotes.get(name)
        if remote is None:
            known = ", ".join(sorted(self._remotes)) or "none yet"
            raise AttributeError(
                f"no OAuth 1 remote app named {name!r} is registered (registered: {known}); "
                f"call oauth.register({name!r}, ...) first"
            )
        return remote

    def __getattr__(self, name: str) -> RemoteApp:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.create_client(name)

    # -- state lookup ------------------------------------------------------

    def load_settings(self, app: Flask, name: str, registered: Mapping[str, Any], overwrite: bool) -> dict[str, Any]:
        """Return the effective settings of remote *name* in *app*.

        Called once per app and remote, on first use. The default merges the
        :meth:`register` keywords with the ``{NAME}_*`` config keys (see the
        module docs); subclasses (such as the Flask-OAuthlib compatibility
        layer) override it to read other config layouts.
        """
        return resolve_settings(name, registered, overwrite, app.config)

    def _current_app(self) -> Flask:
        if has_app_context():
            return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        if self._app is not None:
            return self._app
        raise RuntimeError(
            "Working outside of an application context: flask_oauth1_async reads the remote's "
            "settings from the current app. Call this inside a view, or inside 'with app.app_context():'."
        )

    def _state(self, remote: RemoteApp) -> RemoteState:
        app = self._current_app()
        app_state = app.extensions.get(EXTENSION_KEY)
        if not isinstance(app_state, _AppState) or app_state.registry is not self:
            raise RuntimeError(
                "This OAuth registry is not initialised on the current app. Call 'oauth.init_app(app)' "
                "(or create it as 'OAuth(app)') before using its remote apps."
            )
        name = remote.name
        generation = self._generations[name]
        entry = app_state.remotes.get(name)
        if entry is not None and entry[0] == generation:
            return entry[1]
        with app_state.lock:
            entry = app_state.remotes.get(name)
            if entry is not None and entry[0] == generation:
                return entry[1]
            overwrite, registered = self._definitions[name]
            state = RemoteState(app, app_state, remote, self.load_settings(app, name, registered, overwrite))
            app_state.remotes[name] = (generation, state)
        if entry is not None:
            entry[1].retire()
        return state

    def close(self) -> None:
        """Close every HTTP client of every app this registry serves (blocking)."""
        for app_state in list(self._app_states):
            for _, state in list(app_state.remotes.values()):
                state.close()

    async def aclose(self) -> None:
        """Close every HTTP client without blocking the running event loop."""
        for app_state in list(self._app_states):
            for _, state in list(app_state.remotes.values()):
                await state.aclose()


_Kw = Any


class RemoteApp:
    """One OAuth 1.0a provider, as registered with :meth:`OAuth.register`.

    Every call exists in three forms:

    * ``name()`` - *dual*: inside a running event loop (an ``async def``
      view) it returns an awaitable; anywhere else it blocks and returns the
      result;
    * ``name_sync()`` - always blocks and returns the result;
    * ``name_async()`` - always a coroutine.

    The object is shared by all apps of the registry; the settings and HTTP
    clients used are those of the current Flask app.
    """

    __slots__ = ("_registry", "name")

    def __init__(self, registry: OAuth, name: str) -> None:
        self._registry = registry
        #: The registered name, e.g. ``"twitter"``.
        self.name = name

    def __repr__(self) -> str:
        return f"<RemoteApp {self.name!r}>"

    def _state(self) -> RemoteState:
        return self._registry._state(self)

    @property
    def token(self) -> OAuth1Token | None:
        """This request's token for this remote, if one is known yet.

        Set by :meth:`authorize_access_token` or by an assignment, and found
        by a first signed call through ``fetch_token``. It lives on
        :data:`flask.g`, so it never outlives the request or leaks to another
        user (as in Authlib, where the same property exists).
        """
        return _flow.current_token(self.name)

    @token.setter
    def token(self, value: TokenLike | None) -> None:
        _flow.set_current_token(self.name, value)

    def _label(self, method: str) -> str:
        return f"oauth.{self.name}.{method}"

    # -- authorize_redirect --------------------------------------------------

    def authorize_redirect_sync(self, redirect_uri: str | None = None, **kwargs: _Kw) -> WerkzeugResponse:
        """Fetch a request token and return a redirect to the provider's authorize page.

        *redirect_uri* is the callback URL (absolute, or relative to the
        current request); without it ``oob`` is sent. Extra keywords are added
        to the authorize URL's query and win over ``authorize_params``.
        """
        state = self._state()
        return cast(WerkzeugResponse, state.run_sync(_flow.authorize_redirect_flow(state, redirect_uri, kwargs)))

    async def authorize_redirect_async(self, redirect_uri: str | None = None, **kwargs: _Kw) -> WerkzeugResponse:
        """Awaitable form of :meth:`authorize_redirect_sync`."""
        state = self._state()
        return cast(WerkzeugResponse, await state.run_async(_flow.authorize_redirect_flow(state, redirect_uri, kwargs)))

    def authorize_redirect(self, redirect_uri: str | None = None, **kwargs: _Kw) -> DualRedirect:
        """Dual form of :meth:`authorize_redirect_sync` (await it in async views)."""
        return cast(
            DualRedirect,
            dual(
                self._label("authorize_redirect"),
                "authorize_redirect_sync",
                lambda: self.authorize_redirect_sync(redirect_uri, **kwargs),
                lambda: self.authorize_redirect_async(redirect_uri, **kwargs),
            ),
        )

    # -- authorize_access_token ----------------------------------------------

    def authorize_access_token_sync(self, **kwargs: _Kw) -> OAuth1Token:
        """Handle the callback: check it, consume the request token, fetch the access token.

        Returns the token (with the provider's extra fields, such as
        ``screen_name``) and makes it this request's token for later calls.
        Extra keywords are sent to the access-token endpoint, over
        ``access_token_params``. Raises an :class:`~.errors.AuthorizationError`
        for a bad callback (denied, unknown/expired/replayed token, no
        verifier) and a :class:`~.errors.ProviderError` for a bad answer.
        """
        state = self._state()
        return cast(OAuth1Token, state.run_sync(_flow.authorize_access_token_flow(state, kwargs)))

    async def authorize_access_token_async(self, **kwargs: _Kw) -> OAuth1Token:
        """Awaitable form of :meth:`authorize_access_token_sync`."""
        state = self._state()
        return cast(OAuth1Token, await state.run_async(_flow.authorize_access_token_flow(state, kwargs)))

    def authorize_access_token(self, **kwargs: _Kw) -> DualToken:
        """Dual form of :meth:`authorize_access_token_sync` (await it in async views)."""
        return cast(
            DualToken,
            dual(
                self._label("authorize_access_token"),
                "authorize_access_token_sync",
                lambda: self.authorize_access_token_sync(**kwargs),
                lambda: self.authorize_access_token_async(**kwargs),
            ),
        )

    # -- request ---------------------------------------------------------------

    def request_sync(
        self, method: str, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Send a signed request and return the :class:`httpx.Response`.

        A relative *url* is joined to ``api_base_url``. The token is *token*
        if given, else this request's token (``fetch_token`` is called at most
        once per request and remote). ``withhold_token=True`` sends the
        request unsigned. Other keywords go to httpx (``params``, ``data``,
        ``json``, ``content``, ``files``, ``headers``, ``cookies``,
        ``timeout``, ``extensions``, ``follow_redirects``). Network failures
        raise :class:`~.errors.TransportError`; HTTP errors do not raise
        (use ``raise_for_status()``).
        """
        state = self._state()
        flow = _flow.resource_flow(state, method, url, token, withhold_token, kwargs)
        return cast(httpx.Response, state.run_sync(flow))

    async def request_async(
        self, method: str, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable form of :meth:`request_sync`."""
        state = self._state()
        flow = _flow.resource_flow(state, method, url, token, withhold_token, kwargs)
        return cast(httpx.Response, await state.run_async(flow))

    def request(
        self, method: str, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual form of :meth:`request_sync` (await it in async views)."""
        return cast(
            DualResponse,
            dual(
                self._label("request"),
                "request_sync",
                lambda: self.request_sync(method, url, token, withhold_token, **kwargs),
                lambda: self.request_async(method, url, token, withhold_token, **kwargs),
            ),
        )

    def _verb(
        self, method: str, url: str, token: TokenLike | None, withhold_token: bool, kwargs: dict[str, Any]
    ) -> Any:
        label = method.lower()
        return dual(
            self._label(label),
            f"{label}_sync",
            lambda: self.request_sync(method, url, token, withhold_token, **kwargs),
            lambda: self.request_async(method, url, token, withhold_token, **kwargs),
        )

    def get(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed GET; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("GET", url, token, withhold_token, kwargs))

    def post(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed POST; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("POST", url, token, withhold_token, kwargs))

    def put(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed PUT; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("PUT", url, token, withhold_token, kwargs))

    def patch(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed PATCH; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("PATCH", url, token, withhold_token, kwargs))

    def delete(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed DELETE; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("DELETE", url, token, withhold_token, kwargs))

    def get_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed GET; see :meth:`request_sync`."""
        return self.request_sync("GET", url, token, withhold_token, **kwargs)

    def post_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed POST; see :meth:`request_sync`."""
        return self.request_sync("POST", url, token, withhold_token, **kwargs)

    def put_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed PUT; see :meth:`request_sync`."""
        return self.request_sync("PUT", url, token, withhold_token, **kwargs)

    def patch_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed PATCH; see :meth:`request_sync`."""
        return self.request_sync("PATCH", url, token, withhold_token, **kwargs)

    def delete_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed DELETE; see :meth:`request_sync`."""
        return self.request_sync("DELETE", url, token, withhold_token, **kwargs)

    async def get_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed GET; see :meth:`request_sync`."""
        return await self.request_async("GET", url, token, withhold_token, **kwargs)

    async def post_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed POST; see :meth:`request_sync`."""
        return await self.request_async("POST", url, token, withhold_token, **kwargs)

    async def put_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed PUT; see :meth:`request_sync`."""
        return await self.request_async("PUT", url, token, withhold_token, **kwargs)

    async def patch_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed PATCH; see :meth:`request_sync`."""
        return await self.request_async("PATCH", url, token, withhold_token, **kwargs)

    async def delete_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed DELETE; see :meth:`request_sync`."""
        return await self.request_async("DELETE", url, token, withhold_token, **kwargs)


__all__ += ["PendingCall"]
