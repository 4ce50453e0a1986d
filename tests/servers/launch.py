"""Start a server command on 127.0.0.1, wait until it answers, stop it by pid.

Every server runs in its own session (``start_new_session=True``), so its
process group is the leader's pid: the leader and every worker it forks (or
spawns) are in it. :meth:`ServerProcess.terminate` sends SIGTERM to the leader
the way a supervisor does and waits, bounded, until no process of the group is
left; :meth:`ServerProcess.kill` SIGKILLs the group, and is what the fixtures
call in their ``finally``, whatever happened before.

Processes of the group are found in ``/proc`` (Linux): a zombie (exited,
waiting to be reaped) counts as gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["BootError", "ServerProcess", "StopResult", "free_port", "group_members"]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of *pid* from /proc, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes whose process group is *pgid*."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[2] == pgid and stat[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return sorted(found)


class BootError(RuntimeError):
    """The server did not answer its readiness request in time (the log is in the message)."""

    def __init__(self, message: str, *, port_taken: bool = False) -> None:
        super().__init__(message)
        #: The port was in use (by another test's server): starting again on another port may work.
        self.port_taken = port_taken


@dataclass
class StopResult:
    """What :meth:`ServerProcess.terminate` saw."""

    #: The leader's exit status (negative: killed by that signal); None when it had to be killed.
    returncode: int | None
    #: Processes of the group still alive when the wait ran out (they were then SIGKILLed).
    survivors: list[int] = field(default_factory=list)
    #: Every process seen in the group just before SIGTERM.
    members: list[int] = field(default_factory=list)


class ServerProcess:
    """One server command (see the module docstring).

    *argv* is the command, *env* is added to this process's environment, and
    ``PYTHONPATH`` gets the repository root in front (and *pythonpath*, if
    given, in front of that). The output goes to a temporary file:
    :attr:`log_text`.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        env: dict[str, str] | None = None,
        pythonpath: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.env = dict(env or {})
        self.pythonpath = list(pythonpath)
        self.process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def log_text(self) -> str:
        """What the server printed so far."""
        if self._log_path is None:
            return ""
        with contextlib.suppress(FileNotFoundError):
            return self._log_path.read_text(errors="replace")
        return ""

    def log_tail(self, chars: int = 6000) -> str:
        text = self.log_text
        return text if len(text) <= chars else "...\n" + text[-chars:]

    def members(self) -> list[int]:
        """The live processes of this server's group (the leader and its workers)."""
        return group_members(self.pid) if self.process is not None else []

    def start(self, *, ready_path: str = "/", boot_timeout: float = 60.0) -> ServerProcess:
        """Start the command and wait (bounded) until *ready_path* answers 200."""
        fd, log = tempfile.mkstemp(prefix=f"server-{self.name}-", suffix=".log")
        self._log_path = Path(log)
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join([*self.pythonpath, str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        with os.fdopen(fd, "wb") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, whose id is its pid
            )
        deadline = time.monotonic() + boot_timeout
        last_error = "no answer yet"
        with httpx.Client(timeout=5.0, trust_env=False) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    last_error = f"the server exited with status {self.process.returncode}"
                    break
                try:
                    answer = probe.get(self.url + ready_path, headers={"Connection": "close"})
                except httpx.TransportError as exc:
                    last_error = repr(exc)
                else:
                    pid = answer.headers.get("x-worker-pid")
                    if pid is not None and int(pid) not in self.members():
                        # Another server got this port first (free_port() is only a guess).
                        last_error = f"the port is served by process {pid}, which is not ours"
                        break
                    if answer.status_code == 200:
                        return self
                    last_error = f"{ready_path} answered {answer.status_code}"
                time.sleep(0.2)
        log = self.log_tail()
        self.kill()
        taken = "not ours" in last_error or "Address already in use" in log or "address already in use" in log
        raise BootError(f"{self.name} did not become ready on {self.url} ({last_error}):\n{log}", port_taken=taken)

    def terminate(self, timeout: float = 15.0) -> StopResult:
        """SIGTERM the leader and wait until every process of the group exited.

        The wait is bounded by *timeout* seconds; whatever is still alive then
        is SIGKILLed and listed in :attr:`StopResult.survivors`.
        """
        process = self.process
        assert process is not None, "not started"
        members = self.members()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        returncode: int | None = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            returncode = process.wait(max(0.1, deadline - time.monotonic()))
        while time.monotonic() < deadline and group_members(process.pid):
            time.sleep(0.1)
        survivors = group_members(process.pid)
        if returncode is None and process.poll() is None:
            survivors = sorted({process.pid, *survivors})
        if survivors:
            self.kill()
        return StopResult(returncode, survivors, members)

    def kill(self) -> None:
        """SIGKILL every process of the group and reap the leader (idempotent)."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        deadline = time.monotonic() + 10
        while group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def cleanup(self) -> None:
        """Kill what is left and delete the log file."""
        self.kill()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def running(self, **start: float | str) -> Iterator[ServerProcess]:
        """Start, yield, and kill the group in ``finally`` (whatever the test did)."""
        try:
            self.start(**start)  # type: ignore[arg-type]
            yield self
        finally:
            self.cleanup()
