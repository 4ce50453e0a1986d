"""The harness of the server matrix: a provider and a server per variant, and a client for the app.

Each variant (a setup of :mod:`tests.servers.setups` with a client and a
runner) gets its own :class:`~flask_oauth1_async.testing.FakeProvider` (HTTPS,
its CA written to a PEM file that the server's app trusts) and its own server
process, started once for the variant's checks and stopped by pid at the end,
whatever happened. Each variant is a test class (:func:`variant_classes`), and
``--dist loadscope`` spreads the classes over pytest-xdist workers: the
checks of one variant stay together, in order.

Every wait is bounded: requests time out after :data:`REQUEST_TIMEOUT`
seconds, servers must answer within 60 s of their start and exit within 15 s
of SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from flask_oauth1_async.testing import FakeProvider, ProviderCall
from tests.servers.launch import BootError, ServerProcess, free_port
from tests.servers.setups import FANOUT, Variant

#: Seconds a request to a server under test may take before it counts as a hang.
REQUEST_TIMEOUT = 10.0
#: The fan-out's five calls are held by the provider until all five are in (or this many seconds).
GATE_TIMEOUT = 3.0
SECRET_KEY = "server-matrix-secret-key-shared-by-every-worker"


class Gate:
    """A provider handler that holds each call until *size* calls are in flight together.

    If the calls arrive one after another, each is released after *timeout*
    seconds and :attr:`max_in_flight` stays below *size*: the overlap is
    measured, not the wall time.
    """

    def __init__(self, size: int, timeout: float) -> None:
        self.size = size
        self.timeout = timeout
        self._cond = threading.Condition()
        self._in_flight = 0
        self._open = False
        self.max_in_flight = 0

    def __call__(self, call: ProviderCall) -> dict[str, Any]:
        with self._cond:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self._in_flight >= self.size:
                self._open = True
                self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: self._open, self.timeout)
                return {"in_flight": self._in_flight}
            finally:
                self._in_flight -= 1


def _ca_pem(fake: FakeProvider) -> str:
    """The PEM of the CA that signed *fake*'s certificate (found among the CAs its client context trusts)."""
    context = fake.ssl_context
    assert context is not None
    for info, der in zip(context.get_ca_certs(), context.get_ca_certs(binary_form=True), strict=True):
        subject = {key: value for rdn in info["subject"] for key, value in rdn}
        if "fake provider" in str(subject.get("organizationName", "")):
            return ssl.DER_cert_to_PEM_cert(der)
    raise AssertionError("the FakeProvider's CA is not among the CAs of its client context")


@dataclass
class Served:
    """A variant's provider and running server."""

    variant: Variant
    fake: FakeProvider
    gate: Gate
    server: ServerProcess

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        """A client for the app (its own cookie jar); ``Connection: close`` where the setup needs it."""
        headers = {} if self.variant.setup.keepalive else {"Connection": "close"}
        return httpx.Client(base_url=self.url, timeout=timeout, trust_env=False, headers=headers)

    def browser(self) -> httpx.Client:
        """A client for the provider's authorize page (it trusts the provider's CA)."""
        assert self.fake.ssl_context is not None
        return httpx.Client(verify=self.fake.ssl_context, timeout=REQUEST_TIMEOUT, trust_env=False)

    def explain(self, response: httpx.Response | None = None, what: str = "") -> str:
        """A failure message: the answer (if any) and the end of the server's log."""
        head = what
        if response is not None:
            head += f"\n{response.request.method} {response.request.url} answered {response.status_code}: "
            head += response.text[:800]
        return f"[{self.variant.id}] {head}\n--- server log ---\n{self.server.log_tail()}"

    def get(self, client: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
        """GET *path*; a timeout or a dropped connection fails the test with the server's log."""
        try:
            return client.get(path, **kwargs)
        except httpx.TimeoutException:
            timeout = kwargs.get("timeout", client.timeout.read)
            pytest.fail(self.explain(what=f"GET {path}: no answer within {timeout} s (a hang)"))
        except httpx.TransportError as exc:
            pytest.fail(self.explain(what=f"GET {path}: {exc!r}"))


@contextlib.contextmanager
def serve(variant: Variant) -> Iterator[Served]:
    """Start a FakeProvider and the variant's server; stop both (the server by pid) whatever happens."""
    setup = variant.setup
    if setup.pythonpath and not all(setup.pythonpath):
        raise RuntimeError(
            f"{setup.name} needs SERVERS_UWSGI_LEGACY_PATH (a directory with pyuwsgi==2.0.26 installed with "
            "pip install --target): run it through 'nox -s servers'"
        )
    gate = Gate(FANOUT, GATE_TIMEOUT)
    with FakeProvider() as fake, tempfile.TemporaryDirectory(prefix="server-matrix-") as tmp:
        for path in ("me", "slow", "ping"):
            fake.public(path)  # the httpx baseline calls them unsigned; signed calls are still checked
        fake.respond("slow", handler=gate)
        ca_file = os.path.join(tmp, "provider-ca.pem")
        with open(ca_file, "w") as handle:
            handle.write(_ca_pem(fake))
        env = {
            "SERVERS_PROVIDER": fake.url,
            "SERVERS_CA_FILE": ca_file,
            "SERVERS_CLIENT_ID": fake.client_id,
            "SERVERS_CLIENT_SECRET": fake.client_secret,
            "SERVERS_SECRET_KEY": SECRET_KEY,
            **variant.env,
        }
        with contextlib.ExitStack() as stack:
            for attempt in range(3):  # free_port() is a guess: a server of another test may take the port first
                port = free_port()
                server = ServerProcess(variant.id, setup.command(port), port=port, env=env, pythonpath=setup.pythonpath)
                try:
                    stack.enter_context(server.running(boot_timeout=60.0))
                except BootError as exc:
                    if exc.port_taken and attempt < 2:
                        continue
                    raise
                break
            if setup.banner and setup.banner not in server.log_text:
                raise RuntimeError(f"{variant.id}: {setup.banner!r} not in the server's log:\n{server.log_tail()}")
            yield Served(variant, fake, gate, server)


def variant_classes(checks: type, found: list[Variant], prefix: str = "Test") -> dict[str, type]:
    """One test class per variant: *checks* with ``variant`` set, named *prefix* + the variant's id in CamelCase.

    pytest-xdist's ``--dist loadscope`` keeps each class on one worker, its tests in order.
    """
    classes: dict[str, type] = {}
    for variant in found:
        name = prefix + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", variant.id))
        assert name not in classes, f"two variants make the class name {name}"
        classes[name] = type(name, (checks,), {"variant": variant, "__doc__": variant.setup.note or variant.id})
    return classes
