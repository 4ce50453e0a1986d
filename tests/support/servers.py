"""Real HTTP(S) servers for tests: any WSGI app on 127.0.0.1, in a thread.

:class:`ServerThread` is the keep-alive HTTP/1.1 server that also serves the
fake provider (``flask_oauth1_async/testing/_server.py``, where its design is
described): it keeps connections alive, counts accepted TCP connections, can
add latency, and measures how many requests were handled at the same time.
:func:`make_tls` makes a throw-away CA and certificate for a TLS server.

Typical use::

    with ServerThread(app) as server:
        httpx.get(server.url + "/public")
        assert server.connections == 1

    tls = make_tls()
    with ServerThread(app, ssl_context=tls.server_context) as server:
        httpx.get(server.url, verify=tls.client_context)
    tls.close()
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType

import trustme

from flask_oauth1_async.testing._server import RequestRecord, ServerThread

__all__ = ["RequestRecord", "ServerThread", "TLSMaterial", "make_tls"]


# --------------------------------------------------------------------------- TLS


@dataclass
class TLSMaterial:
    """Certificates for a TLS test server, made by :func:`make_tls`.

    ``server_context`` serves a certificate valid for every requested host
    name (``127.0.0.1`` and ``localhost`` by default); ``client_context``
    trusts only the throw-away CA (pass it as ``httpx.Client(verify=...)``);
    ``ca_pem_path`` is that CA as a PEM file, for code that wants a path.
    Call :meth:`close` (or use ``with``) to delete the file.
    """

    ca: trustme.CA
    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    ca_pem_path: str

    def close(self) -> None:
        """Delete the CA file (idempotent)."""
        with suppress(FileNotFoundError):
            os.unlink(self.ca_pem_path)

    def __enter__(self) -> TLSMaterial:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def make_tls(hostnames: Iterable[str] = ("127.0.0.1", "localhost")) -> TLSMaterial:
    """Create a throw-away CA and a server certificate for *hostnames*."""
    names = list(hostnames)
    ca = trustme.CA()
    leaf = ca.issue_cert(*names)

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.set_alpn_protocols(["http/1.1"])
    leaf.configure_cert(server_context)

    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies host + chain
    ca.configure_trust(client_context)

    fd, path = tempfile.mkstemp(prefix="trustme-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(ca.cert_pem.bytes())
    return TLSMaterial(ca, server_context, client_context, path)
