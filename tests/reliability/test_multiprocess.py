"""Two app processes sharing a real Redis: logins cross processes, a callback is used once.

Two gunicorn servers (one worker each, so a request can be sent to a chosen
process) serve :func:`tests.reliability.apps.create_shared_cache_app`, whose
``OAuth(app, cache=...)`` is Flask-Caching's ``RedisCache``, a plain
``redis.Redis`` client, or our :class:`~flask_oauth1_async.redis_cache.RedisCache`
over a sync or an async redis-py client, all on the session's real ``redis-server``
(:mod:`tests.support.redis_server`). Both share one ``SECRET_KEY``. The
provider is the real test provider, in this process, on 127.0.0.1; it counts
the access-token requests it receives.

* A login started on process A completes on process B (same session cookie).
* The same callback sent to A and B at the same moment (two threads behind a
  barrier, 20 rounds) must reach the provider's access-token endpoint exactly
  once per round, and the loser must get a 400, never a 500. The claim reads
  the entry and then deletes it, and only the caller whose ``delete`` removed
  it goes on (Flask-Caching and redis-py report that); ``RedisCache`` reads and
  deletes in one ``GETDEL``.

redis-py's client works as the cache object as it is: ``set(key, value, 600)``
puts 600 in its third positional parameter ``ex`` (expiry in seconds),
``get`` returns bytes (which the library decodes) and ``delete`` returns the
number of keys removed.

Before the claim checked ``delete``'s answer (one trial): Flask-Caching 8 of
20 rounds reached the provider twice and answered 500; redis-py 12 of 20
rounds twice, 6 answered 500 and in 5 both callbacks got 200 (the test
provider's own request-token exchange is not atomic either, so it issued two
access tokens).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from flask_oauth1_async.testing import FakeProvider
from tests.reliability.apps import provider_env
from tests.support.fake import register_settings
from tests.support.gunicorn_server import GunicornServer
from tests.support.redis_server import RedisServer

APP = "tests.reliability.apps:create_shared_cache_app()"
ROUNDS = 20
CACHES = ("flask-caching", "redis", "redis-cache", "redis-cache-async")


@dataclass
class Pair:
    a: GunicornServer
    b: GunicornServer
    provider: FakeProvider


@pytest.fixture(params=CACHES)
def pair(request: pytest.FixtureRequest, redis_server: RedisServer, provider: FakeProvider) -> Iterator[Pair]:
    env = {
        **provider_env(register_settings(provider)),
        "RELIAB_REDIS_URL": redis_server.url,
        "RELIAB_CACHE": request.param,
    }
    with GunicornServer(APP, workers=1, env=env) as a, GunicornServer(APP, workers=1, env=env) as b:
        provider.reset()
        yield Pair(a, b, provider)


def _session_cookie(response: httpx.Response) -> str:
    cookie = response.headers.get("set-cookie", "")
    assert cookie.startswith("session="), cookie
    return cookie.split(";", 1)[0]


def _start(pair: Pair, http: httpx.Client) -> tuple[str, str]:
    """Log in on A and consent at the provider; return (callback path with query, session cookie)."""
    login = http.get(pair.a.url + "/s/login")
    assert login.status_code == 302, login.text
    cookie = _session_cookie(login)
    consent = http.get(login.headers["Location"] + "&user=alice")
    assert consent.status_code == 302, consent.text
    callback = urlsplit(consent.headers["Location"])
    assert callback.path == "/s/callback"
    assert "oauth_verifier" in dict(parse_qsl(callback.query))
    return f"{callback.path}?{callback.query}", cookie


def _send(
    barrier: threading.Barrier, client: httpx.Client, url: str, cookie: str, statuses: dict[str, int], name: str
) -> None:
    barrier.wait()
    statuses[name] = client.get(url, headers={"Cookie": cookie}).status_code


def test_login_started_on_one_process_completes_on_the_other(pair: Pair) -> None:
    with httpx.Client(trust_env=False, timeout=10) as http:
        pid_a = http.get(pair.a.url + "/").json()["pid"]
        pid_b = http.get(pair.b.url + "/").json()["pid"]
        assert pid_a != pid_b
        callback, cookie = _start(pair, http)
        done = http.get(pair.b.url + callback, headers={"Cookie": cookie})
    assert done.status_code == 200, done.text
    assert done.json() == {"screen_name": "alice", "pid": pid_b}
    assert len(pair.provider.received("access_token")) == 1


def test_same_callback_on_both_processes_at_once_reaches_the_provider_once(pair: Pair) -> None:
    outcomes: Counter[str] = Counter()
    hits_per_round: list[int] = []
    with (
        httpx.Client(trust_env=False, timeout=10) as http,
        httpx.Client(trust_env=False, timeout=10) as to_a,
        httpx.Client(trust_env=False, timeout=10) as to_b,
    ):
        for _ in range(ROUNDS):
            callback, cookie = _start(pair, http)
            to_a.get(pair.a.url + "/")  # warm connections: the two callbacks leave together
            to_b.get(pair.b.url + "/")
            before = len(pair.provider.received("access_token"))
            barrier = threading.Barrier(2, timeout=10)
            statuses: dict[str, int] = {}
            threads = [
                threading.Thread(target=_send, args=(barrier, to_a, pair.a.url + callback, cookie, statuses, "a")),
                threading.Thread(target=_send, args=(barrier, to_b, pair.b.url + callback, cookie, statuses, "b")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert len(statuses) == 2, statuses
            hits_per_round.append(len(pair.provider.received("access_token")) - before)
            outcomes["+".join(str(s) for s in sorted(statuses.values()))] += 1
    print(f"\ndouble callbacks: outcomes {dict(outcomes)}; access-token requests per round {hits_per_round}")
    statuses_seen = {status for key in outcomes for status in key.split("+")}
    assert not any(s.startswith("5") for s in statuses_seen), f"a 5xx answered a duplicate callback: {dict(outcomes)}"
    assert outcomes == Counter({"200+400": ROUNDS}), dict(outcomes)
    assert hits_per_round == [1] * ROUNDS, hits_per_round
