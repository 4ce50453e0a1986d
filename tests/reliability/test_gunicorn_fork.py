"""The library after ``fork``: real gunicorn workers (sync and gthread) of a ``--preload`` app.

The app (:func:`tests.reliability.apps.create_preloaded_resource_app`) makes a
blocking and an awaited call in the gunicorn master, so its pooled clients and
loop thread exist before the workers are forked. Every worker must still make
signed calls from ``def`` and ``async def`` views (fresh pools in the child,
no hang on a parent's loop), and the answers must come from two different
worker processes.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from flask_oauth1_async.testing import FakeProvider
from tests.reliability.apps import provider_env
from tests.support.fake import register_settings
from tests.support.gunicorn_server import GunicornServer

APP = "tests.reliability.apps:create_preloaded_resource_app()"


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_preloaded_app_calls_from_every_forked_worker(worker_class: str, provider: FakeProvider) -> None:
    provider.add_user("forky")
    env = provider_env(register_settings(provider), provider.issue_token("forky"))
    with GunicornServer(APP, worker_class=worker_class, preload=True, env=env) as app:
        answers: list[tuple[str, int, dict[str, object]]] = []
        lock = threading.Lock()

        def call(path: str) -> None:
            with httpx.Client(trust_env=False, timeout=10) as client:
                response = client.get(app.url + path)
            with lock:
                answers.append((path, response.status_code, response.json() if response.status_code == 200 else {}))

        for _ in range(10):  # bounded: until both workers answered both views
            threads = [threading.Thread(target=call, args=(p,)) for p in ("/s/me", "/a/me", "/s/me", "/a/me")]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            pids = {(path, body.get("pid")) for path, _, body in answers}
            if all(len({pid for p, pid in pids if p == path}) == 2 for path in ("/s/me", "/a/me")):
                break
        assert all(status == 200 for _, status, _ in answers), answers
        assert all(body["user"] == "forky" for _, _, body in answers), answers
        workers = set(app.worker_pids)
        assert len(workers) == 2
        for path in ("/s/me", "/a/me"):
            assert {body["pid"] for p, _, body in answers if p == path} == workers, (path, answers)
