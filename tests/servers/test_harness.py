"""The harness's own guarantees: the runner switch is where it should be, and SIGTERM survivors are caught."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

from tests.servers.launch import ServerProcess, free_port, group_members
from tests.servers.setups import RUNNER_VARIANTS, SETUPS, variants


def test_runner_switch_follows_the_package() -> None:
    """RUNNER_VARIANTS (tests/servers/setups.py) is on exactly when flask_oauth1_async.runner exists."""
    exists = importlib.util.find_spec("flask_oauth1_async.runner") is not None
    assert exists == RUNNER_VARIANTS, (
        "flask_oauth1_async.runner exists: set RUNNER_VARIANTS = True in tests/servers/setups.py"
        if exists
        else "RUNNER_VARIANTS is on but flask_oauth1_async.runner does not exist"
    )
    runners = {v.runner for v in variants("library")}
    assert runners == ({"off", "on"} if exists else {"off"})


def test_every_setup_runs_with_the_library_and_the_baseline() -> None:
    names = [s.name for s in SETUPS]
    assert len(set(names)) == len(names)
    assert [v.setup.name for v in variants("httpx")] == names
    assert [v.setup.name for v in variants("library") if v.runner == "off"] == names


# A "server" whose worker ignores SIGTERM: the leader serves readiness answers and dies on SIGTERM
# (its default action), the forked worker lives on (60 s at most, so nothing can outlive the run).
_STUBBORN = """
import http.server, os, signal, sys, time
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)
    os._exit(0)
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""


def test_a_worker_that_outlives_sigterm_is_reported_and_killed() -> None:
    port = free_port()
    server = ServerProcess("stubborn", [sys.executable, "-c", _STUBBORN, str(port)], port=port)
    with server.running(boot_timeout=30.0):
        members = server.members()
        assert len(members) == 2, members
        result = server.terminate(timeout=2.0)
        worker = next(pid for pid in members if pid != server.pid)
        assert result.returncode == -15
        assert result.survivors == [worker]
        assert group_members(server.pid) == []


def test_the_current_uwsgi_runs_python_threads_by_default() -> None:
    """The ``uwsgi*`` setups (but uwsgi-2.0.26) test a pyuwsgi with threads on by default: 2.0.27 or later."""
    version = tuple(int(part) for part in importlib.metadata.version("pyuwsgi").split(".")[:3])
    assert version >= (2, 0, 27), version
