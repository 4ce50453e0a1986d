"""A small server for what the OAuth provider cannot do: set cookies, echo them, hold a request open.

It is a Flask app on a :class:`~tests.support.servers.ServerThread` (127.0.0.1
only). ``/set?v=...`` answers with a ``sid`` cookie, ``/echo`` reports the
``Cookie`` header it received, and ``/gate`` holds every request until the
test calls :meth:`SideServer.release`: "a call is in flight" is then a fact the
test controls (it can wait for :attr:`SideServer.entered`), not a matter of
timing. The ``side`` fixture of ``tests/conftest.py`` starts one per test and
always stops it.
"""

from __future__ import annotations

import threading

from flask import Flask, Response, jsonify, request

from tests.support.servers import ServerThread


class SideServer:
    """Cookie setter, cookie echo and a gate, served on 127.0.0.1."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entered = 0
        self._release = threading.Event()
        app = Flask("side-server")

        @app.get("/set")
        def set_cookie() -> Response:
            resp = jsonify(cookie=request.headers.get("Cookie"))
            resp.set_cookie("sid", request.args["v"], path="/")
            return resp

        @app.get("/echo")
        def echo() -> Response:
            return jsonify(cookie=request.headers.get("Cookie"))

        @app.get("/gate")
        def gate() -> Response:
            with self._lock:
                self._entered += 1
            released = self._release.wait(20)
            return jsonify(gate="passed" if released else "timed-out")

        self.server = ServerThread(app, name="side-server").start()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def entered(self) -> int:
        """Requests that reached ``/gate``."""
        with self._lock:
            return self._entered

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()  # never leave a request hanging
        self.server.stop()
