"""Per-app state: what ``init_app`` keeps for one Flask app, and each remote bound to it.

:class:`AppState` is stored in ``app.extensions["flask_oauth1_async"]``.
:class:`RemoteBinding` is one remote app resolved for one Flask app: its
checked settings, its signer, its HTTP pools and its temporary-credential
store. Both live here, below :mod:`.registry` and :mod:`.remote`, so that
either can use them without importing the other.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from flask import Flask

from . import _drivers
from ._effects import Flow
from ._green import green_kind
from ._loop_thread import loop_thread
from ._loops import home_of_running_loop
from ._pools import ClientPool, check_client_options
from ._process import ProcessLock
from .errors import ConfigurationError
from .settings import RemoteSettings
from .signing import Signer
from .temporary_credentials import (
    CacheStore,
    PendingLogins,
    ReplayGuard,
    Sealer,
    SessionStore,
    TemporaryCredentialCache,
)

__all__ = ["EXTENSION_KEY", "AppState", "BindingSource", "RemoteBinding", "check_settings"]

#: The key of this extension's state in ``app.extensions``.
EXTENSION_KEY = "flask_oauth1_async"


class AppState:
    """What ``init_app`` stores in ``app.extensions['flask_oauth1_async']``."""

    def __init__(
        self,
        registry: object,
        app: Flask,
        cache: TemporaryCredentialCache | None,
        fetch_token: Callable[[str], Any] | None,
    ) -> None:
        #: The app this state belongs to (a weak reference: the state never keeps it alive).
        self.app_ref = weakref.ref(app)
        #: The :class:`~flask_oauth1_async.OAuth` registry this state belongs to.
        self.registry = registry
        #: The temporary-credential cache, or None for the session store.
        self.cache = cache
        #: The registry-level ``fetch_token(name)``, if any.
        self.fetch_token = fetch_token
        #: Request tokens claimed in this process, for this app only.
        self.replay_guard = ReplayGuard()
        #: Bound remotes by name, with the registration generation they were built from.
        self.remotes: dict[str, tuple[int, RemoteBinding]] = {}
        self.lock = ProcessLock()
        # An app that goes away takes its connections with it (without blocking whoever collects it).
        weakref.finalize(app, _close_soon, self.remotes)

    def __repr__(self) -> str:
        return f"<flask_oauth1_async state: {sorted(self.remotes)}>"


def _close_soon(remotes: dict[str, tuple[int, RemoteBinding]]) -> None:
    for _, binding in list(remotes.values()):
        binding.pool.retire()


def _secret_keys(app_ref: weakref.ref[Flask]) -> Callable[[], list[str | bytes]]:
    def keys() -> list[str | bytes]:
        app = app_ref()
        if app is None:
            return []
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or []
        return [app.secret_key or "", *fallbacks]

    return keys


def check_settings(settings: RemoteSettings) -> None:
    """Check what a binding would refuse, without building one (``init_app()`` and ``register()`` call it).

    The signer checks the signing options (method, key, realm...) and the
    pool the httpx options; nothing is opened.
    """
    Signer(settings.client_id, settings.client_secret, **settings.signing)
    check_client_options(settings.name, settings.http_options)


class RemoteBinding:
    """One remote app resolved for one Flask app.

    Internal: :class:`~flask_oauth1_async.RemoteApp` gets these from the
    registry on demand. Holds secrets, so its :func:`repr` shows only the name.
    """

    def __init__(self, app: Flask, app_state: AppState, settings: RemoteSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.app_state = app_state
        self.app_ref = weakref.ref(app)
        self.signer = Signer(settings.client_id, settings.client_secret, **settings.signing)
        self.pool = ClientPool(settings.name, settings.http_options)
        ttl = settings.request_token_ttl
        self.store: PendingLogins
        if app_state.cache is None:
            self.sealer: Sealer | None = Sealer(_secret_keys(self.app_ref), max_age=ttl + 60)
            self.store = SessionStore(settings.name, ttl, app_state.replay_guard, self.sealer)
        else:
            self.sealer = None
            self.store = CacheStore(settings.name, ttl, app_state.replay_guard, app_state.cache)

    def __repr__(self) -> str:
        return f"<RemoteBinding {self.name!r}>"

    def token_fetcher(self) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
        """The callable that finds the current user's token, and its arguments."""
        if self.settings.fetch_token is not None:
            return self.settings.fetch_token, ()
        fetch = self.app_state.fetch_token
        if fetch is not None:
            return fetch, (self.name,)
        return None, ()

    def run_sync(self, flow: Flow[Any]) -> Any:
        """Drive *flow* with the pooled sync client."""
        app = self.app_ref()
        to_sync = app.async_to_sync if app is not None else async_to_sync
        self.pool.enter()
        try:
            return _drivers.run_sync(flow, self.pool.sync_client(), to_sync)
        finally:
            self.pool.leave()

    async def run_async(self, flow: Flow[Any]) -> Any:
        """Drive *flow* with the pooled async client of the running loop's home.

        On a long-lived loop (the runner's, an ASGI server's...) the client
        lives there and is awaited directly. On a loop of Flask's default
        runner, made for one view call, the client lives on the background
        loop and each send hops there, so that connections outlive the request.
        """
        home = await home_of_running_loop()
        self.pool.enter()
        try:
            if home is not None:
                return await _drivers.run_async(flow, self.pool.async_client(home))
            if green_kind() is not None:
                raise _no_loop_under_green()
            client = self.pool.async_client(loop_thread.home())
            return await _drivers.run_async(flow, client, loop_thread.run)
        finally:
            self.pool.leave()


def _no_loop_under_green() -> ConfigurationError:
    kind = green_kind()
    return ConfigurationError(
        f"an awaited call under {kind} needs a long-lived event loop, and this async view runs on a loop "
        "that Flask made for this one call: turn on the runner (flask_oauth1_async.runner.AsyncRunner(app)), "
        f"or Flask's recipe for async views with {kind}; or call the _sync form of this call "
        "(see docs/deploying.rst)"
    )


class BindingSource(Protocol):
    """What a :class:`~flask_oauth1_async.RemoteApp` asks its registry for."""

    def _binding(self, name: str) -> RemoteBinding:
        """The binding of remote *name* for the current app."""

    def _settings_preview(self, name: str) -> Mapping[str, Any]:
        """The merged settings of remote *name*, from the current app if there is one."""
