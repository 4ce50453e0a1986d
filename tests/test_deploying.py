"""What docs/deploying.rst says about running the app in several workers and behind a proxy.

* Every worker needs the same ``SECRET_KEY``: a login started in one worker
  may finish in another (here: two apps, each a "worker", served on
  127.0.0.1, one browser whose cookies both see).
* With a cache for temporary credentials, every worker needs the same
  (shared) cache, for the same reason.
* Behind a reverse proxy, werkzeug's ``ProxyFix`` makes the callback URL
  carry the public scheme and host: the provider sends the browser back to
  the ``oauth_callback`` the app signed, and that is what is checked.

The provider is :class:`~flask_oauth1_async.testing.FakeProvider`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cachelib import SimpleCache
from flask import Flask, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_oauth1_async import OAuth
from flask_oauth1_async.testing import FakeProvider
from tests.support.servers import ServerThread


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def _worker(fake: FakeProvider, secret_key: str, cache: Any = None) -> tuple[Flask, OAuth]:
    """One "worker": the same app code, built again (as each worker process does)."""
    app = Flask("deploy-worker")
    app.secret_key = secret_key
    oauth = OAuth(app, cache=cache)
    oauth.register("demo", **fake.register_kwargs())

    @app.get("/login")
    def login() -> Any:
        return oauth.demo.authorize_redirect(url_for("callback", _external=True))

    @app.get("/callback")
    def callback() -> Any:
        token = oauth.demo.authorize_access_token()
        return {"screen_name": token["screen_name"]}

    return app, oauth


def _login_across(fake: FakeProvider, first: tuple[Flask, OAuth], second: tuple[Flask, OAuth]) -> httpx.Response:
    """Start the login on the first worker, let the provider approve, finish it on the second."""
    with (
        ServerThread(first[0], name="worker-1") as one,
        ServerThread(second[0], name="worker-2") as two,
        httpx.Client(trust_env=False, timeout=10) as browser,  # cookies are per host: both workers see them
        httpx.Client(verify=fake.ssl_context, trust_env=False, timeout=10) as to_provider,
    ):
        try:
            start = browser.get(one.url + "/login")
            assert start.status_code == 302, start.text
            consent = to_provider.get(start.headers["location"] + "&user=alice")
            assert consent.status_code == 302, consent.text
            callback = consent.headers["location"]
            assert callback.startswith(one.url + "/callback?")
            return browser.get(two.url + callback[len(one.url) :])
        finally:
            first[1].close()
            second[1].close()


def test_the_same_secret_key_in_every_worker(fake: FakeProvider) -> None:
    answer = _login_across(fake, _worker(fake, "one shared key"), _worker(fake, "one shared key"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"screen_name": "alice"}


def test_a_secret_key_per_worker_breaks_logins_that_change_worker(fake: FakeProvider) -> None:
    answer = _login_across(fake, _worker(fake, "key of worker 1"), _worker(fake, "key of worker 2"))
    assert answer.status_code == 400, answer.text


def test_a_shared_cache_serves_every_worker(fake: FakeProvider) -> None:
    shared = SimpleCache()  # stands for Redis & co: one store that every worker reaches
    answer = _login_across(fake, _worker(fake, "key", shared), _worker(fake, "key", shared))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"screen_name": "alice"}


def test_a_cache_per_worker_breaks_logins_that_change_worker(fake: FakeProvider) -> None:
    answer = _login_across(fake, _worker(fake, "key", SimpleCache()), _worker(fake, "key", SimpleCache()))
    assert answer.status_code == 400, answer.text


PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"}


def _callback_sent(fake: FakeProvider, app: Flask) -> str:
    """The ``oauth_callback`` the app signed, as the provider uses it: the approval's redirect target."""
    with httpx.Client(verify=fake.ssl_context, trust_env=False, timeout=10) as to_provider:
        start = app.test_client().get("/login", headers=PROXY_HEADERS)
        assert start.status_code == 302, start.get_data(as_text=True)
        consent = to_provider.get(start.headers["Location"] + "&user=alice")
        assert consent.status_code == 302, consent.text
        return consent.headers["location"].split("?", 1)[0]


def test_behind_a_proxy_proxyfix_gives_the_public_callback_url(fake: FakeProvider) -> None:
    app, oauth = _worker(fake, "key")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    try:
        assert _callback_sent(fake, app) == "https://app.example.com/callback"
    finally:
        oauth.close()


def test_behind_a_proxy_without_proxyfix_the_callback_url_is_the_internal_one(fake: FakeProvider) -> None:
    app, oauth = _worker(fake, "key")
    try:
        assert _callback_sent(fake, app) == "http://localhost/callback"
    finally:
        oauth.close()
