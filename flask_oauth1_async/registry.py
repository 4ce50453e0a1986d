"""The Flask extension: :class:`OAuth`, the registry of remote apps.

``OAuth(app)`` or ``OAuth()`` plus :meth:`OAuth.init_app` attach it to an app
(``app.extensions["flask_oauth1_async"]``); :meth:`OAuth.register` defines a
remote app, whose settings are read from the current app the first time it is
used there, so application factories and several apps per registry work. The
settings and their config keys are described in ``docs/configuration.rst``.
"""

from __future__ import annotations

import logging
import math
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app, has_app_context
from werkzeug.wrappers import Response as WerkzeugResponse

from ._binding import EXTENSION_KEY, AppState, RemoteBinding, check_settings
from ._dual import PendingCall
from ._tls import default_ssl_context
from .config import CONFIG_KEYS, RemoteOptions, check_keywords, resolve_settings
from .errors import (
    AccessDeniedError,
    AuthorizationError,
    OAuth1Error,
    RateLimitedError,
    RequestTimeoutError,
    TransportError,
)
from .remote import RemoteApp
from .settings import InsecureSettingWarning, RemoteSettings, check_early, insecure_settings
from .temporary_credentials import TemporaryCredentialCache

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CONFIG_KEYS", "EXTENSION_KEY", "OAuth", "PendingCall", "RemoteApp", "TemporaryCredentialCache"]

log = logging.getLogger("flask_oauth1_async")

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


#: The error classes :meth:`OAuth.init_app` registers :func:`_render_default` for.
DEFAULT_HANDLED: tuple[type[OAuth1Error], ...] = (AuthorizationError, RateLimitedError, TransportError)

_UNREACHABLE = "The service this site relies on could not be reached; please try again shortly.\n"
_TOO_SLOW = "The service this site relies on did not answer in time; please try again shortly.\n"


def _plain(body: str, status: int) -> WerkzeugResponse:
    return WerkzeugResponse(body, status=status, mimetype="text/plain")


def _render_default(exc: OAuth1Error) -> Any:
    """Default answer for an uncaught callback error, rate limit or transport failure, with no traceback.

    Registered by :meth:`OAuth.init_app` for :data:`DEFAULT_HANDLED`:
    :class:`AuthorizationError` (400, or 403 when the user denied),
    :class:`RateLimitedError` (503 with ``Retry-After``) and
    :class:`TransportError` (502, or 504 for a :class:`RequestTimeoutError`).
    The page of a transport failure says nothing of the error; its
    description (secrets masked) goes to the log. A handler the
    app registered for a broader class (``ProviderError``, ``OAuthError``,
    ``Exception``...) is used instead; one for the class itself or a
    subclass replaces this function altogether (Flask picks the most specific).
    """
    app = current_app
    handlers = app.error_handler_spec.get(None, {}).get(None, {})
    mro = type(exc).__mro__
    # Flask called us for the first class of the MRO with a handler: look above it.
    start = next((i for i, cls in enumerate(mro) if handlers.get(cls) is _render_default), 0)
    for cls in mro[start + 1 :]:
        handler = handlers.get(cls)
        if handler is not None and handler is not _render_default:
            return app.ensure_sync(handler)(exc)
    if isinstance(exc, AuthorizationError):
        status = 403 if isinstance(exc, AccessDeniedError) else 400
        log.info("OAuth 1 callback rejected (%s): %s", exc.error, exc.description)
        return _plain(f"Sign-in failed: {exc.description}\n", status)
    if isinstance(exc, RateLimitedError):
        log.info("OAuth 1 provider rate limit (%s): %s", exc.error, exc.description)
        response = _plain("The sign-in service is busy; please try again shortly.\n", 503)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(max(0, math.ceil(exc.retry_after)))
        return response
    log.warning("OAuth 1 provider call failed (%s): %s", exc.error, exc.description)
    return _plain(_TOO_SLOW, 504) if isinstance(exc, RequestTimeoutError) else _plain(_UNREACHABLE, 502)


class _KeywordsOnly(dict[str, Any]):
    """A remote's settings read without an app: a config-key setting no keyword gave raises."""

    def __init__(self, name: str, settings: Mapping[str, Any], no_app: bool) -> None:
        super().__init__(settings)
        self._name, self._no_app = name, no_app

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key)
        if value is None and key in CONFIG_KEYS:
            where = "before init_app()" if self._no_app else "in an app this OAuth registry is not initialised on"
            raise RuntimeError(
                f"{key} of remote app {self._name!r} was not given to register(), and it is read {where}: "
                f"there is no app config to read {self._name.upper()}_{key.upper()} from. Call "
                "oauth.init_app(app) first (or create the registry as OAuth(app)), or read it inside "
                "'with app.app_context():' of an app the registry is initialised on."
            )
        return value if value is not None else default


