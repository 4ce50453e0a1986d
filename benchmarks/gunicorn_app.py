"""The client app of the real-server benchmark, as gunicorn loads it (``benchmarks.gunicorn_app:create_app()``).

Every view makes one signed GET to the upstream (``BENCH_UPSTREAM``, HTTPS,
CA bundle from ``SSL_CERT_FILE``) and answers its status:

``/sync/raw``      a pooled :class:`httpx.Client` with :class:`~benchmarks.flavours.MinimalOAuth1` (the floor)
``/sync/ours``     ours in a ``def`` view
``/async/ours``    ours in an ``async def`` view, httpx's async transport
``/async/fast``    ours in an ``async def`` view, ``client_kwargs={"async_transport": "aiohttp"}``
``/async/raw``     a raw pooled :class:`httpx.AsyncClient` made on the running loop and kept for it
                   (``/async/raw-fast``: with httpx-aiohttp's transport); only meaningful with the
                   runner, whose loops live long: the floor of an awaited call there
``/sync/authlib``  Authlib's Flask client in a ``def`` view

Two Flask apps with these views share one registry, in one WSGI app:

``/...``     Flask's own runner for async views (asgiref: a new loop per view call);
``/r/...``   the same views with ``flask_oauth1_async.runner.AsyncRunner(app)``.

Under gevent, async views need a long-lived loop: the runner's, or Flask's
"Async with Gevent" recipe; the two cannot share a process (asyncio allows
one running loop per OS thread, and every greenlet shares it), so only the
runner is measured there.

Every view also exists under ``/slow``: the same call to the upstream's
100 ms path (``/slow/sync/ours``, ``/r/slow/async/ours``...), for the gevent
run, where many requests wait on the upstream at once.

``/ready`` answers without a call. With ``--preload`` the app is built in the
master before the fork; every client here is built lazily, in the worker.
Under gunicorn's gevent worker the app is loaded after the worker patched
the standard library (no ``--preload``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from typing import Any

import httpx
from flask import Flask, Response

from benchmarks.flavours import API_PATH, CLIENT_ID, CLIENT_SECRET, FAST, TOKEN, MinimalOAuth1
from flask_oauth1_async import OAuth
from flask_oauth1_async.runner import AsyncRunner

#: Flavour key -> view path (one call to the fast upstream path).
PATHS = {
    "raw-sync": "/sync/raw",
    "ours-sync": "/sync/ours",
    "ours-async": "/async/ours",
    "ours-async-fast": "/async/fast",
    "ours-async-runner": "/r/async/ours",
    "ours-async-fast-runner": "/r/async/fast",
    "raw-async-runner": "/r/async/raw",
    "raw-async-fast-runner": "/r/async/raw-fast",
    "authlib-flask": "/sync/authlib",
}
#: Flavour key -> view path, gevent run: every view waits on the upstream's 100 ms path.
GREEN_PATHS = {
    "raw-sync": "/slow/sync/raw",
    "ours-sync": "/slow/sync/ours",
    "ours-async-runner": "/r/slow/async/ours",
    "ours-async-fast-runner": "/r/slow/async/fast",
    "raw-async-runner": "/r/slow/async/raw",
    "raw-async-fast-runner": "/r/slow/async/raw-fast",
}


def create_app() -> Any:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    upstream = os.environ["BENCH_UPSTREAM"]
    oauth = OAuth()
    own = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "allowed_origins": [upstream]}
    oauth.register("up", **own)
    oauth.register("fast", client_kwargs=FAST, **own)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.flask_client import OAuth as AuthlibOAuth
    authlib = AuthlibOAuth()
    authlib.register(
        "up",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        request_token_url=upstream + "/oauth/request_token",
        access_token_url=upstream + "/oauth/access_token",
        authorize_url=upstream + "/oauth/authorize",
    )
    auth = MinimalOAuth1(CLIENT_ID, CLIENT_SECRET, TOKEN["oauth_token"], TOKEN["oauth_token_secret"])
    raw: dict[int, httpx.Client] = {}
    raw_lock = threading.Lock()

    def raw_client() -> httpx.Client:
        pid = os.getpid()
        client = raw.get(pid)
        if client is None:
            with raw_lock:
                client = raw.setdefault(pid, httpx.Client())
        return client

    raw_async: dict[tuple[asyncio.AbstractEventLoop, bool], httpx.AsyncClient] = {}

    def raw_async_client(fast: bool) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = raw_async.get((loop, fast))
        if client is None:
            if fast:
                from httpx_aiohttp import AiohttpTransport

                client = httpx.AsyncClient(transport=AiohttpTransport())
            else:
                client = httpx.AsyncClient()
            raw_async[loop, fast] = client
        return client

    def answer(status: int) -> Response:
        return Response(str(status), status=200 if status == 200 else 502, mimetype="text/plain")

    def build(name: str) -> Flask:
        app = Flask(name)
        app.secret_key = "bench-gunicorn"
        oauth.init_app(app)
        authlib.init_app(app)

        @app.get("/ready")
        def ready() -> Response:
            return answer(200)

        for prefix, path in (("", API_PATH), ("/slow", "/slow" + API_PATH)):
            url = upstream + path

            def sync_raw(url: str = url) -> Response:
                return answer(raw_client().get(url, auth=auth).status_code)

            def sync_ours(url: str = url) -> Response:
                return answer(oauth.up.get(url, token=TOKEN).status_code)

            async def async_ours(url: str = url) -> Response:
                return answer((await oauth.up.get(url, token=TOKEN)).status_code)

            async def async_fast(url: str = url) -> Response:
                return answer((await oauth.fast.get(url, token=TOKEN)).status_code)

            async def async_raw(url: str = url) -> Response:
                return answer((await raw_async_client(False).get(url, auth=auth)).status_code)

            async def async_raw_fast(url: str = url) -> Response:
                return answer((await raw_async_client(True).get(url, auth=auth)).status_code)

            def sync_authlib(url: str = url) -> Response:
                return answer(int(authlib.up.get(url, token=TOKEN).status_code))

            for route, view in (
                ("/sync/raw", sync_raw),
                ("/sync/ours", sync_ours),
                ("/async/ours", async_ours),
                ("/async/fast", async_fast),
                ("/async/raw", async_raw),
                ("/async/raw-fast", async_raw_fast),
                ("/sync/authlib", sync_authlib),
            ):
                app.add_url_rule(prefix + route, endpoint=prefix + route, view_func=view, methods=["GET"])
        return app

    main = build("bench_gunicorn")
    runner_app = build("bench_gunicorn_runner")
    AsyncRunner(runner_app)
    return DispatcherMiddleware(main.wsgi_app, {"/r": runner_app.wsgi_app})
