"""gevent and eventlet in one process: no hang without a long-lived loop, and a dead runner loop fails fast.

Each case runs :mod:`tests.servers.green_script` in a child process (the
monkey-patching must not reach pytest's own process), against a FakeProvider
of this process; the child's answer is one JSON line. A child that outlives
its bound is killed by pid and the test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flask_oauth1_async.testing import FakeProvider
from tests.servers.harness import _ca_pem

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def provider_env() -> Iterator[dict[str, str]]:
    with FakeProvider() as fake, tempfile.TemporaryDirectory(prefix="green-") as tmp:
        ca_file = os.path.join(tmp, "ca.pem")
        Path(ca_file).write_text(_ca_pem(fake))
        token = fake.issue_token("alice")
        yield {
            "SERVERS_PROVIDER": fake.url,
            "SERVERS_CA_FILE": ca_file,
            "SERVERS_CLIENT_ID": fake.client_id,
            "SERVERS_CLIENT_SECRET": fake.client_secret,
            "SERVERS_TOKEN": token["oauth_token"],
            "SERVERS_TOKEN_SECRET": token["oauth_token_secret"],
        }


def _run(green: str, case: str, env: dict[str, str]) -> dict[str, Any]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.green_script", green, case],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the {green} child hung ({case}); stderr:\n{err[-3000:]}")
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("green", ["gevent", "eventlet"])
def test_an_awaited_call_without_a_long_lived_loop_names_the_fix_and_the_worker_stays_healthy(
    green: str, provider_env: dict[str, str]
) -> None:
    seen = _run(green, "flask-runner", provider_env)
    assert seen["async"]["error"] == "ConfigurationError", seen
    assert "flask_oauth1_async.runner.AsyncRunner(app)" in seen["async"]["message"], seen
    assert seen["def"] == {"status": 200, "json": {"user": "alice"}}, seen


@pytest.mark.parametrize("green", ["gevent", "eventlet"])
def test_a_view_waiting_on_a_runner_loop_that_dies_fails_and_the_next_view_works(
    green: str, provider_env: dict[str, str]
) -> None:
    seen = _run(green, "runner-killed", provider_env)
    assert seen["before"] == {"status": 200, "json": {"user": "alice"}}, seen
    assert seen["killed"]["status"] == 502, seen
    assert seen["killed"]["json"]["error"] == "TransportError", seen
    assert "the runner's event loop stopped" in seen["killed"]["json"]["message"], seen
    assert seen["after"] == {"status": 200, "json": {"user": "alice"}}, seen
    assert seen["def"] == {"status": 200, "json": {"user": "alice"}}, seen
