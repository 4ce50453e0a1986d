"""The checks the matrix runs on every variant (used by test_library.py and test_baseline.py).

*signed* says whether the app signs its calls (the library) or calls the
provider plainly (the httpx baseline): signed calls must be accepted by the
provider (its call records say ``valid``, for the logged-in test user).
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from flask_oauth1_async.testing import ProviderCall
from tests.servers.harness import REQUEST_TIMEOUT, Served
from tests.servers.setups import FANOUT

__all__ = ["bounded_load", "def_after_async", "fanout", "login", "one_call", "sigterm"]

USER = "alice"
LOAD_REQUESTS = 20
LOAD_CONCURRENCY = 4
#: Rounds of (async view, def view) until a def view answered on a worker that ran an async one.
ROUNDS = 15


def _check_call_record(served: Served, record: ProviderCall, path: str, signed: bool) -> None:
    assert record.path == path, served.explain(what=f"the provider saw {record.path!r}, not {path!r}")
    if signed:
        assert (record.signed, record.valid, record.user) == (True, True, USER), served.explain(
            what=f"the provider did not accept the signed call: {record}"
        )
    else:
        assert not record.signed, served.explain(what=f"the baseline's call was signed: {record}")


def login(served: Served, kind: str) -> httpx.Client:
    """The whole login through the server: start -> provider's authorize page -> callback. Returns the client."""
    client = served.client()
    try:
        before = len(served.fake.token_requests)
        start = served.get(client, f"/login/{kind}")
        assert start.status_code == 302, served.explain(start, f"/login/{kind} did not redirect")
        location = start.headers["location"]
        assert location.startswith(served.fake.authorize_url + "?"), served.explain(start, "not to the provider")
        with served.browser() as browser:
            consent = browser.get(f"{location}&user={USER}")  # approve as USER
        assert consent.status_code == 302, served.explain(consent, "the provider did not redirect back")
        callback = consent.headers["location"]
        assert callback.startswith(f"{served.url}/callback/{kind}?"), served.explain(
            consent, f"the callback URL the app sent is {callback!r}"
        )
        done = served.get(client, callback)
        assert done.status_code == 200, served.explain(done, "the callback failed")
        answer = done.json()
        assert (answer["view"], answer["screen_name"]) == (kind, USER), served.explain(done)
        exchanges = [r for r in served.fake.token_requests[before:] if r.endpoint == "access_token"]
        assert [(r.valid, r.user) for r in exchanges] == [(True, USER)], served.explain(
            what=f"access-token exchanges the provider saw: {exchanges}"
        )
    except BaseException:
        client.close()
        raise
    return client


def _call_answer(served: Served, response: httpx.Response, kind: str, signed: bool) -> dict[str, Any]:
    assert response.status_code == 200, served.explain(response, f"the {kind} view failed")
    answer: dict[str, Any] = response.json()
    assert (answer["view"], answer["status"]) == (kind, 200), served.explain(response)
    if signed:
        assert answer["body"]["screen_name"] == USER, served.explain(response)
    return answer


def one_call(served: Served, client: httpx.Client, kind: str, signed: bool) -> None:
    """One call to the provider's ``me`` from a *kind* (``def`` or ``async``) view."""
    before = len(served.fake.calls)
    response = served.get(client, f"/call/{kind}")
    _call_answer(served, response, kind, signed)
    records = served.fake.calls[before:]
    assert len(records) == 1, served.explain(what=f"the provider saw {records}")
    _check_call_record(served, records[0], "me", signed)


def fanout(served: Served, client: httpx.Client, signed: bool) -> None:
    """An async view gathers five calls; the provider must have had all five in flight together."""
    before = len(served.fake.calls)
    response = served.get(client, "/fanout", timeout=REQUEST_TIMEOUT + FANOUT * served.gate.timeout)
    assert response.status_code == 200, served.explain(response, "the fan-out view failed")
    assert response.json()["statuses"] == [200] * FANOUT, served.explain(response)
    records = served.fake.calls[before:]
    assert len(records) == FANOUT, served.explain(what=f"the provider saw {records}")
    for record in records:
        _check_call_record(served, record, "slow", signed)
    assert served.gate.max_in_flight == FANOUT, served.explain(
        what=f"the five calls did not overlap: at most {served.gate.max_in_flight} were in flight together"
    )


