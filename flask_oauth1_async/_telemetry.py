"""Optional OpenTelemetry client spans for the requests this package sends.

When ``opentelemetry-api`` can be imported (the ``otel`` extra), the drivers
of :mod:`._drivers` wrap every :class:`~._effects.Send` effect in a span of
kind CLIENT: one span per request put on the wire, so a retried call or a
redirect followed hop by hop gives one span per attempt or hop. The span is
started in the caller's context, so it becomes a child of whatever span is
current in the view (for an async view: around the await, on the view's own
loop, while the request itself runs on the pool's background loop).

What a span carries follows the OpenTelemetry HTTP client conventions where
they fit: ``http.request.method``, ``url.full`` *without* its query string or
fragment, ``url.scheme``, ``server.address``, ``server.port``,
``http.response.status_code``, ``http.request.resend_count`` for the second
and later sends of one call, ``error.type`` on failure (the exception's class,
or the status code for a 4xx/5xx answer), and the provider's rate-limit
headers as ``http.response.header.<name>``. Two attributes of our own name
the remote and the step: ``oauth1.remote`` and ``oauth1.step``
(``request_token``, ``access_token`` or ``resource``).

Nothing secret is recorded: no request header at all (so no
``Authorization``), no query string (where a signature, token or verifier
may travel), no body, and no exception message (only its class name).

Whether the API is importable is decided once, at import: without it,
:data:`ENABLED` is False and the drivers never call into this module.
"""

from __future__ import annotations

import importlib.metadata
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._http import httpx
from ._urls import redact_url

if TYPE_CHECKING:
    from ._effects import SendLabel

try:
    from opentelemetry import context as _context
    from opentelemetry import trace as _trace
except ImportError:  # the "otel" extra is not installed
    ENABLED = False
else:
    ENABLED = True

__all__ = ["ENABLED", "ClientSpan"]

#: Instrumentation scope name of our tracer.
TRACER_NAME = "flask_oauth1_async"

#: Request methods the HTTP conventions know; any other is reported as ``_OTHER``.
_KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Response headers kept as attributes: the usual rate-limit families and Retry-After.
_RATE_PREFIXES = ("x-rate-limit-", "x-ratelimit-", "ratelimit-")
_RATE_NAMES = frozenset({"ratelimit", "retry-after"})
#: Bounds, so that a provider cannot blow up a span with headers.
_MAX_RATE_HEADERS = 16
_MAX_HEADER_VALUE = 256

_tracer: _trace.Tracer | None = None


def _get_tracer() -> _trace.Tracer:
    # The tracer is made on first use. Until the application installs a
    # tracer provider, the API hands out a proxy that follows the provider
    # set later, so caching it here is safe.
    global _tracer
    if _tracer is None:
        # The installed distribution's version (the package's __version__), read without
        # importing the package from one of its own modules.
        try:
            version = importlib.metadata.version("flask_oauth1_async")
        except importlib.metadata.PackageNotFoundError:  # run from a source tree that is not installed
            version = None
        _tracer = _trace.get_tracer(TRACER_NAME, version)
    return _tracer


def rate_limit_attributes(headers: httpx.Headers) -> dict[str, list[str]]:
    """The rate-limit headers of a response, as ``http.response.header.<name>`` attributes."""
    found: dict[str, list[str]] = {}
    for key, value in headers.multi_items():
        name = key.lower()
        if name not in _RATE_NAMES and not name.startswith(_RATE_PREFIXES):
            continue
        attribute = "http.response.header." + name
        if attribute not in found:
            if len(found) >= _MAX_RATE_HEADERS:
                continue
            found[attribute] = []
        found[attribute].append(value[:_MAX_HEADER_VALUE])
    return found


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class ClientSpan:
    """A context manager: one CLIENT span around one send, current while it runs.

    ``with ClientSpan(request, label) as span: span.response(send(request))``.
    An exception leaving the block marks the span as failed (status ERROR,
    ``error.type``) and is re-raised; the span always ends.
    """

    __slots__ = ("_label", "_request", "_span", "_token")

    def __init__(self, request: httpx.Request, label: SendLabel | None) -> None:
        self._request = request
        self._label = label
        self._span: _trace.Span = _trace.INVALID_SPAN
        self._token: Token[_context.Context] | None = None

    def __enter__(self) -> ClientSpan:
        request, label = self._request, self._label
        url = request.url
        method = request.method.upper()
        attributes: dict[str, Any] = {
            "http.request.method": method if method in _KNOWN_METHODS else "_OTHER",
            "url.full": redact_url(url),
            "url.scheme": url.scheme,
            "server.address": url.host,
            "server.port": url.port or _DEFAULT_PORTS.get(url.scheme, 0),
        }
        if method not in _KNOWN_METHODS:
            attributes["http.request.method_original"] = request.method
        shown = method if method in _KNOWN_METHODS else "HTTP"
        if label is None:
            name = shown
        else:
            attributes["oauth1.remote"] = label.remote
            attributes["oauth1.step"] = label.step
            if label.resend:
                attributes["http.request.resend_count"] = label.resend
            name = f"{shown} {label.remote}" if label.step == "resource" else f"{shown} {label.remote} {label.step}"
        self._span = span = _get_tracer().start_span(
            name,
            kind=_trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._token = _context.attach(_trace.set_span_in_context(span))
        return self

    def response(self, response: httpx.Response) -> None:
        """Record the answer: its status and its rate-limit headers; a 4xx/5xx marks the span failed."""
        span = self._span
        if not span.is_recording():
            return
        status = response.status_code
        span.set_attribute("http.response.status_code", status)
        for key, values in rate_limit_attributes(response.headers).items():
            span.set_attribute(key, values)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(_trace.Status(_trace.StatusCode.ERROR))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        span = self._span
        try:
            if exc is not None and span.is_recording():
                error = _error_type(exc)
                span.set_attribute("error.type", error)
                span.set_status(_trace.Status(_trace.StatusCode.ERROR, error))
        finally:
            if self._token is not None:
                _context.detach(self._token)
            span.end()
