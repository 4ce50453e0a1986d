"""The pooled HTTP clients of one remote app, built from its ``client_kwargs``.

:class:`ClientPool` holds a remote's :class:`httpx.Client` (shared by all
threads) and one :class:`httpx.AsyncClient` per loop home (:mod:`._loops`:
the background loop, the runner's loops, an adopted long-lived loop). They
are built lazily from the httpx part of ``client_kwargs``, checked here
(:data:`HTTP_CLIENT_OPTIONS`), never keep a cookie that a response sets (one
client serves every user), use the process-wide TLS context (:mod:`._tls`),
and are rebuilt when closed underneath us or in a new process; an async
client goes with its home. Awaited calls send through the backend
``client_kwargs`` names (:mod:`._backends`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import urllib.request
import weakref
from collections.abc import Callable, Coroutine, Mapping
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Any

from asgiref.sync import iscoroutinefunction

from . import _backends
from ._http import httpx
from ._loops import LoopHome, submit
from ._process import PerProcess, close_at_exit
from ._tls import is_shared, resolve_verify
from .errors import ConfigurationError

__all__ = ["HTTP_CLIENT_OPTIONS", "ClientPool", "check_client_options"]

#: Seconds a blocking close waits for the async client to close on its loop.
CLOSE_TIMEOUT = 10.0

_EXTRA_CLIENT_OPTIONS = frozenset({"async_transport", "async_event_hooks"})

#: The ``client_kwargs`` keys passed on to httpx (its client options, plus
#: ``async_transport`` and ``async_event_hooks`` for the awaited client only;
#: ``async_transport`` may also name a backend of :data:`._backends.ASYNC_BACKENDS`).
HTTP_CLIENT_OPTIONS: frozenset[str] = (
    frozenset(
        (
            set(inspect.signature(httpx.Client.__init__).parameters)
            | set(inspect.signature(httpx.AsyncClient.__init__).parameters)
        )
        - {"self", "auth", "base_url"}
    )
    | _EXTRA_CLIENT_OPTIONS
)


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


class _Clients:
    """One process's clients of a :class:`ClientPool`."""

    __slots__ = ("by_home", "in_flight", "lock", "sync")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sync: httpx.Client | None = None
        # One async client per loop home; a home that goes away takes its entry with it.
        self.by_home: weakref.WeakKeyDictionary[LoopHome, httpx.AsyncClient] = weakref.WeakKeyDictionary()
        self.in_flight = 0


