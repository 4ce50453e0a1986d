"""The six client flavours, and the Flask app whose views use them.

Each flavour makes the same signed GET with the same access token:

1. ``raw-sync``: a pooled :class:`httpx.Client` with :class:`MinimalOAuth1`
   (HMAC-SHA1 + nonce, written here): the floor for a signed call;
2. ``raw-async``: a pooled :class:`httpx.AsyncClient` on one long-lived loop:
   the async floor. ``raw-async-bg`` is the same client on a background loop
   thread, awaited from the view's loop through ``run_coroutine_threadsafe``
   and ``wrap_future``: the design ours uses, hand-rolled, so that the cost of
   the bridge and the cost of our code can be told apart; ``raw-to-thread``
   awaits the pooled sync client of flavour 1 through ``asyncio.to_thread``
   (an alternative design, for comparison);
3. ``authlib-flask``: ``authlib.integrations.flask_client.OAuth`` (requests);
4. ``authlib-starlette``: ``authlib.integrations.starlette_client.OAuth``
   (httpx), awaited with ``token=`` passed explicitly (no Starlette request
   is needed then);
5. ``ours-sync``: ``oauth.up.get(url, token=...)`` in a ``def`` view;
6. ``ours-async``: ``await oauth.up.get(url, token=...)`` in an ``async def`` view;
   ``ours-async-fast`` is the same with ``client_kwargs={"async_transport":
   "aiohttp"}`` (the ``aiohttp`` extra), and ``raw-async-fast`` is flavour 2
   with httpx-aiohttp's transport (its floor).

The runner (``flask_oauth1_async.runner.AsyncRunner``) is per Flask app, so
there are two client apps with the same views and the same registry:
:attr:`Clients.app` keeps Flask's own runner (asgiref, a new loop per view
call) and :attr:`Clients.runner_app` has ``AsyncRunner(app)``. Flavours whose
key ends in ``-runner`` run there: ``ours-async-runner`` and
``ours-async-fast-runner`` are 6 and 6f under the runner, and
``raw-async-runner`` / ``raw-async-fast-runner`` are a raw ``AsyncClient``
(httpx's transport / httpx-aiohttp's) created on the loop the runner ran the
view on and kept for that loop: the floor for an awaited call on that loop.
``ours-async-loop`` / ``ours-async-fast-loop`` are ours awaited on flavour 2's
own long-lived loop (``run_until_complete``, no Flask runner at all): the
same comparison on a plain asyncio loop.

Every flavour uses its library's default TLS settings; the CA bundle comes
from ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` (see :mod:`benchmarks.servers`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Future
from time import perf_counter_ns
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from flask import Flask, Response

from flask_oauth1_async import OAuth
from flask_oauth1_async.runner import AsyncRunner

from .stats import Runner

T = TypeVar("T")

CLIENT_ID = "client-hmac"
CLIENT_SECRET = "secret-hmac"
TOKEN = {"oauth_token": "bench-access-token", "oauth_token_secret": "bench-access-token-secret"}
SCHEMES = ("http", "https")
API_PATH = "/api/me"
#: Flavours whose view is an ``async def`` view in the one-call-per-request shape.
ASYNC_VIEW_KEYS = (
    "raw-async-bg",
    "raw-to-thread",
    "authlib-starlette",
    "ours-async",
    "ours-async-fast",
    "ours-async-runner",
    "ours-async-fast-runner",
    "raw-async-runner",
    "raw-async-fast-runner",
)
#: Suffix of the flavours that run in the app with ``AsyncRunner(app)`` (:attr:`Clients.runner_app`).
RUNNER = "-runner"
#: The named backend of the fast flavours.
FAST = {"async_transport": "aiohttp"}
#: Pool limits of the fan-out variants: keep up to 100 idle connections (httpx's default keeps 20).
POOL100 = httpx.Limits(max_connections=100, max_keepalive_connections=100)

#: key -> (label, kind)
FLAVOURS: dict[str, tuple[str, str]] = {
    "raw-sync": ("1. raw httpx.Client + minimal OAuth1 Auth", "sync"),
    "raw-async": ("2. raw httpx.AsyncClient, long-lived loop", "async"),
    "raw-async-bg": ("2b. raw AsyncClient on a bg loop thread, bridged (hand-rolled)", "async"),
    "raw-to-thread": ("2c. raw pooled httpx.Client via asyncio.to_thread (alternative design)", "async"),
    "authlib-flask": ("3. Authlib Flask client (requests)", "sync"),
    "authlib-starlette": ("4. Authlib Starlette client (httpx)", "async"),
    "ours-sync": ("5. ours, sync view", "sync"),
    "ours-async": ("6. ours, awaited in async view", "async"),
    "raw-async-fast": ("2f. raw AsyncClient with httpx-aiohttp's transport, long-lived loop", "async"),
    "ours-async-fast": ("6f. ours with async_transport='aiohttp', awaited in async view", "async"),
    "raw-async-runner": ("2r. raw AsyncClient created on the runner's loop, view run by AsyncRunner", "async"),
    "ours-async-runner": ("6r. ours, awaited in async view run by AsyncRunner", "async"),
    "raw-async-fast-runner": ("2fr. raw AsyncClient, httpx-aiohttp transport, on the runner's loop", "async"),
    "ours-async-fast-runner": ("6fr. ours with async_transport='aiohttp', view run by AsyncRunner", "async"),
    "ours-async-loop": ("6l. ours, awaited on flavour 2's long-lived loop (no Flask runner)", "async"),
    "ours-async-fast-loop": ("6fl. ours with async_transport='aiohttp', on flavour 2f's loop", "async"),
}


def runs_in_runner_app(key: str) -> bool:
    """True for the flavours served by the app with ``AsyncRunner(app)``."""
    return key.endswith(RUNNER)


def _escape(value: str) -> str:
    return quote(value, safe="~")


class MinimalOAuth1(httpx.Auth):
    """The least work a correct HMAC-SHA1 signed request needs (RFC 5849, header form).

    Signs the query parameters and the protocol parameters; it does not sign
    form bodies (the benchmarks only send GETs).
    """

    def __init__(self, client_id: str, client_secret: str, token: str, token_secret: str) -> None:
        self._key = f"{_escape(client_secret)}&{_escape(token_secret)}".encode()
        self._fixed = [
            ("oauth_consumer_key", client_id),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_token", token),
            ("oauth_version", "1.0"),
        ]

    def sign(self, method: str, url: httpx.URL) -> str:
        """Return the ``Authorization`` header value for *method* and *url*."""
        oauth = [
            *self._fixed,
            ("oauth_nonce", secrets.token_hex(16)),
            ("oauth_timestamp", str(int(time.time()))),
        ]
        params = [(_escape(k), _escape(v)) for k, v in (*url.params.multi_items(), *oauth)]
        params.sort()
        port = url.port
        default = port is None or (url.scheme, port) in (("http", 80), ("https", 443))
        host = url.host if default else f"{url.host}:{port}"
        base_uri = f"{url.scheme}://{host}{url.raw_path.split(b'?', 1)[0].decode('ascii') or '/'}"
        normalized = "&".join(f"{k}={v}" for k, v in params)
        base = f"{method.upper()}&{_escape(base_uri)}&{_escape(normalized)}"
        signature = base64.b64encode(hmac.new(self._key, base.encode(), hashlib.sha1).digest()).decode()
        oauth.append(("oauth_signature", signature))
        return "OAuth " + ", ".join(f'{k}="{_escape(v)}"' for k, v in oauth)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.sign(request.method, request.url)
        yield request


class LoopThread:
    """A long-lived event loop in a daemon thread (for the hand-rolled async reference)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="bench-raw-loop", daemon=True)
        self._thread.start()
        ready.wait()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await *coro* on this loop from another loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()


