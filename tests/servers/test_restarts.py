"""Fresh starts of the setups whose app makes calls at import time, in the master, before the fork.

A pre-forking server that imports the app in its master (gunicorn
``--preload``, uWSGI without ``--lazy-apps``) forks workers out of a process
that has already made a blocking and an awaited call. A worker that hangs on
its first awaited call does not show on every start, so each variant here is
started :data:`STARTS` times, and on each start every worker must answer an
awaited call (the async login's request-token call in the library variant,
an ``httpx.AsyncClient`` call in the httpx baseline) within the request timeout.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.servers.harness import REQUEST_TIMEOUT, serve, variant_classes
from tests.servers.setups import SETUPS, Variant, variants

STARTS = 10
#: Concurrent requests per start (both workers get some: a hung one keeps its request).
REQUESTS = 4


class RestartChecks:
    variant: Variant

    def test_every_worker_answers_an_awaited_call_after_each_start(self) -> None:
        library = self.variant.client == "library"
        path, expected = ("/login/async", 302) if library else ("/call/async", 200)
        failures: list[str] = []
        for start in range(STARTS):
            with serve(self.variant) as served:

                def one(_: int) -> tuple[int | str, str]:
                    with served.client() as client:
                        try:
                            answer = client.get(path)
                        except httpx.TimeoutException:
                            return f"no answer within {REQUEST_TIMEOUT} s", "?"
                        return answer.status_code, answer.headers.get("x-worker-pid", "?")

                with ThreadPoolExecutor(4) as pool:
                    outcomes = list(pool.map(one, range(REQUESTS)))
                members = served.server.members()
                bad = [o for o in outcomes if o[0] != expected]
                if bad:
                    failures.append(f"start {start + 1}: {bad} (answers: {outcomes}; processes: {members})")
        assert not failures, f"[{self.variant.id}] {len(failures)} of {STARTS} starts had a worker that " + (
            "did not answer its awaited call:\n" + "\n".join(failures)
        )


_WITH_IMPORT_CALLS = [s for s in SETUPS if s.env.get("SERVERS_IMPORT_CALLS") == "1"]
globals().update(
    variant_classes(
        RestartChecks,
        [v for v in variants("library") + variants("httpx") if v.setup in _WITH_IMPORT_CALLS],
        prefix="TestRestarts",
    )
)


def test_the_restart_checks_cover_the_import_time_setups() -> None:
    assert {s.name for s in _WITH_IMPORT_CALLS} == {"gunicorn-preload", "uwsgi-2.0.26", "uwsgi-2.0.26-enable-threads"}
