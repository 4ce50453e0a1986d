"""WSGI app factories that the reliability tests serve with gunicorn (in other processes).

Configuration comes from environment variables, because gunicorn imports
these in its own processes:

``RELIAB_PROVIDER``      the fake provider's ``register()`` settings as JSON (:func:`provider_env`)
``RELIAB_REDIS_URL``     the shared Redis
``RELIAB_CACHE``         ``flask-caching`` (Flask-Caching's RedisCache), ``redis`` (a redis-py client), or our
                           ``redis-cache`` / ``redis-cache-async`` (:class:`~flask_oauth1_async.redis_cache.RedisCache`)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from flask import Flask, jsonify, request, url_for

from flask_oauth1_async import OAuth

SHARED_SECRET_KEY = "reliability-shared-secret-key"


def provider_env(settings: dict[str, Any], token: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that hands a plain-HTTP fake provider's *settings* (and a *token*) to the apps below."""
    env = {"RELIAB_PROVIDER": json.dumps(settings)}
    if token is not None:
        env.update(RELIAB_TOKEN=token["oauth_token"], RELIAB_TOKEN_SECRET=token["oauth_token_secret"])
    return env


def _provider_settings() -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(os.environ["RELIAB_PROVIDER"])
    return settings


def create_pid_app() -> Flask:
    """A tiny app that says which worker process answered (``/pid?sleep=SECONDS``)."""
    app = Flask("pid-app")

    @app.route("/")
    def index() -> Any:
        return "ok"

    @app.route("/pid")
    def pid() -> Any:
        time.sleep(min(float(request.args.get("sleep", "0")), 2.0))
        return jsonify(pid=os.getpid())

    return app


def _cache(kind: str, url: str) -> Any:
    if kind == "redis":
        import redis

        return redis.Redis.from_url(url)
    if kind in ("redis-cache", "redis-cache-async"):
        import redis
        import redis.asyncio

        from flask_oauth1_async.redis_cache import RedisCache

        client = redis.asyncio.Redis.from_url(url) if kind == "redis-cache-async" else redis.Redis.from_url(url)
        return RedisCache(client, prefix="reliab:")
    from flask_caching import Cache

    return Cache(config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url, "CACHE_KEY_PREFIX": "reliab:"})


def create_shared_cache_app() -> Flask:
    """A quickstart-style client app whose temporary credentials live in a shared Redis."""
    app = Flask("shared-cache-app")
    app.secret_key = SHARED_SECRET_KEY
    cache = _cache(os.environ.get("RELIAB_CACHE", "flask-caching"), os.environ["RELIAB_REDIS_URL"])
    if hasattr(cache, "init_app"):
        cache.init_app(app)
    oauth = OAuth(app, cache=cache)
    oauth.register("demo", **_provider_settings())

    @app.route("/")
    def index() -> Any:
        return jsonify(pid=os.getpid())

    @app.route("/s/login")
    def s_login() -> Any:
        return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

    @app.route("/s/callback")
    def s_callback() -> Any:
        token = oauth.demo.authorize_access_token()
        return jsonify(screen_name=token["screen_name"], pid=os.getpid())

    return app


def create_preloaded_resource_app() -> Flask:
    """A client app that uses its pools in the gunicorn master (``--preload``), before the fork.

    ``RELIAB_TOKEN`` / ``RELIAB_TOKEN_SECRET`` are an access token issued by
    the provider. The factory makes one blocking and one awaited call at
    import time, so the pooled clients (and the library's loop thread) exist
    in the master; the workers then call through ``/s/me`` (``def`` view) and
    ``/a/me`` (``async def`` view).
    """
    token = {"oauth_token": os.environ["RELIAB_TOKEN"], "oauth_token_secret": os.environ["RELIAB_TOKEN_SECRET"]}
    app = Flask("preloaded-app")
    app.secret_key = SHARED_SECRET_KEY
    oauth = OAuth(app)
    oauth.register("demo", client_kwargs={"timeout": 5}, **_provider_settings())

    @app.route("/")
    def index() -> Any:
        return jsonify(pid=os.getpid())

    @app.route("/s/me")
    def s_me() -> Any:
        return jsonify(user=oauth.demo.get("me", token=token).json()["user"], pid=os.getpid())

    @app.route("/a/me")
    async def a_me() -> Any:
        resp = await oauth.demo.get("me", token=token)
        return jsonify(user=resp.json()["user"], pid=os.getpid())

    with app.test_request_context("/"):
        assert oauth.demo.get_sync("me", token=token).status_code == 200
    with app.test_client() as client:
        assert client.get("/a/me").status_code == 200
    return app


_KILL_LOOP = {"armed": False}


async def _kill_loop_hook(request: Any) -> None:
    """An async event hook (it runs on the library's loop): when armed, stop that loop.

    The library's loop thread then leaves ``run_forever`` and closes the loop
    while this request is still in flight: a dying loop, produced through the
    public API (``client_kwargs["async_event_hooks"]``).
    """
    if _KILL_LOOP["armed"]:
        _KILL_LOOP["armed"] = False
        asyncio.get_running_loop().stop()


def create_loop_killer_app() -> Flask:
    """A client app whose ``/a/me?kill=1`` kills the library's background loop during the call."""
    from flask_oauth1_async import OAuth1Error

    token = {"oauth_token": os.environ["RELIAB_TOKEN"], "oauth_token_secret": os.environ["RELIAB_TOKEN_SECRET"]}
    app = Flask("loop-killer-app")
    oauth = OAuth(app)
    oauth.register(
        "demo",
        client_kwargs={"timeout": 1.0, "async_event_hooks": {"request": [_kill_loop_hook]}},
        **_provider_settings(),
    )

    @app.route("/")
    def index() -> Any:
        return jsonify(pid=os.getpid())

    @app.route("/s/me")
    def s_me() -> Any:
        return jsonify(user=oauth.demo.get("me", token=token).json()["user"])

    @app.route("/a/me")
    async def a_me() -> Any:
        _KILL_LOOP["armed"] = bool(request.args.get("kill"))
        try:
            resp = await oauth.demo.get("me", token=token)
        except OAuth1Error as exc:
            return jsonify(error=type(exc).__name__), 503
        return jsonify(user=resp.json()["user"])

    return app
