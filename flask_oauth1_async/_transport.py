"""HTTP plumbing: the TLS context, the background event loop, the client pools,
and the one place where fork and interpreter exit are handled.

Flask runs every ``async def`` view in a brand-new event loop (asgiref's
``async_to_sync``), and an :class:`httpx.AsyncClient` is bound to the loop it
first ran on. To keep connections alive *across* requests, every
:class:`httpx.AsyncClient` of this package lives on one long-lived loop in a
daemon thread (:class:`LoopThread`). A view awaits the result through
:func:`asyncio.wrap_future`, so its own loop is never blocked, cancelling the
view cancels the remote task, and the loop thread is started lazily, restarted
after :func:`os.fork` or when it has died, and stopped (after closing its
clients) at exit. A loop that dies fails the calls waiting on it with a
:class:`~.errors.TransportError` instead of leaving them hanging.

:class:`ClientPool` holds one remote app's :class:`httpx.Client` and
:class:`httpx.AsyncClient`, built from its ``client_kwargs``; a client that
was closed underneath it, inherited through a fork, or bound to a dead loop
is replaced on next use.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import inspect
import logging
import os
import ssl
import threading
import urllib.request
import weakref
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Any, Protocol, TypeVar

from asgiref.sync import iscoroutinefunction

from ._http import httpx
from .errors import ConfigurationError, TransportError

T = TypeVar("T")

__all__ = [
    "HTTP_CLIENT_OPTIONS",
    "ClientPool",
    "LoopThread",
    "default_ssl_context",
    "loop_thread",
    "track_for_exit",
    "track_for_fork",
]

log = logging.getLogger("flask_oauth1_async")

_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def default_ssl_context() -> ssl.SSLContext:
    """Return the process-wide verifying TLS context, building it once.

    Loading the CA bundle costs tens of milliseconds, so it is done once and
    the context is shared by every client this package creates (an
    :class:`ssl.SSLContext` is safe to share between threads and clients).
    """
    global _ssl_context
    ctx = _ssl_context
    if ctx is None:
        with _ssl_lock:
            ctx = _ssl_context
            if ctx is None:
                ctx = httpx.create_ssl_context()
                _ssl_context = ctx
    return ctx


class LoopThread:
    """One asyncio event loop running forever in a daemon thread.

    The loop heals: if it was stopped or closed, or its thread died, the next
    use starts a new one (:attr:`generation` counts them, so pools know their
    async clients belong to a dead loop). Calls waiting on a loop when it
    stops are failed with :class:`~.errors.TransportError`.
    """

    def __init__(self, name: str = "flask_oauth1_async-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        #: Incremented each time a new loop starts.
        self.generation = 0
        # Callers waiting on a background loop: their future -> (their loop, the background loop).
        self._waiters: dict[asyncio.Future[Any], tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]] = {}
        self._waiters_lock = threading.Lock()
        # A loop whose run_forever() has returned: it is never handed out again.
        self._dying: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<LoopThread generation={self.generation} running={self.running}>"

    def _alive(self) -> bool:
        loop, thread = self._loop, self._thread
        return (
            loop is not None
            and thread is not None
            and self._pid == os.getpid()
            and thread.is_alive()
            and not loop.is_closed()
            and loop is not self._dying
        )

    @property
    def running(self) -> bool:
        """True if the loop thread of this process is alive."""
        return self._alive()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """Return the loop, starting the thread on first use, after a fork, or after it died."""
        if self._alive():
            assert self._loop is not None
            return self._loop
        with self._lock:
            if not self._alive():
                if self._loop is not None and self._pid == os.getpid():
                    log.warning("the background event loop had stopped; starting a new one")
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                self._dying = loop  # from now on get_loop() starts a new loop
                self._fail_waiters(loop)
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                except Exception:  # noqa: S110 - best effort on a loop that is going away
                    pass
                finally:
                    loop.close()
                    self._fail_waiters(loop)  # callers that slipped in while it shut down

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.start()
        ready.wait()
        self._loop = loop
        self._thread = thread
        self._pid = os.getpid()
        self.generation += 1

    def _fail_waiters(self, loop: asyncio.AbstractEventLoop) -> None:
        # The loop stopped: nobody will ever complete what waits on it.
        with self._waiters_lock:
            waiters = [(w, caller) for w, (caller, owner) in self._waiters.items() if owner is loop]
            for waiter, _ in waiters:
                del self._waiters[waiter]
        for waiter, caller in waiters:
            error = TransportError("the background event loop stopped while this call was in flight")
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone too
                caller.call_soon_threadsafe(_set_exception, waiter, error)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule *coro* on the loop from any thread and return its future."""
        return asyncio.run_coroutine_threadsafe(coro, self.get_loop())

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await *coro* on the background loop from another running loop.

        A lean bridge: one task on the background loop, one future on the
        caller's loop, and one thread-safe wake-up in each direction (no
        :class:`concurrent.futures.Future` in between). Cancelling the caller
        cancels the background task.
        """
        loop = self.get_loop()
        current = asyncio.get_running_loop()
        if current is loop:
            return await coro
        waiter: asyncio.Future[T] = current.create_future()
        holder: list[asyncio.Task[T]] = []

        def deliver(task: asyncio.Task[T]) -> None:  # on the caller's loop
            if waiter.done():
                if not task.cancelled():
                    task.exception()  # the caller went away: mark it retrieved
                return
            if task.cancelled():
                waiter.cancel()
            elif (exc := task.exception()) is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(task.result())

        def finished(task: asyncio.Task[T]) -> None:  # on the background loop
            with self._waiters_lock:
                self._waiters.pop(waiter, None)
            try:
                current.call_soon_threadsafe(deliver, task)
            except RuntimeError:  # the caller's loop is closed: nobody waits any more
                if not task.cancelled():
                    task.exception()

        def start() -> None:  # on the background loop
            task = loop.create_task(coro)
            holder.append(task)
            task.add_done_callback(finished)

        with self._waiters_lock:
            self._waiters[waiter] = (current, loop)
        try:
            if loop is self._dying:
                raise RuntimeError("the loop is shutting down")
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # closed between get_loop() and now
            with self._waiters_lock:
                self._waiters.pop(waiter, None)
            coro.close()
            raise TransportError("the background event loop stopped; the call was not sent") from None
        try:
            return await waiter
        except asyncio.CancelledError:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_cancel_started, holder)
            raise
        finally:
            with self._waiters_lock:
                self._waiters.pop(waiter, None)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and join its thread (a no-op in a forked child)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or self._pid != os.getpid():
                self._loop = self._thread = None
                return
            self._loop = self._thread = None
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def _after_fork(self) -> None:
        # The thread does not exist in the child; forget it without touching it.
        self._lock = threading.Lock()
        self._waiters_lock = threading.Lock()
        self._waiters = {}
        self._dying = None
        self._loop = None
        self._thread = None
        self._pid = 0


def _set_exception(waiter: asyncio.Future[Any], error: BaseException) -> None:
    if not waiter.done():
        waiter.set_exception(error)


#: The process-wide loop that owns every AsyncClient of this package.
loop_thread = LoopThread()


_EXTRA_CLIENT_OPTIONS = frozenset({"async_transport", "async_event_hooks"})

#: The ``client_kwargs`` keys passed on to httpx (its client options, plus
#: ``async_transport`` and ``async_event_hooks`` for the awaited client only;
#: ``async_transport`` may also name a backend of :data:`ASYNC_BACKENDS`).
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


# ---------------------------------------------------------------- the aiohttp backend (extra "aiohttp")

#: The names ``client_kwargs["async_transport"]`` accepts instead of a transport object.
ASYNC_BACKENDS = ("httpx", "aiohttp")

#: The backend awaited calls use when ``client_kwargs`` names none. It stays
#: ``"httpx"`` whether or not the extra is installed (see docs/benchmarks.rst);
#: the test suite sets it to run everything on the aiohttp backend.
default_async_transport = "httpx"


def _aiohttp_missing(name: str) -> ConfigurationError:
    return ConfigurationError(
        f"client_kwargs['async_transport'] of {name!r} is 'aiohttp', which needs the optional "
        "dependency: pip install 'flask_oauth1_async[aiohttp]'"
    )


def _remap_aiohttp_error(exc: httpx.TransportError) -> httpx.TransportError:
    """Give an error of httpx-aiohttp's transport the httpx class that says what happened.

    httpx-aiohttp files every connection error it does not know (a server
    closing the connection mid-answer, a reset) under ``ConnectTimeout``, and
    lets aiohttp's own response errors through unmapped; our error types are
    chosen from the httpx class, so a dropped connection must not read as a
    timeout.
    """
    import aiohttp

    cause = exc.__cause__
    mapped: type[httpx.TransportError] | None = None
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        mapped = httpx.ConnectTimeout
    elif isinstance(cause, aiohttp.SocketTimeoutError):
        mapped = httpx.ReadTimeout
    elif isinstance(cause, aiohttp.ClientConnectorError):
        mapped = httpx.ConnectError
    elif isinstance(cause, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        mapped = httpx.RemoteProtocolError if isinstance(cause, aiohttp.ServerDisconnectedError) else httpx.ReadError
    elif isinstance(cause, aiohttp.ClientOSError):
        mapped = httpx.ReadError
    elif isinstance(cause, aiohttp.ClientConnectionError) and isinstance(exc, httpx.ConnectTimeout):
        mapped = httpx.NetworkError
    if mapped is None or type(exc) is mapped:
        return exc
    error = mapped(str(exc) or type(cause).__name__)
    error.__cause__ = cause
    return error


def _aiohttp_transport(name: str, kwargs: dict[str, Any], verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport:
    """Build the aiohttp transport for awaited calls, moving the transport options out of *kwargs*.

    ``limits``, ``proxy``, ``cert`` and ``http1`` belong to the transport (httpx
    would otherwise build an httpcore transport for a proxy). What it keeps:
    our TLS context (``verify``), httpx's per-request timeouts (connect, read,
    and pool as aiohttp's connection-acquisition timeout; aiohttp has no
    write timeout), an explicit proxy or, with ``trust_env``, the proxy
    environment variables, and no cookie jar at all (aiohttp's session would
    otherwise keep response cookies and send them to the next user).
    """
    try:
        import aiohttp

        _httpx_aiohttp()  # fail early, with the install hint
    except ImportError:
        raise _aiohttp_missing(name) from None
    if kwargs.pop("http2", False):
        raise ConfigurationError(
            f"client_kwargs of {name!r} asks for http2, which the aiohttp backend does not speak; "
            "drop 'http2' or use async_transport='httpx'"
        )
    kwargs.pop("http1", None)
    limits = kwargs.pop("limits", None) or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    proxy = kwargs.pop("proxy", None)
    cert = kwargs.pop("cert", None)
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
    if cert:
        if context is _ssl_context:  # never give the shared context a client certificate
            context = httpx.create_ssl_context()
        if isinstance(cert, (str, os.PathLike)):
            context.load_cert_chain(cert)
        else:
            context.load_cert_chain(*cert)

    def session_factory() -> aiohttp.ClientSession:  # called on the background loop, on first use
        connector = aiohttp.TCPConnector(
            ssl=context,
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry if limits.keepalive_expiry is not None else 15.0,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type", "User-Agent"),
            auto_decompress=False,
        )

    def build(proxy_url: httpx.Proxy | None) -> httpx.AsyncBaseTransport:
        return _fast_async_transport(verify=context, limits=limits, proxy=proxy_url, client=session_factory)

    if proxy is not None:
        return build(proxy if isinstance(proxy, httpx.Proxy) else httpx.Proxy(proxy))
    if kwargs.get("trust_env", True):
        env = importlib.import_module(httpx.__name__ + "._utils").get_environment_proxies()
        if env:
            mounts = dict(kwargs.pop("mounts", None) or {})
            for pattern, url in env.items():
                mounts.setdefault(pattern, None if url is None else build(httpx.Proxy(url)))
            kwargs["mounts"] = mounts
    return build(None)


def _httpx_aiohttp() -> Any:
    """httpx-aiohttp's module for the HTTP library in use (it ships one for httpx and one for httpx2)."""
    return importlib.import_module("httpx_aiohttp.httpx2" if httpx.__name__ == "httpx2" else "httpx_aiohttp")


