"""Fixtures for the login example's tests: the app, wired to a fake provider.

Run them from the repository root with ``pytest examples/login_app/tests``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from flask_oauth1_async.testing import FakeProvider

EXAMPLES = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)

from login_app import create_app, oauth  # noqa: E402
from login_app.store import db  # noqa: E402

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]


@pytest.fixture(params=["session", "simple"])
def app(
    request: pytest.FixtureRequest, oauth1_provider: FakeProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The login example talking to the fake provider as its "demo" provider.

    It runs twice: request tokens in the session cookie, and in a cachelib cache.
    """
    monkeypatch.setenv("LOGIN_APP_INSTANCE", str(tmp_path))
    monkeypatch.delenv("OAUTH1_PROVIDER", raising=False)
    app = create_app({"SECRET_KEY": "example-tests", "OAUTH1_CACHE": request.param, **oauth1_provider.config("DEMO")})
    yield app
    oauth.close()
    with app.app_context():  # close the pooled SQLite connections (Python 3.13 warns about unclosed ones)
        db.engine.dispose()
