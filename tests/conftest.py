"""Shared fixtures: a real OAuth 1.0a provider on 127.0.0.1 and a factory for client apps.

* ``provider`` / ``provider_tls``: the public fake provider
  (:class:`flask_oauth1_async.testing.FakeProvider`: oauthlib's endpoints at
  their default checks), over HTTP or HTTPS. Module-scoped for speed; reset
  before every test, with the suite's API routes of
  :mod:`tests.support.fake`.
* ``client_app``: a factory that builds a Flask client app with an
  :class:`~flask_oauth1_async.OAuth` registry and a remote named ``demo``
  pointing at a provider, serves it with a real threaded server, and stops it
  after the test.
* ``http``: a plain httpx client for the test's own requests to a client app.
* ``closed_port``: a port on 127.0.0.1 that refuses connections.
* ``side``: a :class:`~tests.support.side_server.SideServer` (cookies, echo,
  a gate that holds requests), stopped after the test.

``FLASK_OAUTH1_ASYNC_TEST_ASYNC_BACKEND=aiohttp`` runs every awaited call of
the suite (that names no transport of its own) on the aiohttp backend
(``nox -s tests_aiohttp``); unset, awaited calls use httpx's own transport.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

if os.environ.get("FLASK_OAUTH1_ASYNC_HTTP") == "httpx2":
    # The suite on httpx2 (nox -s tests_httpx2): the package selects httpx2, and
    # the tests' own "import httpx" gets the same library, so isinstance checks,
    # transports and exceptions agree. It must run before anything imports httpx.
    import httpx2

    httpx2.alias_httpx()

import httpx
import pytest
from flask import Flask

from flask_oauth1_async import OAuth, _backends
from flask_oauth1_async.testing import FakeProvider
from tests.support.fake import SUITE_REALMS, SUITE_USERS, install_routes, register_settings
from tests.support.redis_server import free_port
from tests.support.servers import ServerThread
from tests.support.side_server import SideServer

_ASYNC_BACKEND = os.environ.get("FLASK_OAUTH1_ASYNC_TEST_ASYNC_BACKEND", "httpx")
if _ASYNC_BACKEND not in _backends.ASYNC_BACKENDS:
    raise pytest.UsageError(f"FLASK_OAUTH1_ASYNC_TEST_ASYNC_BACKEND={_ASYNC_BACKEND!r} is not a backend")
_backends.default_async_transport = _ASYNC_BACKEND

# FLASK_OAUTH1_ASYNC_TEST_RUNNER=1 (nox -s tests_runner) runs the async views of every
# app of the suite on the opt-in runner, as if each app had called AsyncRunner(app).
_RUNNER_ON = os.environ.get("FLASK_OAUTH1_ASYNC_TEST_RUNNER", "") == "1"
if _RUNNER_ON:
    from flask_oauth1_async.runner import AsyncRunner

    _SUITE_RUNNER = AsyncRunner()

    def _runner_async_to_sync(self: Flask, func: Callable[..., Any]) -> Callable[..., Any]:
        return _SUITE_RUNNER.async_to_sync(func)

    Flask.async_to_sync = _runner_async_to_sync  # type: ignore[method-assign]


def pytest_report_header() -> str:
    runner = "flask_oauth1_async.runner.AsyncRunner" if _RUNNER_ON else "Flask's own (asgiref)"
    return f"flask_oauth1_async async backend: {_ASYNC_BACKEND}; async views run by: {runner}"


_SLOW_PARTS = (
    "tests/reliability/",
    "tests/interop/",
    "tests/test_fake_provider.py",
    "tests/test_harness.py",
    "tests/test_signing_equivalence.py",
)


#: Tests whose outcome the two in-process modes above cannot change: static checks (mypy,
#: the layout, the public names), the signer alone, and tests whose apps run only in
#: subprocesses (the modes are applied by this file, in this process). Marked
#: ``mode_free``: tests_aiohttp and tests_runner leave them out; every other test session runs them.
_MODE_FREE_PARTS = (
    "tests/test_typing.py",
    "tests/test_architecture.py",
    "tests/test_public_api.py",
    "tests/test_signing_equivalence.py",
    "tests/test_signing_vectors.py",
    "tests/test_docs_commands.py",
    "tests/test_missing_extras.py",
    "tests/reliability/test_gunicorn_fork.py",
    "tests/reliability/test_support_servers.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slowest suites ``slow`` (run on the newest Python, tests_lowest and tests_httpx2)
    and the mode-free ones ``mode_free`` (see :data:`_MODE_FREE_PARTS`)."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(_SLOW_PARTS):
            item.add_marker(pytest.mark.slow)
        if path.startswith(_MODE_FREE_PARTS):
            item.add_marker(pytest.mark.mode_free)


@pytest.fixture(scope="module")
def _provider_http() -> Iterator[FakeProvider]:
    with FakeProvider(SUITE_USERS, tls=False, realms=SUITE_REALMS) as fake:
        yield fake


@pytest.fixture(scope="module")
def _provider_https() -> Iterator[FakeProvider]:
    with FakeProvider(SUITE_USERS, realms=SUITE_REALMS) as fake:
        yield fake


def _fresh(fake: FakeProvider) -> FakeProvider:
    fake.reset()  # records, scripts, routes and counters
    install_routes(fake)
    return fake


@pytest.fixture
def provider(_provider_http: FakeProvider) -> FakeProvider:
    """The plain-HTTP fake provider, reset, with the suite's API routes (tests/support/fake.py)."""
    return _fresh(_provider_http)


@pytest.fixture
def provider_tls(_provider_https: FakeProvider) -> FakeProvider:
    """The HTTPS fake provider (its CA in ``provider_tls.ssl_context``), reset, with the suite's routes."""
    return _fresh(_provider_https)


@dataclass
class ClientApp:
    """A client Flask app served on 127.0.0.1, with its registry."""

    app: Flask
    oauth: OAuth
    server: ServerThread
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL of the client app."""
        return self.server.url


ClientAppFactory = Callable[..., ClientApp]


@pytest.fixture
def client_app() -> Iterator[ClientAppFactory]:
    """Build and serve client apps; ``setup(app, oauth)`` adds routes.

    ``client_app(provider, setup, oauth_kwargs={...}, **register_overrides)``
    registers the remote ``demo`` (the fake provider's consumer) and returns a
    running :class:`ClientApp`. Everything is stopped and closed at teardown.
    """
    started: list[ClientApp] = []

    def make(
        provider: FakeProvider,
        setup: Callable[[Flask, OAuth], None],
        *,
        oauth_kwargs: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        **register: Any,
    ) -> ClientApp:
        app = Flask(f"client-{len(started)}")
        app.secret_key = "test-secret-key"
        app.config.update(config or {})
        oauth = OAuth(app, **(oauth_kwargs or {}))
        oauth.register("demo", **register_settings(provider, **register))
        setup(app, oauth)
        server = ServerThread(app, name="client-app").start()
        ca = ClientApp(app, oauth, server)
        started.append(ca)
        return ca

    yield make
    for ca in started:
        ca.server.stop()
        ca.oauth.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain client (no proxies from the environment) for requests to the apps under test."""
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released): connecting is refused."""
    return free_port()


@pytest.fixture
def side() -> Iterator[SideServer]:
    """A running :class:`SideServer`, stopped (and its gate released) after the test."""
    server = SideServer()
    try:
        yield server
    finally:
        server.stop()
