"""The server matrix: each setup as users deploy it, and the variants the checks run on.

A :class:`Setup` is one server command serving :mod:`tests.servers.app`. A
:class:`Variant` is a setup with the app's client (``library``: the package;
``httpx``: the same routes calling httpx directly, the baseline that tells our
failures from the server's or Flask's) and the runner (``off``: Flask's own
``async_to_sync``, or Flask's gevent recipe under gevent/eventlet; ``on``: the
package's opt-in ``AsyncRunner``).

Switching the runner variants on is one line: :data:`RUNNER_VARIANTS`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FANOUT", "RUNNER_VARIANTS", "SETUPS", "Setup", "Variant", "variants"]

#: THE RUNNER SWITCH. False until ``flask_oauth1_async.runner.AsyncRunner`` exists; then set it
#: to True and every library variant also runs with ``AsyncRunner(app)`` (its ids end in
#: ``-runner``). tests/servers/test_harness.py fails while the module exists and this is False.
RUNNER_VARIANTS = True

PY = sys.executable
#: pyuwsgi 2.0.26 installed apart (``pip install --target DIR pyuwsgi==2.0.26``, done by
#: ``nox -s servers``): put in front of PYTHONPATH, it replaces the current pyuwsgi for one setup.
UWSGI_LEGACY_PATH = os.environ.get("SERVERS_UWSGI_LEGACY_PATH", "")

#: What uWSGI prints first; the current pyuwsgi's version is checked in test_harness.py (2.0.27 or later).
CURRENT_UWSGI_BANNER = "*** Starting uWSGI 2.0."

#: How many calls the fan-out view gathers.
FANOUT = 5

#: What the gunicorn setups give their workers to finish after SIGTERM (``--graceful-timeout``).
GUNICORN_GRACEFUL = 5


@dataclass(frozen=True)
class Setup:
    """One server, started by ``command(port)``."""

    name: str
    command: Callable[[int], list[str]]
    #: Worker processes (or 1 for a single process): the checks want to see them all.
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    pythonpath: tuple[str, ...] = ()
    #: False: every request is sent with ``Connection: close`` (see uvicorn-asgiref).
    keepalive: bool = True
    #: gunicorn: the master must stop its workers within --graceful-timeout (no SIGKILL in its log).
    gunicorn: bool = False
    #: Exit statuses of the leader that count as a clean stop after SIGTERM.
    clean_exit: tuple[int, ...] = (0,)
    #: A line the server prints when it starts (its version, its mode): checked after boot.
    banner: str = ""
    #: Why the setup is configured the way it is, shown in failures.
    note: str = ""


def _gunicorn(*options: str, app: str = "tests.servers.app:app") -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [
            PY,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--graceful-timeout",
            str(GUNICORN_GRACEFUL),
            "--timeout",
            "60",
            "--log-level",
            "info",
            "--no-control-socket",  # gunicorn 27's default socket path is shared by every gunicorn of the user
            *options,
            app,
        ]

    return command


def _uwsgi(*options: str) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        # pyuwsgi is uWSGI as a Python extension module; pyuwsgi.run() reads sys.argv like the uwsgi binary.
        return [
            PY,
            "-c",
            "import sys, pyuwsgi; sys.exit(pyuwsgi.run())",
            "--http11-socket",  # HTTP/1.1 with keep-alive (--http-socket closes without saying so)
            f"127.0.0.1:{port}",
            "--master",
            "--processes",
            "2",
            "--module",
            "tests.servers.app:app",
            "--need-app",  # fail to start rather than serve 500s when the app does not import
            "--die-on-term",  # uWSGI 2.0 reloads on SIGTERM unless told otherwise
            "--strict",
            *options,
        ]

    return command


def _uvicorn(app: str) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [PY, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]

    return command


SETUPS: list[Setup] = [
    Setup("gunicorn-sync", _gunicorn("--worker-class", "sync"), gunicorn=True),
    Setup("gunicorn-gthread", _gunicorn("--worker-class", "gthread", "--threads", "4"), gunicorn=True),
    Setup(
        "gunicorn-preload",
        _gunicorn("--worker-class", "gthread", "--threads", "4", "--preload"),
        env={"SERVERS_IMPORT_CALLS": "1"},
        gunicorn=True,
        note="the app makes a blocking and an awaited call at import time, in the master, before the fork",
    ),
    Setup(
        "gunicorn-asgi",
        _gunicorn("--worker-class", "asgi", app="tests.servers.app:asgi_asgiref"),
        gunicorn=True,
        note="gunicorn 27's own ASGI worker, the app wrapped in asgiref's WsgiToAsgi",
    ),
    Setup(
        "gunicorn-gevent",
        _gunicorn("--worker-class", "gevent", "--worker-connections", "100"),
        env={"SERVERS_GREEN": "gevent"},
        gunicorn=True,
        note="runner off: Flask's 'Async with Gevent' recipe (one asyncio loop in a greenlet)",
    ),
    Setup(
        "eventlet",
        lambda port: [PY, "-m", "tests.servers.eventlet_server", str(port)],
        workers=1,
        env={"SERVERS_GREEN": "eventlet"},
        clean_exit=(-15,),
        note="eventlet.monkey_patch() + eventlet.wsgi.server (gunicorn 27 has no eventlet worker); "
        "runner off: Flask's gevent recipe with eventlet.spawn",
    ),
    Setup(
        "uwsgi",
        _uwsgi(),
        banner=CURRENT_UWSGI_BANNER,
        note="current pyuwsgi: Python threads are on by default since 2.0.27",
    ),
    Setup("uwsgi-enable-threads", _uwsgi("--enable-threads"), banner=CURRENT_UWSGI_BANNER),
    Setup(
        "uwsgi-lazy-apps",
        _uwsgi("--lazy-apps"),
        banner=CURRENT_UWSGI_BANNER,
        note="the app is imported in each worker, after the fork",
    ),
    Setup(
        "uwsgi-2.0.26",
        _uwsgi(),
        env={"SERVERS_IMPORT_CALLS": "1"},
        pythonpath=(UWSGI_LEGACY_PATH,),
        banner="*** Starting uWSGI 2.0.26 ",
        note="pyuwsgi 2.0.26 (Debian 12's uWSGI): Python threads off; an awaited call at import time in the master",
    ),
    Setup(
        "uwsgi-2.0.26-enable-threads",
        _uwsgi("--enable-threads"),
        env={"SERVERS_IMPORT_CALLS": "1"},
        pythonpath=(UWSGI_LEGACY_PATH,),
        banner="*** Starting uWSGI 2.0.26 ",
        note="the same with --enable-threads, what docs/deploying.rst recommends before uWSGI 2.0.27",
    ),
    Setup(
        "waitress",
        lambda port: [PY, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=4", "tests.servers.app:app"],
        workers=1,
        clean_exit=(-15,),
    ),
    Setup(
        "uvicorn-asgiref",
        _uvicorn("tests.servers.app:asgi_asgiref"),
        keepalive=False,
        note="asgiref's WsgiToAsgi answers some keep-alive requests 500 'CurrentThreadExecutor already quit "
        "or is broken', with or without this package: requests are sent with Connection: close",
    ),
    Setup("uvicorn-a2wsgi", _uvicorn("tests.servers.app:asgi_a2wsgi")),
    Setup(
        "hypercorn",
        lambda port: [PY, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "tests.servers.app:app"],
        note="hypercorn serves the WSGI app itself (in a thread pool)",
    ),
    Setup(
        "granian",
        lambda port: [
            PY,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "tests.servers.app:app",
        ],
    ),
    Setup(
        "flask-run",
        lambda port: [
            PY,
            "-m",
            "flask",
            "--app",
            "tests.servers.app",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        workers=1,
        clean_exit=(-15,),
    ),
]


@dataclass(frozen=True)
class Variant:
    """A setup with the app's client and runner."""

    setup: Setup
    client: str = "library"
    runner: str = "off"

    @property
    def id(self) -> str:
        suffix = "-httpx" if self.client == "httpx" else ""
        return f"{self.setup.name}{suffix}{'-runner' if self.runner == 'on' else ''}"

    @property
    def env(self) -> dict[str, str]:
        return {**self.setup.env, "SERVERS_CLIENT": self.client, "SERVERS_RUNNER": self.runner}


def variants(client: str) -> list[Variant]:
    """The variants for *client*: ``library`` (runner off, and on when switched on) or ``httpx``."""
    if client == "httpx":
        return [Variant(s, "httpx") for s in SETUPS]
    found = [Variant(s) for s in SETUPS]
    if RUNNER_VARIANTS:
        found += [Variant(s, runner="on") for s in SETUPS]
    return found
