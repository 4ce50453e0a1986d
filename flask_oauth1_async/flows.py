"""The OAuth 1.0a protocol steps, each written once as a flow.

A flow is a generator that yields effects (:mod:`._effects`) and returns a
plain result. The steps here know nothing of Flask: they take the settings,
the signer, the temporary-credential store, a session *mapping*, the
callback query as a *mapping* and the token, and they return the authorize
URL, the token or the response. The remote-app layer (:mod:`.remote`) reads
the request, the session and :data:`flask.g`, and builds the redirect.

* :func:`start_login` - fetch a request token, keep it, return the authorize URL;
* :func:`finish_login` - check the callback, claim the request token, fetch the access token;
* :func:`call_resource` - a signed (or unsigned) API call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._effects import TRUNCATED, Build, Deadline, DeadlineExceeded, Flow, Send, SendLabel, Sleep
from ._http import httpx
from ._urls import format_origin, join_url, origin_of, redact_url
from .config import RemoteSettings, refuse_plaintext_over_http
from .errors import (
    MAX_QUOTED_BODY,
    AccessDeniedError,
    AccessTokenRefusedError,
    CallbackNotConfirmedError,
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    MissingVerifierError,
    OriginNotAllowedError,
    ProviderHTTPError,
    RateLimitedError,
    RedirectRefusedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    SecretValues,
    TransportError,
    mask_secrets,
    quote_body,
)
from .retry import RetryPolicy, retry_after_seconds
from .signing import Signer
from .temporary_credentials import PendingLogins
from .tokens import OAuth1Token, TokenSlot, resolve_token

__all__ = [
    "DENIED_PROBLEMS",
    "MAX_REQUEST_TOKEN",
    "MAX_TOKEN_FIELDS",
    "MAX_TOKEN_RESPONSE",
    "Login",
    "base_string_of",
    "build",
    "call_resource",
    "derived_deadline",
    "finish_login",
    "join_url",
    "parse_token_response",
    "refusal",
    "send",
    "start_login",
]

log = logging.getLogger("flask_oauth1_async")

#: ``oauth_problem`` (or Authlib-style ``error``) values that mean "the user said no".
DENIED_PROBLEMS = frozenset({"user_refused", "permission_denied", "access_denied"})

#: The most bytes read from a token endpoint's answer. A token answer is a few
#: hundred bytes; the rest of a longer one is never read (see ResponseTooLargeError).
MAX_TOKEN_RESPONSE = 64 * 1024
#: The most fields parsed from a token endpoint's answer (form fields or JSON members).
MAX_TOKEN_FIELDS = 100
#: The longest request token, and request-token secret, kept for a pending login (it
#: travels in the session cookie, which browsers drop beyond about 4 kB).
MAX_REQUEST_TOKEN = 256


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


def _token_deadline(settings: RemoteSettings) -> Deadline | None:
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


def _body_text(response: httpx.Response) -> str:
    try:
        return response.text
    except (UnicodeDecodeError, LookupError):
        return response.content.decode("latin-1")


def _token_value(value: Any) -> Any:
    # Scalars become strings, as in a form-encoded answer; nested JSON
    # objects and arrays keep their structure.
    if isinstance(value, (dict, list)):
        return value
    return str(value)


def _too_many_fields(endpoint: str, status: int, text: str, secrets: SecretValues | None) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"the {endpoint} endpoint answered HTTP {status} with more than {MAX_TOKEN_FIELDS} fields; "
        "a token answer has a handful",
        limit=MAX_TOKEN_FIELDS,
        body_excerpt=quote_body(text, secrets=secrets),
    )


def parse_token_response(
    response: httpx.Response,
    endpoint: str,
    refused: type[ProviderHTTPError] = ProviderHTTPError,
    *,
    secrets: SecretValues | None = None,
) -> dict[str, Any]:
    """Parse a request-token or access-token answer, or raise a typed error.

    A non-2xx answer raises *refused* (a :class:`ProviderHTTPError`), with
    the status and a masked excerpt; a 2xx answer without a token raises
    :class:`InvalidTokenResponseError`, and one that was cut at
    :data:`MAX_TOKEN_RESPONSE` bytes or holds more than
    :data:`MAX_TOKEN_FIELDS` fields :class:`ResponseTooLargeError`. Every
    value of *secrets* is masked in what the errors quote.
    """
    text = _body_text(response)
    if not response.is_success:
        raise refusal(response, endpoint, text, refused, secrets=secrets)
    status = response.status_code
    if response.extensions.get(TRUNCATED):
        raise ResponseTooLargeError(
            f"the {endpoint} endpoint answered HTTP {status} with more than {MAX_TOKEN_RESPONSE} bytes; "
            "a token answer is a few hundred bytes, and the rest was not read",
            limit=MAX_TOKEN_RESPONSE,
            body_excerpt=quote_body(text, secrets=secrets),
        )
    data: dict[str, Any] = {}
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested beyond the parser's depth
            loaded = None
        if isinstance(loaded, dict):
            if len(loaded) > MAX_TOKEN_FIELDS:
                raise _too_many_fields(endpoint, status, text, secrets)
            data = {str(k): _token_value(v) for k, v in loaded.items() if v is not None}
    else:
        stripped = text.strip()
        if stripped.count("&") >= MAX_TOKEN_FIELDS:
            raise _too_many_fields(endpoint, status, text, secrets)
        try:
            data = dict(parse_qsl(stripped, keep_blank_values=True, max_num_fields=MAX_TOKEN_FIELDS))
        except ValueError:
            data = {}
    if (
        not isinstance(data.get("oauth_token"), str)
        or not data["oauth_token"]
        or not isinstance(data.get("oauth_token_secret"), str)
    ):
        excerpt = quote_body(text, secrets=secrets)
        raise InvalidTokenResponseError(
            f"the {endpoint} endpoint answered HTTP {response.status_code} without a token "
            f"(expected a form-encoded oauth_token and oauth_token_secret): {excerpt}",
            body_excerpt=excerpt,
        )
    return data


_CLOCK_PROBLEMS = frozenset({"timestamp_refused", "timestamp_invalid", "timestamp_expired"})


def _problem_fields(response: httpx.Response, text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    with contextlib.suppress(ValueError):  # also: more fields than a problem report has
        fields.update(parse_qsl(text.strip(), keep_blank_values=True, max_num_fields=MAX_TOKEN_FIELDS))
    header = response.headers.get("www-authenticate", "")
    if "oauth_problem" in header and "oauth_problem" not in fields:
        for part in header.replace("OAuth ", "", 1).split(","):
            key, _, value = part.strip().partition("=")
            fields.setdefault(key, value.strip('"'))
    return fields


def base_string_of(response: httpx.Response, secrets: SecretValues | None = None) -> str:
    """The signature base string of the request behind *response*, secrets masked ("" if unsigned)."""
    try:
        request = response.request
    except RuntimeError:
        return ""
    return mask_secrets(str(request.extensions.get("oauth1_base_string", "")), secrets)


def refusal(
    response: httpx.Response,
    endpoint: str,
    text: str,
    refused: type[ProviderHTTPError] = ProviderHTTPError,
    *,
    secrets: SecretValues | None = None,
) -> ProviderHTTPError:
    """The typed error for a non-2xx token-endpoint answer, with what helps explain it.

    It carries the status, a masked excerpt of the body, the provider's
    ``oauth_problem`` (from the body or ``WWW-Authenticate``), the base string
    we signed (masked) and, for a 429/420, the seconds to wait. A timestamp
    refusal says how far our clock is off when the provider tells its
    acceptable range. Every value of *secrets* is masked in all of them.
    """
    status = response.status_code
    fields = _problem_fields(response, text)
    problem = quote_body(fields.get("oauth_problem", ""), MAX_QUOTED_BODY, secrets)
    detail = f" (oauth_problem={quote_body(problem, 60)})" if problem else ""
    if problem in _CLOCK_PROBLEMS:
        detail += "; the provider refused our oauth_timestamp: check this server's clock"
        low, _, high = fields.get("oauth_acceptable_timestamps", "").partition("-")
        if low.isdigit() and high.isdigit():
            offset = (int(low) + int(high)) // 2 - int(time.time())
            detail += f", or register the remote with client_kwargs={{'timestamp_offset': {offset}}}"
        else:
            detail += ", or set client_kwargs['timestamp_offset'] (seconds)"
    excerpt = quote_body(text, secrets=secrets)
    base = base_string_of(response, secrets)
    cls: type[ProviderHTTPError] = RateLimitedError if status in (420, 429) else refused
    error = cls(
        f"the {endpoint} endpoint answered HTTP {status}{detail}: {excerpt}",
        status_code=status,
        body_excerpt=excerpt,
        oauth_problem=problem,
        base_string=base,
        retry_after=retry_after_seconds(response.headers),
    )
    log.debug("the %s endpoint refused a signed request (HTTP %s); we signed: %s", endpoint, status, base)
    return error


def _with_params(url: str, params: Mapping[str, Any]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode([(k, v) for k, v in params.items() if v is not None])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _params_kwargs(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if not params:
        return {}
    return {"data" if method in ("POST", "PUT") else "params": dict(params)}


class Login(NamedTuple):
    """The result of :func:`finish_login`."""

    #: The access token, with the provider's extra fields.
    token: OAuth1Token
    #: The "next" URL stored when the login started, if any.
    next_url: str | None


def _token_exchange(
    settings: RemoteSettings,
    request: httpx.Request,
    sign: Callable[[httpx.Request], httpx.Request],
    step: str,
    deadline: Deadline | None,
    secrets: SecretValues,
) -> Flow[httpx.Response]:
    """Send a signed token-endpoint request: bounded answer, deadline, same-origin redirects only.

    httpx never follows a redirect here. With ``follow_redirects`` on, the
    package follows it: a hop to the same origin is signed anew, a hop to
    another origin raises :class:`RedirectRefusedError`.
    """
    label = SendLabel(settings.name, step)
    response = yield from send(
        sign(request), False, label, limit=MAX_TOKEN_RESPONSE, deadline=deadline, secrets=secrets
    )
    if settings.follow_redirects:
        response, _ = yield from _follow(
            settings,
            response,
            step=step,
            sent=1,
            sign=sign,
            refuse_elsewhere=True,
            limit=MAX_TOKEN_RESPONSE,
            deadline=deadline,
            secrets=secrets,
        )
    return response


def start_login(
    settings: RemoteSettings,
    signer: Signer,
    store: PendingLogins,
    session: MutableMapping[str, Any],
    callback: str,
    authorize_kwargs: Mapping[str, Any],
    next_url: str | None = None,
) -> Flow[str]:
    """Fetch a request token, keep it in *store*, and return the authorize URL.

    *callback* is the absolute callback URL, or ``"oob"`` for PIN logins.
    *authorize_kwargs* are added to the authorize URL, over ``authorize_params``.
    *next_url* (already checked) is kept with the pending login, never sent.
    """
    request_token_url = settings.require("request_token_url")
    authorize_url = settings.require("authorize_url")
    deadline = _token_deadline(settings)
    secrets = SecretValues()
    method = settings.request_token_method
    req = yield from build(method, request_token_url, _params_kwargs(method, settings.request_token_params))

    def sign(request: httpx.Request) -> httpx.Request:
        return signer.sign(request, callback=callback, secrets=secrets)

    response = yield from _token_exchange(settings, req, sign, "request_token", deadline, secrets)
    data = parse_token_response(response, "request token", secrets=secrets)
    if settings.require_callback_confirmed and data.get("oauth_callback_confirmed", "").lower() != "true":
        raise CallbackNotConfirmedError(
            "the request token answer does not carry oauth_callback_confirmed=true, which RFC 5849 "
            "section 2.1 requires (an OAuth 1.0a provider); if this provider only speaks legacy "
            "OAuth 1.0, register it with require_callback_confirmed=False"
        )
    for field in ("oauth_token", "oauth_token_secret"):
        if len(data[field]) > MAX_REQUEST_TOKEN:
            raise InvalidTokenResponseError(
                f"the request token answer holds an {field} of {len(data[field])} characters; at most "
                f"{MAX_REQUEST_TOKEN} are kept for a pending login, which travels in the session cookie"
            )
    yield from store.save(session, data["oauth_token"], data["oauth_token_secret"], next_url)
    params: dict[str, Any] = {**settings.authorize_params, **authorize_kwargs}
    if settings.authorize_consumer_key_param:
        params[settings.authorize_consumer_key_param] = settings.client_id
    params[settings.authorize_token_param] = data["oauth_token"]
    log.debug("request token obtained for %r; redirecting to the authorize URL", settings.name)
    return _with_params(authorize_url, params)


def finish_login(
    settings: RemoteSettings,
    signer: Signer,
    store: PendingLogins,
    session: MutableMapping[str, Any],
    query: Mapping[str, str],
    kwargs: Mapping[str, Any],
) -> Flow[Login]:
    """Check the callback *query*, claim the pending login, and fetch the access token.

    *kwargs* may carry ``oauth_token`` / ``oauth_verifier`` (a PIN login, or
    values given explicitly); the rest is sent to the access-token endpoint
    over ``access_token_params``. A refused exchange raises
    :class:`AccessTokenRefusedError`, an :class:`~.errors.AuthorizationError`.
    """
    name = settings.name
    access_token_url = settings.require("access_token_url")
    extra = dict(kwargs)
    explicit_token = extra.pop("oauth_token", None)
    explicit_verifier = extra.pop("oauth_verifier", None)
    oauth_token = explicit_token or query.get("oauth_token") or None
    if oauth_token is None and explicit_verifier:
        # Out-of-band (PIN) logins never come back through a callback: the
        # user types the verifier, and the login is the newest one pending.
        oauth_token = store.newest(session)
    denied = query.get("denied")
    problem = (query.get("oauth_problem") or query.get("error") or "").lower()
    if denied is not None or problem in DENIED_PROBLEMS:
        yield from store.discard(session, oauth_token or denied or "")
        raise AccessDeniedError(f"the user declined to authorize {name!r} at the provider")
    if not oauth_token:
        raise CallbackTokenError(
            "the callback has no oauth_token parameter; was this URL opened directly?", reason="missing"
        )
    claimed = yield from store.claim(session, oauth_token)
    verifier = explicit_verifier or query.get("oauth_verifier")
    if not verifier and settings.require_callback_confirmed:
        # A legacy OAuth 1.0 provider (require_callback_confirmed=False) sends
        # no verifier; the exchange then goes ahead without one.
        raise MissingVerifierError("the callback has no oauth_verifier parameter (RFC 5849 section 2.2)")
    deadline = _token_deadline(settings)
    secrets = SecretValues()
    method = settings.access_token_method
    build_kwargs = _params_kwargs(method, {**settings.access_token_params, **extra})
    if settings.access_token_headers:
        build_kwargs["headers"] = dict(settings.access_token_headers)
    req = yield from build(method, access_token_url, build_kwargs)

    def sign(request: httpx.Request) -> httpx.Request:
        return signer.sign(
            request, token=oauth_token, token_secret=claimed.secret, verifier=verifier or None, secrets=secrets
        )

    response = yield from _token_exchange(settings, req, sign, "access_token", deadline, secrets)
    # A 4xx is the provider refusing this callback's verifier or token (an
    # edited callback URL): an AuthorizationError. A 5xx stays a ProviderHTTPError.
    refused = AccessTokenRefusedError if response.status_code < 500 else ProviderHTTPError
    data = parse_token_response(response, "access token", refused=refused, secrets=secrets)
    log.debug("access token obtained for %r", name)
    return Login(OAuth1Token(data), claimed.next_url)


_PER_CALL_OPTIONS = ("consumer_only", "body_hash", "retry", "sign_multipart_fields", "deadline")


def _resource_deadline(settings: RemoteSettings, options: Mapping[str, Any]) -> Deadline | None:
    if "deadline" in options:  # the call's own: None means none
        seconds = options["deadline"]
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise ConfigurationError("deadline must be a positive number of seconds, or None for no deadline")
    else:  # the remote's, when it set a number (resource calls get no derived deadline)
        seconds = settings.deadline if not isinstance(settings.deadline, bool) else None
    return None if seconds is None else Deadline.after(float(seconds))


def _check_signing_target(settings: RemoteSettings, url: str) -> None:
    """Refuse to sign for an origin that is not the remote's own, or PLAINTEXT over plain http."""
    origin = origin_of(url)
    if origin not in settings.signing_origins:
        shown = format_origin(origin)
        raise OriginNotAllowedError(
            f"refusing to sign a request to {shown} for remote app {settings.name!r}: it is not an origin of "
            "its api_base_url or token endpoints, nor listed in its allowed_origins setting. If that host "
            f"belongs to the provider, register the remote with allowed_origins=[{shown!r}]; for a call "
            "without the user's credentials pass withhold_token=True; never pass a URL a user supplied",
            origin=shown,
        )
    refuse_plaintext_over_http(settings, url, "call URL")


