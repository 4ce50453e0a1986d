"""The client app of the real-server benchmark, as gunicorn loads it (``benchmarks.gunicorn_app:create_app()``).

Every view makes one signed GET to the upstream (``BENCH_UPSTREAM``, HTTPS,
CA bundle from ``SSL_CERT_FILE``) and answers its status:

``/sync/raw``      a pooled :class:`httpx.Client` with :class:`~benchmarks.flavours.MinimalOAuth1` (the floor)
``/sync/ours``     ours in a ``def`` view
``/async/ours``    ours in an ``async def`` view, httpx's async transport
``/async/fast``    ours in an ``async def`` view, ``client_kwargs={"async_transport": "aiohttp"}``
``/sync/authlib``  Authlib's Flask client in a ``def`` view

``/ready`` answers without a call. With ``--preload`` the app is built in the
master before the fork; every client here is built lazily, in the worker.
"""

from __future__ import annotations

import os
import threading
import warnings

import httpx
from flask import Flask, Response

from benchmarks.flavours import API_PATH, CLIENT_ID, CLIENT_SECRET, FAST, TOKEN, MinimalOAuth1
from flask_oauth1_async import OAuth

#: Flavour key -> view path.
PATHS = {
    "raw-sync": "/sync/raw",
    "ours-sync": "/sync/ours",
    "ours-async": "/async/ours",
    "ours-async-fast": "/async/fast",
    "authlib-flask": "/sync/authlib",
}


def create_app() -> Flask:
    upstream = os.environ["BENCH_UPSTREAM"]
    url = upstream + API_PATH
    app = Flask("bench_gunicorn")
    app.secret_key = "bench-gunicorn"
    oauth = OAuth(app)
    own = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "allowed_origins": [upstream]}
    oauth.register("up", **own)
    oauth.register("fast", client_kwargs=FAST, **own)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.flask_client import OAuth as AuthlibOAuth
    authlib = AuthlibOAuth(app)
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

    def answer(status: int) -> Response:
        return Response(str(status), status=200 if status == 200 else 502, mimetype="text/plain")

    @app.get("/ready")
    def ready() -> Response:
        return answer(200)

    @app.get("/sync/raw")
    def sync_raw() -> Response:
        return answer(raw_client().get(url, auth=auth).status_code)

    @app.get("/sync/ours")
    def sync_ours() -> Response:
        return answer(oauth.up.get(url, token=TOKEN).status_code)

    @app.get("/async/ours")
    async def async_ours() -> Response:
        return answer((await oauth.up.get(url, token=TOKEN)).status_code)

    @app.get("/async/fast")
    async def async_fast() -> Response:
        return answer((await oauth.fast.get(url, token=TOKEN)).status_code)

    @app.get("/sync/authlib")
    def sync_authlib() -> Response:
        return answer(int(authlib.up.get(url, token=TOKEN).status_code))

    return app