def _check(status: int, key: str) -> None:
    if status != 200:
        raise RuntimeError(f"flavour {key!r} got HTTP {status} from the upstream (expected 200)")


class Clients:
    """All flavours, configured for one upstream, plus the client Flask app.

    Views (``/b/<flavour>/<scheme>``) make one signed call each; they are used
    by the one-call-per-request shape (through ``app.test_client()``) and by
    the throughput run (through a real threaded WSGI server). Both apps have
    the same views; :attr:`wsgi` serves :attr:`app` and, under ``/r``,
    :attr:`runner_app` (see :meth:`server_path`).
    """

    def __init__(self, base_urls: dict[str, str]) -> None:
        self.base_urls = base_urls
        self.app = app = Flask("bench_client")
        app.secret_key = "bench-secret-key"
        self.auth = MinimalOAuth1(CLIENT_ID, CLIENT_SECRET, TOKEN["oauth_token"], TOKEN["oauth_token_secret"])
        # The same views with the opt-in runner: async views run on long-lived loops.
        self.runner_app = runner_app = Flask("bench_client_runner")
        runner_app.secret_key = "bench-secret-key"

        # 5/6: ours
        self.oauth = OAuth(app)
        for scheme in SCHEMES:
            # The calls are signed for the upstream's absolute URLs: its origin is the remote's.
            own = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "allowed_origins": [base_urls[scheme]]}
            self.oauth.register(f"up_{scheme}", **own)
            self.oauth.register(f"up_{scheme}_fast", client_kwargs=FAST, **own)
            self.oauth.register(f"up_{scheme}_http2", client_kwargs={"http2": True}, **own)
            # A configuration variant for the fan-out run: keep up to 100 idle connections
            # (httpx's default keeps 20).
            self.oauth.register(f"up_{scheme}_pool100", client_kwargs={"limits": POOL100}, **own)
            # Two fresh remotes for the idle-pool experiment (see scenarios.idle_pool_cost).
            for suffix in ("idle1", "idle20"):
                self.oauth.register(f"up_{scheme}_{suffix}", **own)
                self.oauth.register(f"up_{scheme}_fast_{suffix}", client_kwargs=FAST, **own)

        self.oauth.init_app(runner_app)
        self.runner = AsyncRunner(runner_app)

        # 3: Authlib, Flask (requests)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.integrations.flask_client import OAuth as AuthlibFlaskOAuth
            from authlib.integrations.starlette_client import OAuth as AuthlibStarletteOAuth
        self.authlib = AuthlibFlaskOAuth(app)
        # 4: Authlib, Starlette (httpx)
        self.starlette = AuthlibStarletteOAuth()
        for scheme in SCHEMES:
            # Authlib makes an OAuth 2 client unless request_token_url is set (never called here).
            endpoints = {
                "request_token_url": base_urls[scheme] + "/oauth/request_token",
                "access_token_url": base_urls[scheme] + "/oauth/access_token",
                "authorize_url": base_urls[scheme] + "/oauth/authorize",
            }
            self.authlib.register(f"up_{scheme}", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **endpoints)
            self.starlette.register(f"up_{scheme}", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **endpoints)

        # 1: raw sync
        self.raw_sync = httpx.Client()
        # 2: raw async on a long-lived loop owned by this (main) thread ...
        self.loop = asyncio.new_event_loop()
        self.raw_async = self.loop.run_until_complete(self._make_async_client())
        self.raw_async_pool100 = self.loop.run_until_complete(self._make_async_client(POOL100))
        self.raw_async_fast = self.loop.run_until_complete(self._make_fast_client())
        # ... and, for async views (one loop per request), one in a background thread.
        self.raw_loop = LoopThread()
        self.raw_async_bg = self.raw_loop.submit(self._make_async_client()).result(30)
        # ... and raw clients made on the runner's loops, one per (loop, transport).
        self._raw_on_loop: dict[tuple[asyncio.AbstractEventLoop, bool], httpx.AsyncClient] = {}

        for target in (app, runner_app):
            self._add_views(target)
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        self.wsgi = DispatcherMiddleware(app.wsgi_app, {"/r": runner_app.wsgi_app})

    @staticmethod
    async def _make_async_client(limits: httpx.Limits | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(limits=limits) if limits is not None else httpx.AsyncClient()

    @staticmethod
    async def _make_fast_client() -> httpx.AsyncClient:
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport())

    def raw_on_running_loop(self, fast: bool) -> httpx.AsyncClient:
        """A raw pooled AsyncClient made on the running loop and kept for it (``fast``: aiohttp transport)."""
        loop = asyncio.get_running_loop()
        client = self._raw_on_loop.get((loop, fast))
        if client is None:
            if fast:
                from httpx_aiohttp import AiohttpTransport

                client = httpx.AsyncClient(transport=AiohttpTransport())
            else:
                client = httpx.AsyncClient()
            self._raw_on_loop[loop, fast] = client
        return client

    def url(self, scheme: str, path: str = API_PATH) -> str:
        return self.base_urls[scheme] + path

    def close(self) -> None:
        self.raw_sync.close()
        # The runner's loops are idle now (no request runs): close the raw clients made on them.
        for (loop, _), client in list(self._raw_on_loop.items()):
            if not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(client.aclose())
        self._raw_on_loop.clear()
        self.runner.close()
        self.loop.run_until_complete(self.raw_async.aclose())
        self.loop.run_until_complete(self.raw_async_pool100.aclose())
        self.loop.run_until_complete(self.raw_async_fast.aclose())
        # Ours adopted this loop (the -loop flavours): its clients close with the loop's async generators.
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
        self.raw_loop.submit(self.raw_async_bg.aclose()).result(30)
        self.raw_loop.stop()
        self.oauth.close()

    # ------------------------------------------------------------------ calls

    def sync_call(self, key: str, scheme: str) -> Callable[[str], int]:
        """A function doing one blocking signed GET for a sync flavour; returns the status."""
        if key == "raw-sync":
            client, auth = self.raw_sync, self.auth
            return lambda url: client.get(url, auth=auth).status_code
        if key == "authlib-flask":
            remote = getattr(self.authlib, f"up_{scheme}")
            return lambda url: int(remote.get(url, token=TOKEN).status_code)
        if key == "ours-sync":
            ours = getattr(self.oauth, f"up_{scheme}")
            return lambda url: ours.get(url, token=TOKEN).status_code
        raise KeyError(key)

    def async_call(self, key: str, scheme: str) -> Callable[[str], Coroutine[Any, Any, int]]:
        """A coroutine function doing one awaited signed GET for an async flavour."""
        if key == "raw-async-bg":
            client, auth, run = self.raw_async_bg, self.auth, self.raw_loop.run

            async def raw_bg(url: str) -> int:
                return (await run(client.get(url, auth=auth))).status_code

            return raw_bg
        if key == "raw-to-thread":
            sync_client, sync_auth = self.raw_sync, self.auth

            async def raw_to_thread(url: str) -> int:
                return (await asyncio.to_thread(sync_client.get, url, auth=sync_auth)).status_code

            return raw_to_thread
        if key == "authlib-starlette":
            remote = getattr(self.starlette, f"up_{scheme}")

            async def authlib_call(url: str) -> int:
                return int((await remote.get(url, token=TOKEN)).status_code)

            return authlib_call
        if key in ("raw-async-runner", "raw-async-fast-runner"):
            fast, on_loop, auth = key == "raw-async-fast-runner", self.raw_on_running_loop, self.auth

            async def raw_on_loop(url: str) -> int:
                return (await on_loop(fast).get(url, auth=auth)).status_code

            return raw_on_loop
        if key in ("ours-async-runner", "ours-async-loop"):
            key = "ours-async"  # the runner app's own binding of the same remote (or the adopted loop's)
        if key in ("ours-async-fast-runner", "ours-async-fast-loop"):
            key = "ours-async-fast"
        if key in ("ours-async", "ours-async-fast"):
            ours = getattr(self.oauth, f"up_{scheme}" if key == "ours-async" else f"up_{scheme}_fast")

            async def ours_call(url: str) -> int:
                return (await ours.get(url, token=TOKEN)).status_code

            return ours_call
        raise KeyError(key)

    # ------------------------------------------------ shape (a): one request

    def many_in_one_request(self, key: str, scheme: str, path: str = API_PATH) -> Runner:
        """Runner for shape (a): *n* calls inside one Flask request (one async view for async flavours)."""
        url = self.url(scheme, path)
        app = self.app
        if key in ("raw-async", "raw-async-fast"):
            client = self.raw_async if key == "raw-async" else self.raw_async_fast
            auth, loop = self.auth, self.loop

            async def raw_batch(n: int) -> list[int]:
                out = [0] * n
                for i in range(n):
                    t0 = perf_counter_ns()
                    response = await client.get(url, auth=auth)
                    out[i] = perf_counter_ns() - t0
                    _check(response.status_code, key)
                return out

            return lambda n: loop.run_until_complete(raw_batch(n))

        if key in ("ours-async-loop", "ours-async-fast-loop"):
            ours_call, loop = self.async_call(key, scheme), self.loop

            async def ours_batch(n: int) -> list[int]:
                out = [0] * n
                for i in range(n):
                    t0 = perf_counter_ns()
                    status = await ours_call(url)
                    out[i] = perf_counter_ns() - t0
                    _check(status, key)
                return out

            def on_loop(n: int) -> list[int]:
                with app.test_request_context("/view"):  # the task copies this context: the request is visible
                    return loop.run_until_complete(ours_batch(n))

            return on_loop

        if FLAVOURS[key][1] == "sync":
            call = self.sync_call(key, scheme)

            def sync_batch(n: int) -> list[int]:
                out = [0] * n
                with app.test_request_context("/view"):
                    for i in range(n):
                        t0 = perf_counter_ns()
                        status = call(url)
                        out[i] = perf_counter_ns() - t0
                        _check(status, key)
                return out

            return sync_batch

        acall = self.async_call(key, scheme)

        async def view(n: int) -> list[int]:
            out = [0] * n
            for i in range(n):
                t0 = perf_counter_ns()
                status = await acall(url)
                out[i] = perf_counter_ns() - t0
                _check(status, key)
            return out

        view_app = self.runner_app if runs_in_runner_app(key) else app

        def async_batch(n: int) -> list[int]:
            with view_app.test_request_context("/view"):
                result: list[int] = view_app.ensure_sync(view)(n)
            return result

        return async_batch

    # ----------------------------------------- shape (b): one call per request

    def _add_views(self, app: Flask) -> None:
        def answer(status: int) -> Response:
            return Response(str(status), status=status, mimetype="text/plain")

        @app.get("/b/empty-sync")
        def empty_sync() -> Response:
            return answer(200)

        @app.get("/b/empty-async")
        async def empty_async() -> Response:
            return answer(200)

        calls: dict[tuple[str, str], Any] = {}
        for scheme in SCHEMES:
            for key in ("raw-sync", "authlib-flask", "ours-sync"):
                calls[key, scheme] = self.sync_call(key, scheme)
            for key in ASYNC_VIEW_KEYS:
                calls[key, scheme] = self.async_call(key, scheme)

        @app.get("/b/<key>/<scheme>")
        def sync_view(key: str, scheme: str) -> Response:
            return answer(calls[key, scheme](self.url(scheme)))

        @app.get("/b/async/<key>/<scheme>")
        async def async_view(key: str, scheme: str) -> Response:
            return answer(await calls[key, scheme](self.url(scheme)))

    def view_path(self, key: str, scheme: str) -> str:
        """Path of the view making one call with flavour *key* (``empty-*`` for empty views), in its app."""
        if key.startswith("empty-"):
            return f"/b/{key.removesuffix(RUNNER)}"
        if key in ASYNC_VIEW_KEYS:
            return f"/b/async/{key}/{scheme}"
        return f"/b/{key}/{scheme}"

    def server_path(self, key: str, scheme: str) -> str:
        """Path of flavour *key*'s view in :attr:`wsgi` (the runner app is mounted under ``/r``)."""
        return ("/r" if runs_in_runner_app(key) else "") + self.view_path(key, scheme)

    def one_call_per_request(self, key: str, scheme: str) -> Runner:
        """Runner for shape (b): *n* requests through ``app.test_client()``, one call each."""
        client = (self.runner_app if runs_in_runner_app(key) else self.app).test_client()
        path = self.view_path(key, scheme)

        def run(n: int) -> list[int]:
            out = [0] * n
            for i in range(n):
                t0 = perf_counter_ns()
                response = client.get(path)
                out[i] = perf_counter_ns() - t0
                _check(response.status_code, key)
            return out

        return run
