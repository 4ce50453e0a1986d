"""The small app that every server of the matrix serves (in other processes).

The server imports it by name (``tests.servers.app:app``, ``:asgi_asgiref``,
``:asgi_a2wsgi``), so everything comes from environment variables, set by
:mod:`tests.servers.launch`:

``SERVERS_PROVIDER``       the FakeProvider's origin (``https://127.0.0.1:PORT``)
``SERVERS_CA_FILE``        its CA certificate (PEM): the only CA the app trusts
``SERVERS_CLIENT_ID``      the consumer key and secret the provider knows
``SERVERS_CLIENT_SECRET``
``SERVERS_SECRET_KEY``     Flask's SECRET_KEY, the same in every worker
``SERVERS_CLIENT``         ``library`` (flask_oauth1_async, the default) or ``httpx``:
                           the same routes calling httpx directly, without the
                           library, to tell our failures from the server's or Flask's
``SERVERS_RUNNER``         ``on``: ``flask_oauth1_async.runner.AsyncRunner(app)``
                           (library only); ``off`` (the default): Flask's own
                           ``async_to_sync``, or the green recipe below
``SERVERS_GREEN``          ``gevent`` or ``eventlet``: the process is monkey-patched;
                           with the runner off, ``Flask.async_to_sync`` is replaced
                           by Flask's "Async with Gevent" recipe (one asyncio loop
                           run in a greenlet)
``SERVERS_IMPORT_CALLS``   ``1``: one blocking and one awaited call while the module
                           is imported (in a pre-forking server's master)

Routes (every answer carries the ``X-Worker-Pid`` header):

``/``                          ``{"pid": ...}``: readiness
``/login/def``, ``/login/async``       start the login (library only)
``/callback/def``, ``/callback/async`` finish it: the token is kept in the session
``/call/def``, ``/call/async``         one call to the provider's ``me``: signed with
                                       the session's token (library), plain (httpx)
``/fanout``                    an async view: ``asyncio.gather`` of five calls to ``slow``
"""

from __future__ import annotations

import os

GREEN = os.environ.get("SERVERS_GREEN", "")
if GREEN == "gevent":  # Flask's recipe: patch first thing (gunicorn's gevent worker has patched already)
    import gevent.monkey

    gevent.monkey.patch_all()

import asyncio  # noqa: E402 - after the monkey-patching
import ssl  # noqa: E402
from collections.abc import Callable, Coroutine  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from flask import Flask, Response, session, url_for  # noqa: E402

from tests.servers.setups import FANOUT  # noqa: E402

PROVIDER = os.environ["SERVERS_PROVIDER"]
CA_FILE = os.environ["SERVERS_CA_FILE"]
CLIENT = os.environ.get("SERVERS_CLIENT", "library")
RUNNER = os.environ.get("SERVERS_RUNNER", "off")
if CLIENT not in ("library", "httpx") or RUNNER not in ("on", "off") or GREEN not in ("", "gevent", "eventlet"):
    raise RuntimeError(f"bad settings: SERVERS_CLIENT={CLIENT!r} SERVERS_RUNNER={RUNNER!r} SERVERS_GREEN={GREEN!r}")
if CLIENT == "httpx" and RUNNER == "on":
    raise RuntimeError("the runner is the library's: SERVERS_RUNNER=on needs SERVERS_CLIENT=library")


def _trust() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=CA_FILE)


