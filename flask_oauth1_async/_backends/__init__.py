"""The backends of awaited calls: a name in ``client_kwargs['async_transport']`` -> a transport factory.

An :class:`httpx.AsyncClient` sends through a transport. The backends below
are the ones ``client_kwargs={"async_transport": NAME}`` can name; an
:class:`httpx.AsyncBaseTransport` object may be passed instead. Adding a
backend is one module in this package and one line in :data:`ASYNC_BACKENDS`
(see docs/how-it-works.rst).
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Callable
from typing import Any

from .._http import httpx
from ..errors import ConfigurationError

__all__ = ["ASYNC_BACKENDS", "AsyncBackend", "async_transport", "default_async_transport"]

#: ``factory(remote_name, client_kwargs, verify)`` -> a transport, or None for httpx's own.
#: The factory may take its transport options out of ``client_kwargs`` (which is the
#: caller's copy); ``verify`` is the resolved TLS setting.
AsyncBackend = Callable[[str, dict[str, Any], "ssl.SSLContext | bool"], "httpx.AsyncBaseTransport | None"]


def _httpx(name: str, kwargs: dict[str, Any], verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport | None:
    return None  # httpx builds its own (httpcore) transport from the client options


def _module_backend(module: str) -> AsyncBackend:
    def build(name: str, kwargs: dict[str, Any], verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport | None:
        # Imported on first use: the backend's dependencies are an optional extra.
        factory: AsyncBackend = importlib.import_module(f"{__name__}.{module}").build_transport
        return factory(name, kwargs, verify)

    return build


#: The backends ``client_kwargs['async_transport']`` may name.
ASYNC_BACKENDS: dict[str, AsyncBackend] = {
    "httpx": _httpx,
    "aiohttp": _module_backend("aiohttp"),
}

#: The backend awaited calls use when ``client_kwargs`` names none. It stays
#: ``"httpx"`` whether or not an extra is installed (see docs/benchmarks.rst);
#: the test suite sets it to run everything on the aiohttp backend.
default_async_transport = "httpx"


def async_transport(
    backend: str, name: str, kwargs: dict[str, Any], verify: ssl.SSLContext | bool
) -> httpx.AsyncBaseTransport | None:
    """The transport of backend *backend* for remote *name* (None: httpx's own)."""
    factory = ASYNC_BACKENDS.get(backend)
    if factory is None:
        raise ConfigurationError(
            f"client_kwargs['async_transport'] of {name!r} is {backend!r}; the named backends are "
            f"{', '.join(repr(b) for b in ASYNC_BACKENDS)} (or pass an httpx.AsyncBaseTransport)"
        )
    return factory(name, kwargs, verify)