class OAuth:
    """The registry of OAuth 1.0a remote apps, as a Flask extension.

    ``OAuth(app)`` or ``OAuth()`` plus :meth:`init_app` (application
    factories). *cache* stores temporary credentials outside the session
    cookie (see :class:`TemporaryCredentialCache`); *fetch_token* is called as
    ``fetch_token(name)`` inside a request to find the current user's token
    and may be a plain function or an ``async def``. Both can also be given
    (or overridden) per app in :meth:`init_app`. *update_token* is accepted
    and kept as ``oauth.update_token``, as Authlib's registry does for OAuth 2
    token refreshes; OAuth 1 tokens never refresh, so it is never called.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        cache: TemporaryCredentialCache | None = None,
        fetch_token: Callable[[str], Any] | None = None,
        update_token: Callable[..., Any] | None = None,
    ) -> None:
        self.cache = cache
        self.fetch_token = fetch_token
        #: Authlib's OAuth 2 refresh hook, kept for compatibility and never called (OAuth 1 tokens do not refresh).
        self.update_token = update_token
        self._definitions: dict[str, tuple[bool, dict[str, Any]]] = {}
        self._remotes: dict[str, RemoteApp] = {}
        self._generations: dict[str, int] = {}
        self._app_states: weakref.WeakSet[AppState] = weakref.WeakSet()
        # (remote, kind) of the InsecureSettingWarnings already emitted: once per remote.
        self._warned: set[tuple[str, str]] = set()
        # The first app, read outside an app context; weak: the registry never keeps an app alive.
        self._app: weakref.ref[Flask] | None = None
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"<OAuth remotes={sorted(self._remotes)}>"

    def init_app(
        self,
        app: Flask,
        cache: TemporaryCredentialCache | None = None,
        fetch_token: Callable[[str], Any] | None = None,
        update_token: Callable[..., Any] | None = None,
    ) -> None:
        """Attach the registry to *app* (registers ``app.extensions['flask_oauth1_async']``).

        *update_token* replaces ``oauth.update_token`` when given; it is never
        called (see :class:`OAuth`).
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "A flask_oauth1_async OAuth registry is already registered on this app. "
                "Call init_app() once per app, and use one registry per app with several remotes."
            )
        if cache is not None:
            self.cache = cache
        if fetch_token is not None:
            self.fetch_token = fetch_token
        if update_token is not None:
            self.update_token = update_token
        for name in self._definitions:  # fail here, with the fix, rather than at the first request
            self._check(app, name)
        if self._app is None or self._app() is None:
            # Settings read outside an app context come from this app (one app,
            # the common case; with several, use an app context).
            self._app = weakref.ref(app)
        state = AppState(self, app, self.cache, self.fetch_token)
        app.extensions[EXTENSION_KEY] = state
        self._app_states.add(state)
        for handled in DEFAULT_HANDLED:
            app.register_error_handler(handled, _render_default)
        default_ssl_context()  # load the CA bundle now, not inside the first request

    def register(self, name: str, overwrite: bool = False, **kwargs: Unpack[RemoteOptions]) -> RemoteApp:
        """Register a remote app called *name* and return it.

        The keywords are the settings of
        :class:`~flask_oauth1_async.config.RemoteOptions`, each described in
        ``docs/configuration.rst``; those of
        :data:`~flask_oauth1_async.config.CONFIG_KEYS` may also come from the
        ``{NAME}_*`` config keys (with *overwrite*, the config wins).

        An unknown keyword raises :class:`TypeError`, a value of the wrong
        type :class:`~flask_oauth1_async.ConfigurationError`, here; the
        settings as a whole (keywords and config) are checked for every app
        the registry is initialised on, here and in :meth:`init_app`.
        Registering a name again replaces its settings (and retires its HTTP
        clients).
        """
        if not name or not set(name) <= _NAME_CHARS or name[0].isdigit():
            raise ValueError(f"remote app name {name!r} must be a Python identifier (letters, digits, _)")
        if name.startswith("_") or hasattr(type(self), name):
            raise ValueError(f"remote app name {name!r} is reserved; choose another")
        check_keywords(name, kwargs)
        self._warn_insecure(name, kwargs.get("client_kwargs"), stacklevel=3)
        previous = self._definitions.get(name)
        self._definitions[name] = (overwrite, dict(kwargs))
        try:
            for state in list(self._app_states):
                app = state.app_ref()
                if app is not None:
                    self._check(app, name)
        except BaseException:
            if previous is None:
                del self._definitions[name]
            else:
                self._definitions[name] = previous
            raise
        self._generations[name] = self._generations.get(name, 0) + 1
        remote = self._remotes.get(name)
        if remote is None:
            remote = RemoteApp(self, name)
            self._remotes[name] = remote
        return remote

    def _check(self, app: Flask, name: str) -> None:
        """Check remote *name* as *app*'s config has it now (see :func:`~flask_oauth1_async.settings.check_early`)."""
        overwrite, registered = self._definitions[name]
        merged = self.load_settings(app, name, registered, overwrite)
        settings = check_early(name, merged)
        if settings is not None:
            check_settings(settings)
        self._warn_insecure(name, merged.get("client_kwargs"), stacklevel=4)

    def _warn_insecure(self, name: str, client_kwargs: Any, stacklevel: int) -> None:
        """Emit an :class:`InsecureSettingWarning` for each insecure choice of remote *name*, once per remote."""
        for kind, message in insecure_settings(name, client_kwargs):
            if (name, kind) not in self._warned:
                self._warned.add((name, kind))
                warnings.warn(message, InsecureSettingWarning, stacklevel=stacklevel)

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

    def load_settings(
        self, app: Flask | None, name: str, registered: Mapping[str, Any], overwrite: bool
    ) -> dict[str, Any]:
        """Return the effective settings of remote *name* in *app*.

        Called once per app and remote when the remote is first used there,
        and with ``app=None`` when a setting is read before any app is
        available (then only the :meth:`register` keywords count). The
        default merges the keywords with the ``{NAME}_*`` config keys;
        subclasses (such as the Flask-OAuthlib compatibility layer) override
        it to read other config layouts.
        """
        return resolve_settings(name, registered, overwrite, app.config if app is not None else {})

    def _current_app_or_none(self) -> Flask | None:
        if has_app_context():
            return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        return self._app() if self._app is not None else None

    def _current_app(self) -> Flask:
        app = self._current_app_or_none()
        if app is not None:
            return app
        raise RuntimeError(
            "Working outside of an application context: flask_oauth1_async reads the remote's "
            "settings from the current app. Call this inside a view, or inside 'with app.app_context():'."
        )

    def _app_state(self) -> tuple[Flask, AppState]:
        app = self._current_app()
        app_state = app.extensions.get(EXTENSION_KEY)
        if not isinstance(app_state, AppState) or app_state.registry is not self:
            raise RuntimeError(
                "This OAuth registry is not initialised on the current app. Call 'oauth.init_app(app)' "
                "(or create it as 'OAuth(app)') before using its remote apps."
            )
        return app, app_state

    def _binding(self, name: str) -> RemoteBinding:
        """The binding of remote *name* for the current app, built on first use."""
        app, app_state = self._app_state()
        generation = self._generations[name]
        entry = app_state.remotes.get(name)
        if entry is not None and entry[0] == generation:
            return entry[1]
        with app_state.lock:
            entry = app_state.remotes.get(name)
            if entry is not None and entry[0] == generation:
                return entry[1]
            overwrite, registered = self._definitions[name]
            settings = RemoteSettings.from_mapping(name, self.load_settings(app, name, registered, overwrite))
            self._warn_insecure(name, {**settings.http_options, **settings.signing}, stacklevel=4)
            binding = RemoteBinding(app, app_state, settings)
            app_state.remotes[name] = (generation, binding)
        if entry is not None:
            entry[1].pool.retire()
        return binding

    def _settings_preview(self, name: str) -> Mapping[str, Any]:
        """The merged settings of *name*: from the current app when there is one, else the keywords.

        Without an app (before :meth:`init_app`, or in the context of an app
        this registry is not on), reading a setting that no keyword gave
        raises :class:`RuntimeError`: it could only come from an app's config.
        """
        overwrite, registered = self._definitions[name]
        app = self._current_app_or_none()
        if app is None or not isinstance(app.extensions.get(EXTENSION_KEY), AppState):
            return _KeywordsOnly(name, self.load_settings(None, name, registered, overwrite), app is None)
        return self.load_settings(app, name, registered, overwrite)

    def close(self) -> None:
        """Close every HTTP client of every app this registry serves (blocking)."""
        for app_state in list(self._app_states):
            for _, binding in list(app_state.remotes.values()):
                binding.pool.close()

    async def aclose(self) -> None:
        """Close every HTTP client without blocking the running event loop."""
        for app_state in list(self._app_states):
            for _, binding in list(app_state.remotes.values()):
                await binding.pool.aclose()
