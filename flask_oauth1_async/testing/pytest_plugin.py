"""pytest fixtures for apps that use flask_oauth1_async.

Opt in from your top-level ``conftest.py`` (or a test module)::

    pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]

It is deliberately not registered as a ``pytest11`` entry point: an entry
point loads in every pytest run of every project that has flask_oauth1_async
installed, imports oauthlib, trustme and Flask into test sessions that never
asked for them, and takes fixture names there. Naming the plugin is one line
and keeps that choice with you.

Fixtures:

``oauth1_provider``
    A started :class:`~flask_oauth1_async.testing.FakeProvider` (users
    ``alice`` and ``bob``), stopped after the test.
``oauth1_provider_factory``
    A function ``factory(users=..., **kwargs)`` that starts more providers
    (several remotes in one app); all are stopped after the test.
``oauth1_login``
    :func:`~flask_oauth1_async.testing.login` bound to ``oauth1_provider``:
    ``oauth1_login(client, "/login", user="alice")``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .login import login
from .provider import FakeProvider

__all__ = ["oauth1_login", "oauth1_provider", "oauth1_provider_factory"]


@pytest.fixture
def oauth1_provider_factory() -> Iterator[Callable[..., FakeProvider]]:
    started: list[FakeProvider] = []

    def factory(*args: Any, **kwargs: Any) -> FakeProvider:
        fake = FakeProvider(*args, **kwargs).start()
        started.append(fake)
        return fake

    yield factory
    for fake in reversed(started):
        fake.close()


@pytest.fixture
def oauth1_provider(oauth1_provider_factory: Callable[..., FakeProvider]) -> FakeProvider:
    return oauth1_provider_factory()


@pytest.fixture
def oauth1_login(oauth1_provider: FakeProvider) -> Callable[..., Any]:
    return functools.partial(login, provider=oauth1_provider)
