"""Sending a request, as the flows need it: typed errors, deadlines, and the one redirect follower.

Sub-flows of the protocol steps (:mod:`.flows`): :func:`build` and
:func:`send` wrap the :class:`~._effects.Build` and :class:`~._effects.Send`
effects and turn httpx's errors into ours; :func:`follow_hops` follows redirects
hop by hop, re-signing those that stay on the first origin (httpx is never
left to follow them); :func:`derived_deadline` is the default deadline of a
login's token calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ._effects import Build, Deadline, DeadlineExceeded, Flow, Send, SendLabel
from ._http import httpx
from ._urls import origin_of, redact_url
from .errors import (
    RedirectRefusedError,
    RequestTimeoutError,
    SecretValues,
    TransportError,
    quote_body,
)
from .settings import RemoteSettings

__all__ = ["build", "derived_deadline", "follow_hops", "send", "token_deadline", "without_protocol_params"]

log = logging.getLogger("flask_oauth1_async")


def derived_deadline(http_options: Mapping[str, Any]) -> float | None:
    """The default deadline of a login's token calls: the sum of httpx's four timeouts.

    One request that uses the whole allowance of every phase - waiting for a
    pooled connection, connecting, sending, waiting for the answer - takes at
    most that long, so an honest provider is never cut short; a provider that
    resets httpx's read timeout by trickling bytes is. None when a timeout is
    turned off (the app then asked for no bound).
    """
    timeout = http_options.get("timeout", httpx.Timeout(5.0))
    if not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout)
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    if any(phase is None for phase in phases):
        return None
    return float(sum(phases))  # type: ignore[arg-type]


def token_deadline(settings: RemoteSettings) -> Deadline | None:
    if settings.deadline is False:
        return None
    seconds = settings.deadline if settings.deadline is not None else derived_deadline(settings.http_options)
    return None if seconds is None else Deadline.after(float(seconds))


def send(
    request: httpx.Request,
    follow_redirects: bool | None = None,
    label: SendLabel | None = None,
    *,
    limit: int | None = None,
    deadline: Deadline | None = None,
    secrets: SecretValues | None = None,
) -> Flow[httpx.Response]:
    """Send *request*, turning httpx's network errors into ours; *label* names the remote and step.

    *limit* bounds the bytes read of the answer and *deadline* the whole
    exchange (see :class:`~._effects.Send`); *secrets* are masked in any
    message that quotes what httpx said.
    """
    try:
        response: httpx.Response = yield Send(request, follow_redirects, label, limit=limit, deadline=deadline)
    except DeadlineExceeded as exc:
        url = redact_url(request.url)
        seconds = deadline.seconds if deadline is not None else 0.0
        raise RequestTimeoutError(
            f"{request.method} {url} did not finish within the call's deadline of {seconds:g} s "
            "(see the deadline setting)",
            url=url,
            original=exc.__cause__,
            deadline=seconds,
        ) from exc.__cause__
    except httpx.TimeoutException as exc:
        url = redact_url(request.url)
        raise RequestTimeoutError(
            f"timed out calling {request.method} {url} ({type(exc).__name__})", url=url, original=exc
        ) from exc
    except httpx.RequestError as exc:
        url = redact_url(request.url)
        raise TransportError(
            f"{type(exc).__name__} calling {request.method} {url}: {quote_body(str(exc), secrets=secrets)}",
            url=url,
            original=exc,
        ) from exc
    return response


def build(method: str, url: str, kwargs: dict[str, Any]) -> Flow[httpx.Request]:
    """Build a request with the client's defaults; a header value that is not ASCII raises :class:`TransportError`."""
    try:
        request: httpx.Request = yield Build(method, url, kwargs)
    except UnicodeEncodeError as exc:
        # httpx refuses it while building; a header value with CR, LF or NUL is
        # refused while sending (h11, aiohttp): both are the same local error.
        shown = redact_url(url)
        raise TransportError(
            f"cannot send {method} {shown}: a header or cookie value is not ASCII ({exc.reason})",
            url=shown,
            original=exc,
        ) from exc
    return request


def follow_hops(
    settings: RemoteSettings,
    response: httpx.Response,
    *,
    step: str,
    sent: int,
    sign: Callable[[httpx.Request], httpx.Request] | None,
    refuse_elsewhere: bool,
    limit: int | None,
    deadline: Deadline | None,
    secrets: SecretValues,
) -> Flow[tuple[httpx.Response, int]]:
    """Follow the redirects of *response* hop by hop; return the last answer and the count of requests sent.

    The one redirect follower of the package (httpx never follows for us).
    Each hop leaves the previous one's protocol parameters behind. A hop to
    the origin of the first request is signed again by *sign* (a fresh nonce
    and timestamp: a resent nonce is a replay). A hop to another origin is
    sent unsigned, and so is every hop after it - or, with
    *refuse_elsewhere* (the token endpoints), raises
    :class:`RedirectRefusedError` before anything goes there. More than
    ``max_redirects`` hops raise :class:`TransportError`.
    """
    first = response.request
    origin = origin_of(first.url)
    signing = sign is not None
    for _ in range(settings.max_redirects):
        if not response.is_redirect or response.next_request is None:
            return response, sent
        hop = without_protocol_params(response.next_request)
        if origin_of(hop.url) != origin:
            if refuse_elsewhere:
                location = redact_url(hop.url)
                raise RedirectRefusedError(
                    f"the {step.replace('_', ' ')} endpoint answered HTTP {response.status_code} with a redirect "
                    f"to another origin ({location}); a token request is never sent to another origin",
                    status_code=response.status_code,
                    location=location,
                )
            signing = False
        label = SendLabel(settings.name, step, sent)
        outgoing = sign(hop) if signing and sign is not None else hop
        response = yield from send(outgoing, False, label, limit=limit, deadline=deadline, secrets=secrets)
        sent += 1
    if response.is_redirect:
        raise TransportError(
            f"more than {settings.max_redirects} redirects calling {first.method} {redact_url(first.url)} "
            "(client_kwargs['max_redirects'])",
            url=redact_url(first.url),
        )
    return response, sent


def without_protocol_params(request: httpx.Request) -> httpx.Request:
    """*request* without an ``Authorization`` header or ``oauth_*`` parameters in its query or form body."""
    request.headers.pop("authorization", None)
    query = request.url.query.decode("ascii")
    if "oauth_" in query:
        kept = "&".join(p for p in query.split("&") if not p.startswith("oauth_"))
        request.url = request.url.copy_with(query=kept.encode("ascii") or None)
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            body = request.content
        except httpx.RequestNotRead:
            # httpx hands a 307/308 hop the first request's body stream, unread;
            # a form body is bytes in memory, so it can be read again here.
            body = request.read()
        if b"oauth_" in body:
            kept_body = b"&".join(p for p in body.split(b"&") if not p.startswith(b"oauth_"))
            headers = httpx.Headers(request.headers)
            headers.pop("content-length", None)
            request = httpx.Request(
                request.method, request.url, headers=headers, content=kept_body, extensions=request.extensions
            )
    return request
