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

from collections.abc import Iterator

import httpx
import pytest

from tests.support.gunicorn_server import GunicornServer
from tests.support.provider import ProviderState, create_provider
from tests.support.servers import ServerThread

APP = "tests.reliability.apps:create_loop_killer_app()"


@pytest.fixture(scope="module")
def provider_server() -> Iterator[tuple[ServerThread, ProviderState]]:
    app, state = create_provider()
    with ServerThread(app, name="loop-provider") as server:
        yield server, state


def test_dead_loop_fails_the_call_in_flight_and_heals(provider_server: tuple[ServerThread, ProviderState]) -> None:
    server, state = provider_server
    token = state.issue_access_token("looper")
    env = {
        "RELIAB_PROVIDER_URL": server.url,
        "RELIAB_TOKEN": token.oauth_token,
        "RELIAB_TOKEN_SECRET": token.oauth_token_secret,
    }
    with (
        GunicornServer(APP, workers=1, worker_class="gthread", env=env) as app,
        httpx.Client(trust_env=False, timeout=8) as client,
    ):
        assert client.get(app.url + "/ame").json() == {"user": "looper"}  # the loop works
        try:
            in_flight = client.get(app.url + "/ame?kill=1")
        except httpx.ReadTimeout:
            pytest.fail("the call in flight when the loop died never finished (hung past 8 s)")
        assert in_flight.status_code == 503, in_flight.text
        assert in_flight.json()["error"] in ("TransportError", "RequestTimeoutError"), in_flight.text
        healed = client.get(app.url + "/ame")
        assert healed.status_code == 200, healed.text
        assert healed.json() == {"user": "looper"}
        assert client.get(app.url + "/me").json() == {"user": "looper"}
