"""A real gunicorn (separate worker processes) serving a test WSGI app on 127.0.0.1.

Usage::

    with GunicornServer("tests.reliability.apps:create_app()", env={"X": "1"}) as server:
        httpx.get(server.url + "/pid")

The app is given as gunicorn's ``"module:factory()"`` string; configuration
goes through environment variables (*env*), because the workers are other
processes. The server runs ``python -m gunicorn`` with the current
interpreter, 2 workers by default, ``worker_class`` ``"sync"`` or
``"gthread"`` (2 threads per worker), and ``--preload`` on request. It binds a
free port on 127.0.0.1, waits until every worker has booted and a request to
*ready_path* is answered, and on exit sends SIGTERM, waits (bounded) and kills
the process group if needed. The server's log is kept in :attr:`log_text`
for failure messages.

:func:`gunicorn_factory` is a fixture returning a starter; every server it
started is stopped at teardown.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from tests.support.redis_server import free_port

__all__ = ["GunicornServer", "gunicorn_factory"]

_ROOT = Path(__file__).resolve().parents[2]
_BOOT_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_BOOTED = re.compile(r"Booting worker with pid: (\d+)")


class GunicornServer:
    """One gunicorn master and its workers (see the module docstring)."""

    def __init__(
        self,
        app: str,
        *,
        workers: int = 2,
        worker_class: str = "sync",
        preload: bool = False,
        env: dict[str, str] | None = None,
        ready_path: str = "/",
        timeout: int = 30,
    ) -> None:
        if worker_class not in ("sync", "gthread"):
            raise ValueError(f"worker_class must be 'sync' or 'gthread', not {worker_class!r}")
        self.app = app
        self.workers = workers
        self.worker_class = worker_class
        self.preload = preload
        self.env = dict(env or {})
        self.ready_path = ready_path
        self.timeout = timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_text(self) -> str:
        """What gunicorn wrote so far (stdout and stderr)."""
        if self._log_file is None:
            return ""
        return Path(self._log_file.name).read_text(errors="replace")

    @property
    def worker_pids(self) -> list[int]:
        """PIDs of the workers that booted, in boot order (from the log)."""
        return [int(pid) for pid in _BOOTED.findall(self.log_text)]

    def _command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--timeout",
            str(self.timeout),
            "--graceful-timeout",
            "3",
            "--log-level",
            "info",
            "--chdir",
            str(_ROOT),
        ]
        if self.worker_class == "gthread":
            command += ["--threads", "2"]
        if self.preload:
            command.append("--preload")
        command.append(self.app)
        return command

    def start(self) -> GunicornServer:
        """Start gunicorn and wait until all workers booted and *ready_path* answers."""
        self.port = free_port()
        self._log_file = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            self._command(),
            cwd=_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can kill every worker
        )
        deadline = time.monotonic() + _BOOT_TIMEOUT
        with httpx.Client(timeout=2.0, trust_env=False) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                if len(self.worker_pids) >= self.workers:
                    try:
                        probe.get(self.url + self.ready_path)
                    except httpx.TransportError:
                        pass
                    else:
                        return self
                time.sleep(0.1)
        log = self.log_text
        self.stop()
        raise RuntimeError(f"gunicorn did not become ready on {self.url}:\n{log[-4000:]}")

    def stop(self) -> None:
        """SIGTERM the master, wait (bounded), then SIGKILL the whole process group."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(_STOP_TIMEOUT)
            # Workers are in the master's group; none may outlive the test.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()

    def cleanup(self) -> None:
        """Delete the log file (after :meth:`stop`)."""
        if self._log_file is not None:
            Path(self._log_file.name).unlink(missing_ok=True)
            self._log_file = None

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.cleanup()


@pytest.fixture
def gunicorn_factory() -> Iterator[Callable[..., GunicornServer]]:
    """``gunicorn_factory(app, **options)`` starts a :class:`GunicornServer`; all are stopped at teardown."""
    started: list[GunicornServer] = []

    def start(app: str, **options: object) -> GunicornServer:
        server = GunicornServer(app, **options)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
        server.cleanup()