def def_after_async(served: Served, client: httpx.Client, signed: bool) -> None:
    """A ``def`` view on a worker that has run an ``async def`` view answers 200 with its JSON."""
    async_pids: set[int] = set()
    async_problems: list[str] = []
    answers: list[tuple[int, int, str]] = []  # (worker pid, status, body start) of the def views
    for _ in range(ROUNDS):
        try:
            first = client.get("/call/async")
        except httpx.TimeoutException:
            async_problems.append(f"the async view did not answer within {REQUEST_TIMEOUT} s")
        else:
            async_pids.add(int(first.headers.get("x-worker-pid", "0")))
            if first.status_code != 200:
                async_problems.append(f"the async view answered {first.status_code}: {first.text[:300]}")
        after = served.get(client, "/call/def")
        answers.append((int(after.headers.get("x-worker-pid", "0")), after.status_code, after.text[:300]))
        if async_problems or any(pid in async_pids for pid, _, _ in answers):
            break
    failed = [a for a in answers if a[1] != 200]
    assert not failed, served.explain(
        what=f"def views after async ones answered {failed} (async views: {async_problems or 'fine'})"
    )
    assert any(pid in async_pids for pid, _, _ in answers), served.explain(
        what=f"no def view answered on a worker that ran an async view ({async_problems or 'pids ' + str(answers)})"
    )
    # The def views that answered are real answers, not just 200s.
    response = served.get(client, "/call/def")
    _call_answer(served, response, "def", signed)


def bounded_load(served: Served, client: httpx.Client, signed: bool) -> None:
    """20 calls, half from def views and half from async ones, four at a time: all answered and accepted."""
    before = len(served.fake.calls)
    lock = threading.Lock()
    outcomes: list[tuple[str, int | str]] = []

    def one(index: int) -> None:
        kind = "def" if index % 2 else "async"
        try:
            response = client.get(f"/call/{kind}")
            outcome: int | str = response.status_code
            if response.status_code == 200:
                _call_answer(served, response, kind, signed)
        except httpx.TimeoutException:
            outcome = "timeout"
        except AssertionError:
            outcome = "wrong answer"
        with lock:
            outcomes.append((kind, outcome))

    with ThreadPoolExecutor(LOAD_CONCURRENCY) as pool:
        list(pool.map(one, range(LOAD_REQUESTS)))
    bad = sorted((kind, str(outcome)) for kind, outcome in outcomes if outcome != 200)
    assert not bad, served.explain(what=f"{len(bad)} of {LOAD_REQUESTS} requests failed: {bad}")
    records = served.fake.calls[before:]
    assert len(records) == LOAD_REQUESTS, served.explain(what=f"the provider saw {len(records)} calls")
    for record in records:
        _check_call_record(served, record, "me", signed)


def sigterm(served: Served) -> None:
    """SIGTERM to the server: it and every worker exit (bounded; survivors are killed and fail the check)."""
    setup = served.variant.setup
    members = served.server.members()
    assert served.server.pid in members, served.explain(what=f"the server is not running: {members}")
    result = served.server.terminate(timeout=15.0)
    assert not result.survivors, served.explain(
        what=f"still alive 15 s after SIGTERM, then killed: {result.survivors} (of {result.members})"
    )
    assert result.returncode in setup.clean_exit, served.explain(
        what=f"the server exited with status {result.returncode}, expected one of {setup.clean_exit}"
    )
    if setup.gunicorn:
        # A worker that stops by itself logs "Worker exiting"; one the master SIGKILLs when
        # --graceful-timeout runs out does not (and the master does not always get to say so).
        text = served.server.log_text
        booted = re.findall(r"Booting worker with pid: (\d+)", text)
        exited = set(re.findall(r"Worker exiting \(pid: (\d+)\)", text))
        stuck = [pid for pid in booted if pid not in exited]
        assert booted, served.explain(what="no worker booted?")
        killed = stuck or re.findall(r"Worker \(pid:(\d+)\) was sent SIGKILL", text)
        assert not killed, served.explain(
            what=f"workers {killed} did not stop within --graceful-timeout: the master killed them"
        )