def check_client_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse ``client_kwargs`` keys that are neither httpx client options nor OAuth 1 options."""
    unknown = sorted(set(options) - HTTP_CLIENT_OPTIONS)
    if unknown:
        hint = " (use api_base_url instead)" if "base_url" in unknown else ""
        raise ConfigurationError(
            f"client_kwargs of remote app {name!r} has unknown keys {unknown}{hint}; allowed are the "
            "httpx client options and the OAuth 1 options of docs/configuration.rst (signature_method, ...)"
        )


class ClientPool:
    """The pooled HTTP clients of one remote app in one Flask app (see the module docstring)."""

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        check_client_options(name, options)
        self._options = {k: v for k, v in options.items() if k != "verify"}
        self._verify = resolve_verify(options.get("verify", True))
        self._clients: PerProcess[_Clients] = PerProcess(_Clients)
        self._retired = False
        close_at_exit(self)

    def __repr__(self) -> str:
        return f"<ClientPool {self.name!r}>"

    def _client_kwargs(self, kind: str) -> dict[str, Any]:
        kwargs = dict(self._options)
        # Cookies given in client_kwargs are still sent; response cookies are refused.
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
        verify = self._verify
        if kwargs.get("cert") and is_shared(verify):
            # httpx loads a client certificate into the context it is given: never into the shared one.
            verify = httpx.create_ssl_context()
        if kind == "sync":
            if sync_transport is not None:
                if not isinstance(sync_transport, httpx.BaseTransport):
                    raise ConfigurationError(
                        f"client_kwargs['transport'] of {self.name!r} is not a sync httpx transport; "
                        "blocking calls need one (async ones go in client_kwargs['async_transport'])"
                    )
                kwargs["transport"] = sync_transport
        else:
            if async_transport is None and sync_transport is None:
                async_transport = _backends.default_async_transport
            if isinstance(async_transport, str):
                async_transport = _backends.async_transport(async_transport, self.name, kwargs, verify)
            transport = async_transport if async_transport is not None else sync_transport
            if transport is not None:
                if not isinstance(transport, httpx.AsyncBaseTransport):
                    raise ConfigurationError(
                        f"client_kwargs['transport'] of {self.name!r} is not an async httpx transport; "
                        "pass one as client_kwargs['async_transport'] for awaited calls"
                    )
                kwargs["transport"] = transport
        kwargs["verify"] = verify
        return kwargs

    def sync_client(self) -> httpx.Client:
        """The pooled, thread-safe :class:`httpx.Client` of this process."""
        clients = self._clients.get()
        client = clients.sync
        if client is not None and not client.is_closed:
            return client
        with clients.lock:
            client = clients.sync
            if client is None or client.is_closed:
                client = httpx.Client(**self._client_kwargs("sync"))
                clients.sync = client
            return client

    def async_client(self, home: LoopHome) -> httpx.AsyncClient:
        """The pooled :class:`httpx.AsyncClient` that lives on *home* (used only on its loop)."""
        clients = self._clients.get()
        client = clients.by_home.get(home)
        if client is not None and not client.is_closed:
            return client
        with clients.lock:
            client = clients.by_home.get(home)
            if client is None or client.is_closed:
                client = httpx.AsyncClient(**self._client_kwargs("async"))
                clients.by_home[home] = client
                home.adopt(client)
            return client

    def enter(self) -> None:
        """Count a call in flight (see :meth:`retire`)."""
        clients = self._clients.get()
        with clients.lock:
            clients.in_flight += 1

    def leave(self) -> None:
        """A call has finished; close the clients if the pool was retired and is now idle."""
        clients = self._clients.get()
        with clients.lock:
            clients.in_flight -= 1
            done = self._retired and clients.in_flight == 0
        if done:
            self._close_soon()

    def retire(self) -> None:
        """Close the clients once the calls still using them have finished.

        Used when a remote is registered again: requests in flight keep their
        connections, new ones get a new pool.
        """
        self._retired = True
        clients = self._clients.get()
        with clients.lock:
            idle = clients.in_flight == 0
        if idle:
            self._close_soon()

    def _detach(self) -> list[tuple[LoopHome, httpx.AsyncClient]]:
        """Forget this process's clients, close the sync one, and return the async ones to close.

        An async client whose loop has closed is dropped without closing
        (its sockets went with the loop).
        """
        clients = self._clients.peek()
        if clients is None:
            return []  # nothing was made in this process (a parent's clients are not ours)
        with clients.lock:
            sync, clients.sync = clients.sync, None
            live = [(home, client) for home, client in clients.by_home.items() if not home.loop.is_closed()]
            clients.by_home.clear()
        if sync is not None:
            sync.close()
        return live

    def _close_soon(self) -> None:
        for home, client in self._detach():
            home.schedule(client.aclose())  # fire and forget: never block a caller's loop

    def close(self) -> None:
        """Close every client (blocking, at most :data:`CLOSE_TIMEOUT` seconds per loop). Safe to call again."""
        for home, client in self._detach():
            home.run_blocking(client.aclose(), CLOSE_TIMEOUT)

    async def aclose(self) -> None:
        """Close every client without blocking the running event loop."""
        current = asyncio.get_running_loop()
        for home, client in self._detach():
            if home.loop is current:
                await client.aclose()
            elif home.kind == "forever" and home.loop is not current:
                await _bridge(home, client.aclose())
            else:
                home.schedule(client.aclose())

    def close_for_exit(self) -> None:
        """Called at interpreter exit (bounded)."""
        with contextlib.suppress(Exception):
            self.close()


async def _bridge(home: LoopHome, coro: Coroutine[Any, Any, Any]) -> None:
    """Await *coro* on *home*'s loop, which runs forever in another thread (bounded)."""
    await asyncio.wait_for(asyncio.wrap_future(submit(home.loop, coro)), CLOSE_TIMEOUT)
