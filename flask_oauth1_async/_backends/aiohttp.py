"""The aiohttp backend of awaited calls (the ``aiohttp`` extra), selected with
``client_kwargs={"async_transport": "aiohttp"}``.

httpx-aiohttp's transport sends an :class:`httpx.AsyncClient`'s requests
through an :class:`aiohttp.ClientSession`, whose connection pool stays fast
with many idle connections and under fan-out (see docs/benchmarks.rst). This
module builds it from the remote's ``client_kwargs`` (our TLS context, the
timeouts, the proxy, no cookie jar) and maps aiohttp's errors to the httpx
classes the flows turn into ours.
"""

from __future__ import annotations

import importlib
import os
import ssl
from collections.abc import Callable
from typing import Any

from .._http import httpx
from .._tls import is_shared
from ..errors import ConfigurationError

__all__ = ["build_transport"]


def _aiohttp_missing(name: str) -> ConfigurationError:
    return ConfigurationError(
        f"client_kwargs['async_transport'] of {name!r} is 'aiohttp', which needs the optional "
        "dependency: pip install 'flask_oauth1_async[aiohttp]'"
    )


def _remap_aiohttp_error(exc: httpx.TransportError) -> httpx.TransportError:
    """Give an error of httpx-aiohttp's transport the httpx class that says what happened.

    httpx-aiohttp files every connection error it does not know (a server
    closing the connection mid-answer, a reset) under ``ConnectTimeout``, and
    lets aiohttp's own response errors through unmapped; our error types are
    chosen from the httpx class, so a dropped connection must not read as a
    timeout.
    """
    import aiohttp

    cause = exc.__cause__
    mapped: type[httpx.TransportError] | None = None
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        mapped = httpx.ConnectTimeout
    elif isinstance(cause, aiohttp.SocketTimeoutError):
        mapped = httpx.ReadTimeout
    elif isinstance(cause, aiohttp.ClientConnectorError):
        mapped = httpx.ConnectError
    elif isinstance(cause, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        mapped = httpx.RemoteProtocolError if isinstance(cause, aiohttp.ServerDisconnectedError) else httpx.ReadError
    elif isinstance(cause, aiohttp.ClientOSError):
        mapped = httpx.ReadError
    elif isinstance(cause, aiohttp.ClientConnectionError) and isinstance(exc, httpx.ConnectTimeout):
        mapped = httpx.NetworkError
    if mapped is None or type(exc) is mapped:
        return exc
    error = mapped(str(exc) or type(cause).__name__)
    error.__cause__ = cause
    return error


def build_transport(name: str, kwargs: dict[str, Any], verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport:
    """Build the aiohttp transport for awaited calls, moving the transport options out of *kwargs*.

    ``limits``, ``proxy``, ``cert`` and ``http1`` belong to the transport (httpx
    would otherwise build an httpcore transport for a proxy). What it keeps:
    our TLS context (``verify``), httpx's per-request timeouts (connect, read,
    and pool as aiohttp's connection-acquisition timeout; aiohttp has no
    write timeout), an explicit proxy or, with ``trust_env``, the proxy
    environment variables, and no cookie jar at all (aiohttp's session would
    otherwise keep response cookies and send them to the next user).
    """
    try:
        import aiohttp

        _httpx_aiohttp()  # fail early, with the install hint
    except ImportError:
        raise _aiohttp_missing(name) from None
    if kwargs.pop("http2", False):
        raise ConfigurationError(
            f"client_kwargs of {name!r} asks for http2, which the aiohttp backend does not speak; "
            "drop 'http2' or use async_transport='httpx'"
        )
    kwargs.pop("http1", None)
    limits = kwargs.pop("limits", None) or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    proxy = kwargs.pop("proxy", None)
    cert = kwargs.pop("cert", None)
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
    if cert:
        if is_shared(context):  # never give the shared context a client certificate
            context = httpx.create_ssl_context()
        if isinstance(cert, (str, os.PathLike)):
            context.load_cert_chain(cert)
        else:
            context.load_cert_chain(*cert)

    def session_factory() -> aiohttp.ClientSession:  # called on the client's loop, on first use
        connector = aiohttp.TCPConnector(
            ssl=context,
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry if limits.keepalive_expiry is not None else 15.0,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type", "User-Agent"),
            auto_decompress=False,
        )

    def build(proxy_url: httpx.Proxy | None) -> httpx.AsyncBaseTransport:
        return _fast_async_transport(verify=context, limits=limits, proxy=proxy_url, client=session_factory)

    if proxy is not None:
        return build(proxy if isinstance(proxy, httpx.Proxy) else httpx.Proxy(proxy))
    if kwargs.get("trust_env", True):
        env = importlib.import_module(httpx.__name__ + "._utils").get_environment_proxies()
        if env:
            mounts = dict(kwargs.pop("mounts", None) or {})
            for pattern, url in env.items():
                mounts.setdefault(pattern, None if url is None else build(httpx.Proxy(url)))
            kwargs["mounts"] = mounts
    return build(None)


def _httpx_aiohttp() -> Any:
    """httpx-aiohttp's module for the HTTP library in use (it ships one for httpx and one for httpx2)."""
    return importlib.import_module("httpx_aiohttp.httpx2" if httpx.__name__ == "httpx2" else "httpx_aiohttp")


def _fast_transport_class() -> type[httpx.AsyncBaseTransport]:
    base: type[httpx.AsyncBaseTransport] = _httpx_aiohttp().AiohttpTransport

    class FastAsyncTransport(base):  # type: ignore[valid-type,misc]
        """httpx-aiohttp's transport with errors that say what happened (:func:`_remap_aiohttp_error`).

        Its constructor is replaced: it would build a TLS context of its own,
        while ours comes ready (the session factory holds the connector). The
        request path reads ``client`` and ``proxy`` only (httpx-aiohttp 0.2).
        """

        def __init__(
            self,
            *,
            verify: ssl.SSLContext,
            limits: httpx.Limits,
            proxy: httpx.Proxy | None,
            client: Callable[[], Any],
        ) -> None:
            self.ssl_context = verify
            self.limits = limits
            self.proxy = proxy
            self.client = client

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if "transfer-encoding" not in request.headers:
                # An unread body with a known size (httpx hands a followed redirect the
                # original's stream unread): send it with its length, as httpcore does,
                # not as an empty chunked body.
                await request.aread()
            try:
                response: httpx.Response = await super().handle_async_request(request)
            except httpx.TransportError as exc:
                raise _remap_aiohttp_error(exc) from exc.__cause__
            except Exception as exc:
                import aiohttp

                if isinstance(exc, aiohttp.ClientError):  # not mapped by httpx-aiohttp: a bad answer
                    raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
                if isinstance(exc, ValueError):
                    # aiohttp refuses to write a header value with CR, LF or NUL with a plain
                    # ValueError; httpx's own transport (h11) calls it a LocalProtocolError.
                    raise httpx.LocalProtocolError(str(exc) or type(exc).__name__) from exc
                raise
            response.stream = _RemappedStream(response.stream)
            return response

    return FastAsyncTransport


class _RemappedStream(httpx.AsyncByteStream):
    """A response body whose read errors are remapped like the request's."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> Any:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise _remap_aiohttp_error(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


def _fast_async_transport(**options: Any) -> httpx.AsyncBaseTransport:
    global _fast_transport
    if _fast_transport is None:
        _fast_transport = _fast_transport_class()
    return _fast_transport(**options)


_fast_transport: type[httpx.AsyncBaseTransport] | None = None
