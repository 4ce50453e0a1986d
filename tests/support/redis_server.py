"""A real ``redis-server`` for tests, on 127.0.0.1 and a random free port.

:func:`redis_server` is a session-scoped pytest fixture (make it visible with
``from tests.support.redis_server import redis_server`` in a ``conftest.py``)
that yields a :class:`RedisServer`; ``.url`` is ``redis://127.0.0.1:PORT/0``.
The server keeps nothing on disk (``--save "" --appendonly no``), runs in a
temporary directory and is stopped at the end of the session (SIGTERM, a
bounded wait, then SIGKILL).

When ``redis-server`` is not on ``PATH`` and the tests run as root on a
machine with ``apt-get``, Debian's ``redis-server`` package is installed with
service start-up blocked by a temporary ``/usr/sbin/policy-rc.d`` (and any
daemon the package still started is stopped), so no system Redis is left
listening. Otherwise the fixture fails with a message saying what to install:
it never skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest

__all__ = ["RedisServer", "ensure_redis_server_binary", "free_port", "redis_ping", "redis_server"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_POLICY_RC = Path("/usr/sbin/policy-rc.d")
_DEFAULT_PORT = 6379


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server on 127.0.0.1:*port* answers ``PING`` with ``+PONG``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop_system_redis() -> None:
    """Stop a Redis daemon the Debian package may have started (best effort, bounded)."""
    for command in (["service", "redis-server", "stop"], ["systemctl", "stop", "redis-server"]):
        if shutil.which(command[0]):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(command, capture_output=True, timeout=20, check=False)
    if _listening(_DEFAULT_PORT) and shutil.which("redis-cli"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "-p", str(_DEFAULT_PORT), "shutdown", "nosave"],
                capture_output=True,
                timeout=10,
                check=False,
            )


def ensure_redis_server_binary() -> str:
    """Return the path of ``redis-server``, installing Debian's package if needed (root only).

    Raises :class:`RuntimeError` (which the fixture turns into a test failure)
    when it is missing and cannot be installed.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "redis-server is not installed and cannot be installed here (needs root and apt-get); "
            "install it, e.g. `apt-get install redis-server`, and run the tests again"
        )
    was_listening = _listening(_DEFAULT_PORT)
    created_policy = False
    if not _POLICY_RC.exists():
        # "exit 101" tells invoke-rc.d that starting services is forbidden.
        _POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        _POLICY_RC.chmod(0o755)
        created_policy = True
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        shell = "apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server"
        done = subprocess.run(["sh", "-c", shell], env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        if created_policy:
            _POLICY_RC.unlink(missing_ok=True)
    if not was_listening and _listening(_DEFAULT_PORT):
        _stop_system_redis()
    found = shutil.which("redis-server")
    if done.returncode != 0 or not found:
        raise RuntimeError(f"installing Debian's redis-server failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return found


@dataclass
class RedisServer:
    """One running ``redis-server`` process; use it as a context manager."""

    binary: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    workdir: str = ""

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 3) -> RedisServer:
        """Start on a free port (retrying if another process grabbed it first) and wait for PING."""
        self.workdir = tempfile.mkdtemp(prefix="test-redis-")
        last_log = ""
        for _ in range(attempts):
            self.port = free_port()
            log_path = Path(self.workdir) / f"redis-{self.port}.log"
            args = [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--logfile",
                str(log_path),
            ]
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, cwd=self.workdir)
            deadline = time.monotonic() + _START_TIMEOUT
            while time.monotonic() < deadline and self.process.poll() is None:
                if redis_ping(self.port):
                    return self
                time.sleep(0.05)
            last_log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            self._terminate()
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING on 127.0.0.1 after {attempts} attempts: {last_log}")

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop the server (SIGTERM, bounded wait, SIGKILL) and delete its directory."""
        self._terminate()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis on 127.0.0.1 for the whole session (no persistence); fails, never skips, without one."""
    try:
        binary = ensure_redis_server_binary()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    with RedisServer(binary) as server:
        yield server