def _green_async_to_sync(flask_app: Flask) -> None:
    """Flask's "Async with Gevent" recipe: one asyncio loop run in a greenlet, coroutines sent to it.

    Flask's main-branch docs (docs/gevent.rst) subclass Flask and override
    ``async_to_sync``; setting it on the instance is the same. ``asyncio.EventLoop()``
    there is Python 3.13's name for ``asyncio.new_event_loop()``. Under eventlet the
    loop runs in ``eventlet.spawn`` instead of ``gevent.spawn``.
    """
    loop = asyncio.new_event_loop()
    if GREEN == "gevent":
        import gevent

        gevent.spawn(loop.run_forever)
    else:
        import eventlet

        eventlet.spawn(loop.run_forever)

    def async_to_sync(func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            coro = func(*args, **kwargs)
            future = asyncio.run_coroutine_threadsafe(coro, loop)
            return future.result()

        return run

    flask_app.async_to_sync = async_to_sync  # type: ignore[method-assign]


def _answer(view: str, response: httpx.Response) -> dict[str, Any]:
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    return {"view": view, "pid": os.getpid(), "status": response.status_code, "body": body}


def _library_routes(app: Flask) -> None:
    from flask_oauth1_async import OAuth

    def fetch_token(name: str) -> Any:
        return session.get("token")

    oauth = OAuth(app, fetch_token=fetch_token)
    oauth.register(
        "demo",
        client_id=os.environ["SERVERS_CLIENT_ID"],
        client_secret=os.environ["SERVERS_CLIENT_SECRET"],
        request_token_url=PROVIDER + "/oauth/request_token",
        authorize_url=PROVIDER + "/oauth/authorize",
        access_token_url=PROVIDER + "/oauth/access_token",
        api_base_url=PROVIDER + "/api/",
        client_kwargs={"verify": _trust()},
    )

    def remember(view: str, token: dict[str, Any]) -> dict[str, Any]:
        session["token"] = {"oauth_token": token["oauth_token"], "oauth_token_secret": token["oauth_token_secret"]}
        return {"view": view, "pid": os.getpid(), "screen_name": token.get("screen_name")}

    @app.get("/login/def")
    def login_def() -> Any:
        return oauth.demo.authorize_redirect(url_for("callback_def", _external=True))

    @app.get("/callback/def")
    def callback_def() -> Any:
        return remember("def", oauth.demo.authorize_access_token())

    @app.get("/login/async")
    async def login_async() -> Any:
        return await oauth.demo.authorize_redirect(url_for("callback_async", _external=True))

    @app.get("/callback/async")
    async def callback_async() -> Any:
        return remember("async", await oauth.demo.authorize_access_token())

    @app.get("/call/def")
    def call_def() -> Any:
        return _answer("def", oauth.demo.get("me"))

    @app.get("/call/async")
    async def call_async() -> Any:
        return _answer("async", await oauth.demo.get("me"))

    @app.get("/fanout")
    async def fanout() -> Any:
        answers = await asyncio.gather(*(oauth.demo.get("slow") for _ in range(FANOUT)))
        return {"view": "async", "pid": os.getpid(), "statuses": [a.status_code for a in answers]}

    if os.environ.get("SERVERS_IMPORT_CALLS") == "1":
        # What an app does at import time: a blocking call and an awaited one (consumer-only, to a
        # path the provider leaves open), before a pre-forking server forks its workers.
        oauth.demo.get_sync("ping", consumer_only=True).raise_for_status()

        async def awaited() -> None:
            (await oauth.demo.get_async("ping", consumer_only=True)).raise_for_status()

        asyncio.run(awaited())

    if RUNNER == "on":
        # The package's opt-in runner, for the runner variants (switched on in tests/servers/setups.py).
        from flask_oauth1_async.runner import AsyncRunner  # type: ignore[import-not-found,unused-ignore]

        AsyncRunner(app)


def _httpx_routes(app: Flask) -> None:
    """The same routes without the library: what the server and Flask do on their own."""
    context = _trust()
    client = httpx.Client(verify=context, timeout=10)

    @app.get("/call/def")
    def call_def() -> Any:
        return _answer("def", client.get(PROVIDER + "/api/me"))

    @app.get("/call/async")
    async def call_async() -> Any:
        async with httpx.AsyncClient(verify=context, timeout=10) as aclient:
            return _answer("async", await aclient.get(PROVIDER + "/api/me"))

    @app.get("/fanout")
    async def fanout() -> Any:
        async with httpx.AsyncClient(verify=context, timeout=10) as aclient:
            answers = await asyncio.gather(*(aclient.get(PROVIDER + "/api/slow") for _ in range(FANOUT)))
        return {"view": "async", "pid": os.getpid(), "statuses": [a.status_code for a in answers]}

    if os.environ.get("SERVERS_IMPORT_CALLS") == "1":
        # A client of its own: the shared one must not carry a pooled connection into the
        # forked workers (two processes would then write on one TLS connection). Our package
        # notices the new process itself; this baseline does what a careful app would.
        with httpx.Client(verify=context, timeout=10) as import_client:
            import_client.get(PROVIDER + "/api/ping").raise_for_status()

        async def awaited() -> None:
            async with httpx.AsyncClient(verify=context, timeout=10) as aclient:
                (await aclient.get(PROVIDER + "/api/ping")).raise_for_status()

        asyncio.run(awaited())


def create_app() -> Flask:
    """The app, as the environment describes it (see the module docstring)."""
    app = Flask("servers-app")
    app.secret_key = os.environ["SERVERS_SECRET_KEY"]

    @app.get("/")
    def index() -> Any:
        return {"pid": os.getpid()}

    @app.after_request
    def worker_pid(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    if GREEN and RUNNER == "off":
        _green_async_to_sync(app)
    if CLIENT == "library":
        from tests.servers import semantics

        semantics.install(app)
        _library_routes(app)
    else:
        _httpx_routes(app)
    return app


app = create_app()


def __getattr__(name: str) -> Any:
    """``asgi_asgiref`` and ``asgi_a2wsgi``: the app wrapped for ASGI servers, built on first use."""
    if name == "asgi_asgiref":
        from asgiref.wsgi import WsgiToAsgi

        return WsgiToAsgi(app)
    if name == "asgi_a2wsgi":
        from a2wsgi import WSGIMiddleware

        return WSGIMiddleware(app)  # type: ignore[arg-type]
    raise AttributeError(name)


__all__ = ["app", "create_app"]
