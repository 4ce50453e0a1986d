"""A real PostgreSQL server for tests: a throwaway cluster on 127.0.0.1 and a free port.

:func:`postgres_server` is a session-scoped pytest fixture (import it into a
test module or a ``conftest.py``) that yields a :class:`PostgresServer`: a
cluster made with ``initdb`` in a temporary directory, served by the
``postgres`` binary itself (no system service, no ``pg_ctlcluster``), reached
over TCP on 127.0.0.1 only (no Unix socket outside that directory), with
``scram-sha-256`` password authentication and a random password made for the
run. :meth:`PostgresServer.database` creates a fresh database for one test.
At the end of the session the server is stopped (SIGINT, PostgreSQL's "fast"
shutdown, a bounded wait, then SIGKILL) and the directory removed.

``initdb`` and ``postgres`` refuse to run as root. When the tests run as root
(CI does), both run as an unprivileged account, ``postgres`` when it exists
(Debian's package creates it) or ``nobody``, by a setuid in the child process
(``subprocess.Popen(user=..., group=...)``); the temporary directory is handed
to that account.

When the binaries are missing and the tests run as root on a machine with
``apt-get``, Debian's ``postgresql`` package is installed (no recommended
packages, service start-up blocked by a temporary ``/usr/sbin/policy-rc.d``,
one installer at a time across pytest-xdist workers). Otherwise the fixture
fails with a message saying what to install: it never skips.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.support.redis_server import free_port

__all__ = ["PostgresServer", "ensure_postgres_binaries", "postgres_server"]

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 15.0
_POLICY_RC = Path("/usr/sbin/policy-rc.d")
_DEFAULT_PORT = 5432
_SUPERUSER = "flask_oauth1_async"
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "flask_oauth1_async-apt.lock"


def _bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``: on PATH, or Debian's newest version."""
    initdb = shutil.which("initdb")
    if initdb:
        real = Path(initdb).resolve().parent
        if (real / "postgres").exists():
            return real
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    for candidate in reversed(versions):
        folder = Path(candidate).parent
        if (folder / "postgres").exists():
            return folder
    return None


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop_system_clusters() -> None:
    """Stop a cluster the Debian package may have started despite policy-rc.d (best effort, bounded)."""
    for command in (["service", "postgresql", "stop"], ["systemctl", "stop", "postgresql"]):
        if shutil.which(command[0]):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(command, capture_output=True, timeout=30, check=False)


def ensure_postgres_binaries() -> Path:
    """Return the folder of ``initdb`` and ``postgres``, installing Debian's package if needed (root only).

    Raises :class:`RuntimeError` (which the fixture turns into a test failure)
    when they are missing and cannot be installed.
    """
    found = _bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "PostgreSQL's server binaries (initdb, postgres) are not installed and cannot be installed here "
            "(needs root and apt-get); install them, e.g. `apt-get install postgresql`, and run the tests again"
        )
    with open(_INSTALL_LOCK, "w") as lock:  # one installer at a time (pytest-xdist workers)
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _bin_dir()
        if found is not None:
            return found
        was_listening = _listening(_DEFAULT_PORT)
        created_policy = False
        if not _POLICY_RC.exists():
            # "exit 101" tells invoke-rc.d that starting services is forbidden.
            _POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
            _POLICY_RC.chmod(0o755)
            created_policy = True
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            shell = (
                "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                "-o DPkg::Lock::Timeout=300 postgresql"
            )
            done = subprocess.run(
                ["sh", "-c", shell], env=env, capture_output=True, text=True, timeout=900, check=False
            )
        finally:
            if created_policy:
                _POLICY_RC.unlink(missing_ok=True)
        if not was_listening and _listening(_DEFAULT_PORT):
            _stop_system_clusters()
        found = _bin_dir()
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"installing Debian's postgresql failed (exit {done.returncode}): {done.stderr[-2000:]}")
        return found


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and there is neither a 'postgres' nor a 'nobody' account to run PostgreSQL as")


@dataclass
class PostgresServer:
    """One throwaway PostgreSQL cluster and its server process; use it as a context manager."""

    bin_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    workdir: str = ""
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    _created: int = 0

    def __repr__(self) -> str:
        return f"<PostgresServer 127.0.0.1:{self.port}>"

    # -- helpers for tests -------------------------------------------------

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL for *database* (the password is in it: do not log it)."""
        return f"{driver}://{_SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs: Any) -> Any:
        """A psycopg connection (autocommit) to *database*."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=_SUPERUSER,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
            **kwargs,
        )

    def database(self) -> str:
        """Create a new, empty database and return its name."""
        self._created += 1
        name = f"test_{os.getpid()}_{self._created}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name: str) -> None:
        """Drop database *name*, closing whatever is still connected to it."""
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- life cycle ----------------------------------------------------------

    def _popen(self, args: list[str], account: pwd.struct_passwd | None, **kwargs: Any) -> subprocess.Popen[bytes]:
        if account is not None:
            kwargs.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, cwd=self.workdir, env=env, **kwargs)

    def _initdb(self, account: pwd.struct_passwd | None) -> Path:
        data = Path(self.workdir) / "data"
        pwfile = Path(self.workdir) / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if account is not None:
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        log = Path(self.workdir) / "initdb.log"
        with open(log, "wb") as out:
            args = [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                _SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
            process = self._popen(args, account, stdout=out, stderr=subprocess.STDOUT)
            code = process.wait(120)
        pwfile.unlink()
        if code != 0:
            raise RuntimeError(f"initdb failed (exit {code}): {log.read_text(errors='replace')[-2000:]}")
        return data

    def start(self, attempts: int = 3) -> PostgresServer:
        """initdb in a temporary directory, start ``postgres`` on a free port, wait until it answers."""
        account = _run_as()
        self.workdir = tempfile.mkdtemp(prefix="test-postgres-")
        if account is not None:
            os.chown(self.workdir, account.pw_uid, account.pw_gid)
        data = self._initdb(account)
        last_log = ""
        for _ in range(attempts):
            self.port = free_port()
            log_path = Path(self.workdir) / f"postgres-{self.port}.log"
            args = [
                str(self.bin_dir / "postgres"),
                "-D",
                str(data),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"port={self.port}",
                "-c",
                f"unix_socket_directories={self.workdir}",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                # Lets tests ask which of two transactions committed last.
                "-c",
                "track_commit_timestamp=on",
                "-c",
                "max_connections=60",
            ]
            with open(log_path, "wb") as out:
                self.process = self._popen(args, account, stdout=out, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + _START_TIMEOUT
            while time.monotonic() < deadline and self.process.poll() is None:
                if self._answers():
                    return self
                time.sleep(0.1)
            last_log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            self._terminate()
        self.stop()
        raise RuntimeError(f"postgres did not accept connections on 127.0.0.1 after {attempts} attempts: {last_log}")

    def _answers(self) -> bool:
        if not _listening(self.port):
            return False
        try:
            with self.connect() as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except Exception:
            return False

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # "fast" shutdown: ends open sessions, no waiting on clients
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop the server and delete the cluster's directory."""
        self._terminate()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL on 127.0.0.1 for the whole session; fails, never skips, without one."""
    try:
        bin_dir = ensure_postgres_binaries()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    with PostgresServer(bin_dir) as server:
        yield server
