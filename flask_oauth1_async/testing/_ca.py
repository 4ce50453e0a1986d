"""The fake provider's TLS: one throw-away certificate authority per process, made by ``trustme``.

The CA signs a certificate for ``127.0.0.1`` and ``localhost`` each time a
provider starts; the client side gets an SSL context that trusts the system's
CAs and this one, which the app under test receives through
``client_kwargs={"verify": ...}``.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

__all__ = ["tls_contexts"]

_lock = threading.Lock()
_authority: Any = None


def _certificate_authority() -> Any:
    """The process's CA, made on first use (a few milliseconds)."""
    global _authority
    with _lock:
        if _authority is None:
            import trustme

            _authority = trustme.CA(organization_name="flask_oauth1_async fake provider")
        return _authority


def tls_contexts(*hosts: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for *hosts*, and a client context that trusts it."""
    authority = _certificate_authority()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.set_alpn_protocols(["http/1.1"])
    authority.issue_cert(*hosts).configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    authority.configure_trust(client)
    return server, client