def _fast_transport_class() -> type[httpx.AsyncBaseTransport]:
    base: type[httpx.AsyncBaseTransport] = _httpx_aiohttp().AiohttpTransport

    class FastAsyncTransport(base):  # type: ignore[valid-type,misc]
        """httpx-aiohttp's transport with errors that say what happened (:func:`_remap_aiohttp_error`).

        Its constructor is replaced: it would build a TLS context of its own,
        while ours comes ready (the session factory holds the connector). The
        request path reads ``client`` and ``proxy`` only (httpx-aiohttp 0.2).
        """

        def __init__(
            self,
            *,
            verify: ssl.SSLContext,
            limits: httpx.Limits,
            proxy: httpx.Proxy | None,
            client: Callable[[], Any],
        ) -> None:
            self.ssl_context = verify
            self.limits = limits
            self.proxy = proxy
            self.client = client

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if "transfer-encoding" not in request.headers:
                # An unread body with a known size (httpx hands a followed redirect the
                # original's stream unread): send it with its length, as httpcore does,
                # not as an empty chunked body.
                await request.aread()
            try:
                response: httpx.Response = await super().handle_async_request(request)
            except httpx.TransportError as exc:
                raise _remap_aiohttp_error(exc) from exc.__cause__
            except Exception as exc:
                import aiohttp

                if isinstance(exc, aiohttp.ClientError):  # not mapped by httpx-aiohttp: a bad answer
                    raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
                raise
            response.stream = _RemappedStream(response.stream)
            return response

    return FastAsyncTransport


