"""Run in a child process by tests/servers/test_green.py: ``python -m tests.servers.green_script gevent|eventlet CASE``.

The process is monkey-patched first, as a green deployment is; the app calls
the test's FakeProvider (``SERVERS_PROVIDER``, ``SERVERS_CA_FILE``, the consumer
in ``SERVERS_CLIENT_ID`` / ``SERVERS_CLIENT_SECRET``) with a token given in
``SERVERS_TOKEN`` / ``SERVERS_TOKEN_SECRET``. It prints one JSON line: what it saw.

Cases:

``flask-runner``   Flask's own async_to_sync (no recipe, no runner): an awaited call
                   must fail at once with the ConfigurationError that names the fix,
                   and a def view afterwards must get a real response;
``runner-killed``  the package's runner: its loop's greenlet is killed while a view
                   waits on it; the view must fail with TransportError, and the next
                   async view must work on a new loop.
"""

from __future__ import annotations

import sys
import warnings

GREEN = sys.argv[1]
CASE = sys.argv[2]
if GREEN == "gevent":
    import gevent.monkey

    gevent.monkey.patch_all()
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import eventlet
    eventlet.monkey_patch()

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import ssl  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402

from flask_oauth1_async import OAuth  # noqa: E402
from flask_oauth1_async.errors import TransportError  # noqa: E402

TOKEN = {"oauth_token": os.environ["SERVERS_TOKEN"], "oauth_token_secret": os.environ["SERVERS_TOKEN_SECRET"]}


def _app() -> tuple[Flask, OAuth]:
    app = Flask("green")
    app.secret_key = "green-secret"
    oauth = OAuth(app)
    oauth.register(
        "demo",
        client_id=os.environ["SERVERS_CLIENT_ID"],
        client_secret=os.environ["SERVERS_CLIENT_SECRET"],
        api_base_url=os.environ["SERVERS_PROVIDER"] + "/api/",
        client_kwargs={"verify": ssl.create_default_context(cafile=os.environ["SERVERS_CA_FILE"])},
    )

    @app.get("/def")
    def def_view() -> Any:
        return {"user": oauth.demo.get("me", token=TOKEN).json()["screen_name"]}

    @app.get("/async")
    async def async_view() -> Any:
        return {"user": (await oauth.demo.get("me", token=TOKEN)).json()["screen_name"]}

    @app.errorhandler(TransportError)
    def transport_failed(exc: TransportError) -> Any:
        # The package's default answer is a bare 502 page; show the test what failed.
        return {"error": type(exc).__name__, "message": str(exc)}, 502

    @app.get("/wait")
    async def wait_view() -> Any:
        await asyncio.sleep(30)
        return {"waited": True}

    return app, oauth


def _outcome(call: Any) -> dict[str, Any]:
    try:
        response = call()
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"status": response.status_code, "json": response.get_json()}


def flask_runner() -> dict[str, Any]:
    app, oauth = _app()
    app.testing = True  # exceptions reach the test client as they are
    client = app.test_client()
    first = _outcome(lambda: client.get("/async"))
    second = _outcome(lambda: client.get("/def"))
    oauth.close()
    return {"async": first, "def": second}


def runner_killed() -> dict[str, Any]:
    from flask_oauth1_async.runner import AsyncRunner

    app, oauth = _app()
    app.testing = True
    runner = AsyncRunner(app)
    client = app.test_client()
    before = _outcome(lambda: client.get("/async"))
    (_, loop_greenlet) = runner._bank.get().green_home()
    if GREEN == "gevent":
        import gevent

        gevent.spawn_later(0.3, loop_greenlet.kill)
    else:
        import eventlet

        eventlet.spawn_after(0.3, loop_greenlet.kill)
    killed = _outcome(lambda: client.get("/wait"))
    after = _outcome(lambda: client.get("/async"))
    def_after = _outcome(lambda: client.get("/def"))
    runner.close()
    oauth.close()
    return {"before": before, "killed": killed, "after": after, "def": def_after}


if __name__ == "__main__":
    result = flask_runner() if CASE == "flask-runner" else runner_killed()
    print(json.dumps(result), flush=True)
