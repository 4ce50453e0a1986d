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

Reading a token endpoint's answer is :mod:`._answers`; sending a request with
deadlines and following redirects is :mod:`._sending`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit, urlunsplit

from ._answers import MAX_TOKEN_FIELDS, MAX_TOKEN_RESPONSE, base_string_of, parse_token_response, refusal
from ._effects import Deadline, Flow, SendLabel, Sleep
from ._http import httpx
from ._sending import build, derived_deadline, follow_hops, send, token_deadline
from ._urls import format_origin, join_url, origin_of, redact_url
from .errors import (
    AccessDeniedError,
    AccessTokenRefusedError,
    CallbackNotConfirmedError,
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    MissingVerifierError,
    OriginNotAllowedError,
    ProviderHTTPError,
    SecretValues,
)
from .retry import RetryPolicy
from .settings import RemoteSettings, refuse_plaintext_over_http
from .signing import Signer
from .temporary_credentials import PendingLogins
from .tokens import OAuth1Token, TokenSlot, resolve_token

__all__ = [
    "DENIED_PROBLEMS",
    "MAX_REQUEST_TOKEN",
    "MAX_TOKEN_FIELDS",
    "MAX_TOKEN_RESPONSE",
    "MAX_VERIFIER",
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
#: The longest request token, and request-token secret, kept for a pending login (it
#: travels in the session cookie, which browsers drop beyond about 4 kB).
MAX_REQUEST_TOKEN = 256
#: The longest ``oauth_verifier`` a callback (or a PIN) may carry; real ones are a
#: few dozen characters. A longer one is refused with :class:`MissingVerifierError`.
MAX_VERIFIER = 1024


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
        response, _ = yield from follow_hops(
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
    deadline = token_deadline(settings)
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
    if len(oauth_token) > MAX_REQUEST_TOKEN:
        raise CallbackTokenError(
            f"the callback's oauth_token is longer than {MAX_REQUEST_TOKEN} characters; no login here issued it",
            reason="unknown",
        )
    claimed = yield from store.claim(session, oauth_token)
    verifier = explicit_verifier or query.get("oauth_verifier")
    if not verifier and settings.require_callback_confirmed:
        # A legacy OAuth 1.0 provider (require_callback_confirmed=False) sends
        # no verifier; the exchange then goes ahead without one.
        raise MissingVerifierError("the callback has no oauth_verifier parameter (RFC 5849 section 2.2)")
    if verifier and len(verifier) > MAX_VERIFIER:
        # Real verifiers are a few dozen characters; a huge one is an edited
        # callback, and would only cost us time to sign and to mask.
        raise MissingVerifierError(
            f"the callback's oauth_verifier is longer than {MAX_VERIFIER} characters; no provider issues one"
        )
    deadline = token_deadline(settings)
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
            response, sent = yield from follow_hops(
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
