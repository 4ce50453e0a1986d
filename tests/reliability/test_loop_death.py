"""The library's background event loop dies mid-call: typed error, then healing (issue 10, item 2).

Served by a real gunicorn (one gthread worker, 2 threads) so that a call that
hangs stays in that process, which teardown kills. The app
(:func:`tests.reliability.apps.create_loop_killer_app`) registers an async
event hook that, when armed, stops the library's loop, so the loop thread
ends and closes the loop while a call is in flight.

Expected once issue 10 is fixed: the in-flight call fails with an
:class:`~flask_oauth1_async.OAuth1Error` subclass within its 1 s timeout (the
view answers 503 with the class name), the next awaited call works on a new
loop, and blocking calls are never affected. Today the in-flight call hangs
forever (the test's own 8 s client timeout fires), so this test FAILS; later
awaited calls fail with an untyped ``RuntimeError('Event loop is closed')``.
"""

from __future__ import annotations

import httpx
import pytest

from flask_oauth1_async.testing import FakeProvider
from tests.reliability.apps import provider_env
from tests.support.fake import register_settings
from tests.support.gunicorn_server import GunicornServer

APP = "tests.reliability.apps:create_loop_killer_app()"


def test_dead_loop_fails_the_call_in_flight_and_heals(provider: FakeProvider) -> None:
    provider.add_user("looper")
    env = provider_env(register_settings(provider), provider.issue_token("looper"))
    with (
        GunicornServer(APP, workers=1, worker_class="gthread", env=env) as app,
        httpx.Client(trust_env=False, timeout=8) as client,
    ):
        assert client.get(app.url + "/a/me").json() == {"user": "looper"}  # the loop works
        try:
            in_flight = client.get(app.url + "/a/me?kill=1")
        except httpx.ReadTimeout:
            pytest.fail("the call in flight when the loop died never finished (hung past 8 s)")
        assert in_flight.status_code == 503, in_flight.text
        assert in_flight.json()["error"] in ("TransportError", "RequestTimeoutError"), in_flight.text
        healed = client.get(app.url + "/a/me")
        assert healed.status_code == 200, healed.text
        assert healed.json() == {"user": "looper"}
        assert client.get(app.url + "/s/me").json() == {"user": "looper"}
