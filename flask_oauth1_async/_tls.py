"""The process-wide verifying TLS context, and what ``client_kwargs['verify']`` may name.

Loading the CA bundle costs tens of milliseconds, so it is done once and the
context is shared by every client this package creates (an
:class:`ssl.SSLContext` is safe to share between threads and clients). A
client certificate is never loaded into the shared context: see
:func:`private_copy_if_shared`.
"""

from __future__ import annotations

import os
import ssl
import threading

from ._http import httpx
from .errors import ConfigurationError

__all__ = ["default_ssl_context", "is_shared", "resolve_verify"]

_lock = threading.Lock()
_shared: ssl.SSLContext | None = None


def default_ssl_context() -> ssl.SSLContext:
    """Return the process-wide verifying TLS context, building it once."""
    global _shared
    ctx = _shared
    if ctx is None:
        # A lock copied held into a forked child could block here; building
        # the context twice in a race is harmless, so no lock is taken to read.
        ctx = httpx.create_ssl_context()
        with _lock:
            if _shared is None:
                _shared = ctx
            ctx = _shared
    return ctx


def is_shared(context: object) -> bool:
    """True if *context* is the process-wide context (which must never get a client certificate)."""
    return context is not None and context is _shared


def resolve_verify(verify: object) -> ssl.SSLContext | bool:
    """The TLS setting a client gets for ``client_kwargs['verify']``."""
    if verify is True:
        return default_ssl_context()
    if verify is False or isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, (str, os.PathLike)):
        path = os.fspath(verify)
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    raise ConfigurationError("client_kwargs['verify'] must be True, False, an ssl.SSLContext or a CA bundle path")