class _RemappedStream(httpx.AsyncByteStream):
    """A response body whose read errors are remapped like the request's."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> Any:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise _remap_aiohttp_error(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


def _fast_async_transport(**options: Any) -> httpx.AsyncBaseTransport:
    global _fast_transport
    if _fast_transport is None:
        _fast_transport = _fast_transport_class()
    return _fast_transport(**options)


_fast_transport: type[httpx.AsyncBaseTransport] | None = None


class ClientPool:
    """The pooled HTTP clients of one remote app in one Flask app.

    The :class:`httpx.Client` is shared by all threads; the
    :class:`httpx.AsyncClient` lives on :data:`loop_thread`. Both are built
    lazily from *options* (the httpx part of ``client_kwargs``, checked
    here), never keep cookies that responses set (one client serves every
    user), and are rebuilt when closed underneath us, after a fork, or (the
    async one) when the background loop was replaced.
    """

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        unknown = sorted(set(options) - HTTP_CLIENT_OPTIONS)
        if unknown:
            hint = " (use api_base_url instead)" if "base_url" in unknown else ""
            raise ConfigurationError(
                f"client_kwargs of remote app {name!r} has unknown keys {unknown}{hint}; allowed are the "
                "httpx client options and the OAuth 1 options of docs/configuration.rst (signature_method, ...)"
            )
        self._options = {k: v for k, v in options.items() if k != "verify"}
        self._verify = _resolve_verify(options.get("verify", True))
        self._lock = threading.Lock()
        self._sync: httpx.Client | None = None
        self._sync_pid = 0
        self._async: httpx.AsyncClient | None = None
        self._async_pid = 0
        self._async_generation = 0
        self._in_flight = 0
        self._retired = False
        track_for_exit(self)

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
        if kwargs.get("cert") and verify is _ssl_context:
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
                async_transport = default_async_transport
            if isinstance(async_transport, str):
                backend = async_transport
                if backend not in ASYNC_BACKENDS:
                    raise ConfigurationError(
                        f"client_kwargs['async_transport'] of {self.name!r} is {backend!r}; the named backends are "
                        f"{', '.join(repr(b) for b in ASYNC_BACKENDS)} (or pass an httpx.AsyncBaseTransport)"
                    )
                async_transport = _aiohttp_transport(self.name, kwargs, verify) if backend == "aiohttp" else None
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
        """The pooled, thread-safe :class:`httpx.Client`."""
        client = self._sync
        if client is not None and self._sync_pid == os.getpid() and not client.is_closed:
            return client
        with self._lock:
            client = self._sync
            if client is None or self._sync_pid != os.getpid() or client.is_closed:
                client = httpx.Client(**self._client_kwargs("sync"))
                self._sync = client
                self._sync_pid = os.getpid()
            return client

    def async_client(self) -> httpx.AsyncClient:
        """The pooled :class:`httpx.AsyncClient`; it is only ever used on the background loop."""
        generation = loop_thread.generation if loop_thread.running else -1
        client = self._async
        if (
            client is not None
            and self._async_pid == os.getpid()
            and self._async_generation == generation
            and not client.is_closed
        ):
            return client
        loop_thread.get_loop()  # start (or restart) the loop first: the client belongs to it
        with self._lock:
            generation = loop_thread.generation
            client = self._async
            if (
                client is None
                or self._async_pid != os.getpid()
                or self._async_generation != generation
                or client.is_closed
            ):
                # A client of a dead loop cannot be closed from here; dropping it is all we can do.
                client = httpx.AsyncClient(**self._client_kwargs("async"))
                self._async = client
                self._async_pid = os.getpid()
                self._async_generation = generation
            return client

    def enter(self) -> None:
        """Count a call in flight (see :meth:`retire`)."""
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        """A call has finished; close the clients if the pool was retired and is now idle."""
        with self._lock:
            self._in_flight -= 1
            done = self._retired and self._in_flight == 0
        if done:
            self._close_soon()

    def retire(self) -> None:
        """Close the clients once the calls still using them have finished.

        Used when a remote is registered again: requests in flight keep their
        connections, new ones get a new pool.
        """
        with self._lock:
            self._retired = True
            idle = self._in_flight == 0
        if idle:
            self._close_soon()

    def _detach(self) -> httpx.AsyncClient | None:
        """Forget both clients, close the sync one, and return the async one to close.

        Clients inherited from a parent process, or bound to a loop that has
        died, are dropped without closing (their sockets are not ours to use).
        """
        with self._lock:
            sync, self._sync = self._sync, None
            aclient, self._async = self._async, None
        if sync is not None and self._sync_pid == os.getpid():
            sync.close()
        if (
            aclient is not None
            and self._async_pid == os.getpid()
            and loop_thread.running
            and self._async_generation == loop_thread.generation
        ):
            return aclient
        return None

    def _close_soon(self) -> None:
        aclient = self._detach()
        if aclient is not None:
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
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
        """Give the child process a fresh lock (a fork may happen while one is held)."""
        self._lock = threading.Lock()
        self._in_flight = 0


class _Closable(Protocol):
    def close_for_exit(self) -> None: ...


class _ForkAware(Protocol):
    def after_fork_in_child(self) -> None: ...


_fork_tracked: weakref.WeakSet[Any] = weakref.WeakSet()


def track_for_fork(obj: _ForkAware) -> None:
    """Call ``obj.after_fork_in_child()`` in a forked child (fresh locks and the like)."""
    _fork_tracked.add(obj)


_exit_tracked: weakref.WeakSet[Any] = weakref.WeakSet()


def track_for_exit(obj: _Closable) -> None:
    """Close *obj* (its sync and async clients) when the interpreter exits."""
    _exit_tracked.add(obj)


def _close_all_at_exit() -> None:
    for obj in list(_exit_tracked):
        with contextlib.suppress(Exception):  # best effort at exit
            obj.close_for_exit()
    with contextlib.suppress(Exception):
        loop_thread.stop()


def _after_fork_in_child() -> None:
    loop_thread._after_fork()
    for obj in [*_exit_tracked, *_fork_tracked]:
        reset = getattr(obj, "after_fork_in_child", None)
        if reset is not None:
            reset()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _cancel_started(holder: list[asyncio.Task[Any]]) -> None:
    # Runs on the background loop after start(), since call_soon_threadsafe keeps order.
    for task in holder:
        task.cancel()
