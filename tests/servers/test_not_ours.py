"""What the matrix works around, shown without the library: if one of these fails, the workaround can go.

uvicorn serving asgiref's ``WsgiToAsgi`` answers some requests on kept-alive
connections with a 500 ("CurrentThreadExecutor already quit or is broken"),
with an app that does not use this package at all. That is why the matrix
sends ``Connection: close`` to that setup (its ``keepalive=False``), and
docs/deploying.rst recommends a2wsgi (or a WSGI server) instead.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.servers.harness import serve
from tests.servers.setups import SETUPS, Variant

REQUESTS = 100


def _statuses(setup_name: str, keepalive: bool) -> tuple[list[int | str], str]:
    setup = next(s for s in SETUPS if s.name == setup_name)
    variant = Variant(dataclasses.replace(setup, keepalive=keepalive), "httpx")
    with serve(variant) as served, served.client() as client:

        def one(index: int) -> int | str:
            try:
                return client.get("/call/def" if index % 2 else "/call/async").status_code
            except httpx.TransportError as exc:
                return type(exc).__name__

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(one, range(REQUESTS)))
        return statuses, served.server.log_text


def test_uvicorn_wsgitoasgi_keepalive_500s_without_the_library() -> None:
    statuses, log = _statuses("uvicorn-asgiref", keepalive=True)
    assert 500 in statuses, f"no 500 in {REQUESTS} kept-alive requests: asgiref may have fixed it ({statuses})"
    assert "CurrentThreadExecutor already quit or is broken" in log


def test_uvicorn_a2wsgi_keepalive_answers_every_request() -> None:
    statuses, log = _statuses("uvicorn-a2wsgi", keepalive=True)
    assert statuses == [200] * REQUESTS, log[-3000:]


def test_uwsgi_reloads_on_sigterm_without_die_on_term() -> None:
    """uWSGI 2.0 takes SIGTERM as "reload": the matrix (and docs/deploying.rst) use --die-on-term."""
    setup = next(s for s in SETUPS if s.name == "uwsgi")
    assert "--die-on-term" in setup.command(0)

    def without(port: int) -> list[str]:
        return [arg for arg in setup.command(port) if arg != "--die-on-term"]

    with serve(Variant(dataclasses.replace(setup, command=without), "httpx")) as served:
        served.server.terminate(timeout=5.0)  # whatever is left is killed
        assert "reloading uWSGI" in served.server.log_text, served.server.log_tail()