def call_resource(
    settings: RemoteSettings,
    signer: Signer,
    method: str,
    url: str,
    *,
    token: object,
    withhold_token: bool,
    slot: TokenSlot | None,
    fetch: Callable[..., Any] | None,
    fetch_args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Flow[httpx.Response]:
    """A signed (or, with *withhold_token*, unsigned) API call; returns the response.

    Besides httpx's keywords, *kwargs* may hold ``consumer_only`` (sign with
    the consumer key alone: ``True``, or ``"empty"`` for an empty
    ``oauth_token``), ``body_hash`` (add ``oauth_body_hash``), ``retry`` (a
    :class:`~.retry.RetryPolicy`, or None to turn the remote's off),
    ``sign_multipart_fields`` (sign the ``data=`` fields of a multipart
    upload) and ``deadline`` (seconds for the whole call, or None for none).
    A signed call goes only to the remote's own origins and its
    ``allowed_origins`` (:class:`~.errors.OriginNotAllowedError` otherwise).
    Redirects, when followed, are re-signed hop by hop with a fresh nonce,
    and only to the same origin; another origin gets an unsigned request.
    Each retry is signed anew too.
    """
    if "auth" in kwargs:
        raise TypeError(
            "auth= is not accepted: the remote app signs requests itself. For a request with other "
            "credentials, pass withhold_token=True and set the Authorization header in headers="
        )
    request_kwargs = dict(kwargs)
    options = {k: request_kwargs.pop(k) for k in _PER_CALL_OPTIONS if k in request_kwargs}
    deadline = _resource_deadline(settings, options)
    follow = request_kwargs.pop("follow_redirects", None)
    follow = settings.follow_redirects if follow is None else bool(follow)
    consumer_only = options.get("consumer_only", settings.consumer_only)
    if consumer_only not in (False, True, "empty"):
        raise ConfigurationError("consumer_only must be False, True or 'empty'")
    retry = options.get("retry", settings.retry)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError("retry must be a flask_oauth1_async.RetryPolicy or None")
    extra: list[tuple[str, str]] = []
    if options.get("sign_multipart_fields"):
        data = request_kwargs.get("data") or {}
        extra = [(str(k), str(v)) for k, v in (data.items() if isinstance(data, Mapping) else data)]
    target = join_url(settings.api_base_url, url)
    method = method.upper()
    signed = not withhold_token
    if signed:
        _check_signing_target(settings, target)

    sign_token: str | None = None
    token_secret: str | None = None
    if signed and consumer_only:
        sign_token = "" if consumer_only == "empty" else None
    elif signed:
        tok = yield from resolve_token(settings.name, token, slot, fetch, fetch_args)
        sign_token, token_secret = tok.token, tok.secret
    secrets = SecretValues()

    def sign(req: httpx.Request) -> httpx.Request:
        return signer.sign(
            req,
            token=sign_token,
            token_secret=token_secret,
            body_hash=options.get("body_hash"),
            extra_params=extra,
            secrets=secrets,
        )

    attempt = 1
    waited = 0.0
    sent = 0  # requests put on the wire by this call (retries and redirect hops included)
    while True:
        req = yield from build(method, target, dict(request_kwargs))
        label = SendLabel(settings.name, "resource", sent)
        response = yield from send(sign(req) if signed else req, False, label, deadline=deadline, secrets=secrets)
        sent += 1
        if follow:
            response, sent = yield from _follow(
                settings,
                response,
                step="resource",
                sent=sent,
                sign=sign if signed else None,
                refuse_elsewhere=False,
                limit=None,
                deadline=deadline,
                secrets=secrets,
            )
        if response.status_code == 401 and not withhold_token:
            log.debug(
                "a signed %s %s was refused (401); we signed: %s",
                method,
                redact_url(target),
                base_string_of(response, secrets),
            )
        delay = retry.delay(method, response.status_code, response.headers, attempt, waited) if retry else None
        if delay is not None and deadline is not None and delay >= deadline.remaining():
            delay = None  # waiting would outlast the deadline: the last answer stands
        if delay is None:
            return response
        log.debug("retrying %s %s in %.3g s (HTTP %s)", method, redact_url(target), delay, response.status_code)
        yield Sleep(delay)
        waited += delay
        attempt += 1


def _follow(
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
        hop = _without_protocol_params(response.next_request)
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


def _without_protocol_params(request: httpx.Request) -> httpx.Request:
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
