"""The OAuth 1.0a protocol steps, each written once as a flow.

A flow is a generator that yields effects (:mod:`._drivers`) and returns a
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

import json
import logging
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from ._drivers import Build, Flow, Send
from .config import RemoteSettings
from .errors import (
    AccessDeniedError,
    AccessTokenRefusedError,
    CallbackNotConfirmedError,
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    MissingVerifierError,
    ProviderHTTPError,
    RequestTimeoutError,
    TransportError,
    quote_body,
)
from .signing import Signer
from .temporary_credentials import PendingLogins
from .tokens import OAuth1Token, TokenSlot, resolve_token

__all__ = [
    "DENIED_PROBLEMS",
    "call_resource",
    "finish_login",
    "join_url",
    "parse_token_response",
    "send",
    "start_login",
]

log = logging.getLogger("flask_oauth1_async")

#: ``oauth_problem`` (or Authlib-style ``error``) values that mean "the user said no".
DENIED_PROBLEMS = frozenset({"user_refused", "permission_denied", "access_denied"})


def send(request: httpx.Request, follow_redirects: bool | None = None) -> Flow[httpx.Response]:
    """Send *request*, turning httpx's network errors into ours."""
    try:
        response: httpx.Response = yield Send(request, follow_redirects)
    except httpx.TimeoutException as exc:
        url = _safe_url(request.url)
        raise RequestTimeoutError(
            f"timed out calling {request.method} {url} ({type(exc).__name__})", url=url, original=exc
        ) from exc
    except httpx.RequestError as exc:
        url = _safe_url(request.url)
        raise TransportError(
            f"{type(exc).__name__} calling {request.method} {url}: {quote_body(str(exc))}", url=url, original=exc
        ) from exc
    return response


def _safe_url(url: httpx.URL | str) -> str:
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def join_url(base: str | None, url: str) -> str:
    """Resolve *url* against the remote's ``api_base_url``.

    * ``http(s)://...`` URLs are used as they are;
    * a path such as ``account/x`` is appended to the whole base, which keeps
      its last segment whether or not it ends with ``/`` (``.../1.1`` +
      ``account/x`` is ``.../1.1/account/x``);
    * a path starting with ``/`` is taken from the base's host, as
      :func:`urllib.parse.urljoin` does:
      ``https://api.x.com/1.1/`` + ``/2/users/me`` is ``https://api.x.com/2/users/me``.
    """
    lowered = url[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return url
    if url.startswith("//"):
        raise ConfigurationError(
            f"refusing the protocol-relative URL {url!r}: pass an absolute https:// URL to call another host"
        )
    if not base:
        raise ConfigurationError(
            f"cannot resolve the relative URL {url!r}: set api_base_url (or the {{NAME}}_API_BASE_URL key)"
        )
    if url.startswith("/"):
        parts = urlsplit(base)
        return urlunsplit((parts.scheme, parts.netloc, "", "", "")) + url
    if not base.endswith("/"):
        base += "/"
    return base + url


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


def parse_token_response(
    response: httpx.Response, endpoint: str, refused: type[ProviderHTTPError] = ProviderHTTPError
) -> dict[str, Any]:
    """Parse a request-token or access-token answer, or raise a typed error.

    A non-2xx answer raises *refused* (a :class:`ProviderHTTPError`), with
    the status and a masked excerpt; a 2xx answer without a token raises
    :class:`InvalidTokenResponseError`.
    """
    text = _body_text(response)
    if not response.is_success:
        problem = ""
        try:
            fields = dict(parse_qsl(text, keep_blank_values=True))
        except ValueError:
            fields = {}
        if fields.get("oauth_problem"):
            problem = f" (oauth_problem={quote_body(fields['oauth_problem'], 60)})"
        excerpt = quote_body(text)
        raise refused(
            f"the {endpoint} endpoint answered HTTP {response.status_code}{problem}: {excerpt}",
            status_code=response.status_code,
            body_excerpt=excerpt,
        )
    data: dict[str, Any] = {}
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            data = {str(k): _token_value(v) for k, v in loaded.items() if v is not None}
    else:
        try:
            data = dict(parse_qsl(text.strip(), keep_blank_values=True))
        except ValueError:
            data = {}
    if (
        not isinstance(data.get("oauth_token"), str)
        or not data["oauth_token"]
        or not isinstance(data.get("oauth_token_secret"), str)
    ):
        excerpt = quote_body(text)
        raise InvalidTokenResponseError(
            f"the {endpoint} endpoint answered HTTP {response.status_code} without a token "
            f"(expected a form-encoded oauth_token and oauth_token_secret): {excerpt}",
            body_excerpt=excerpt,
        )
    return data


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


def start_login(
    settings: RemoteSettings,
    signer: Signer,
    store: PendingLogins,
    session: MutableMapping[str, Any],
    callback: str,
    authorize_kwargs: Mapping[str, Any],
) -> Flow[str]:
    """Fetch a request token, keep it in *store*, and return the authorize URL.

    *callback* is the absolute callback URL, or ``"oob"`` for PIN logins.
    *authorize_kwargs* are added to the authorize URL, over ``authorize_params``.
    """
    request_token_url = settings.require("request_token_url")
    authorize_url = settings.require("authorize_url")
    method = settings.request_token_method
    req: httpx.Request = yield Build(method, request_token_url, _params_kwargs(method, settings.request_token_params))
    req = signer.sign(req, callback=callback)
    response = yield from send(req)
    data = parse_token_response(response, "request token")
    if settings.require_callback_confirmed and data.get("oauth_callback_confirmed", "").lower() != "true":
        raise CallbackNotConfirmedError(
            "the request token answer does not carry oauth_callback_confirmed=true, which RFC 5849 "
            "section 2.1 requires (an OAuth 1.0a provider); if this provider only speaks legacy "
            "OAuth 1.0, register it with require_callback_confirmed=False"
        )
    yield from store.save(session, data["oauth_token"], data["oauth_token_secret"])
    params: dict[str, Any] = {**settings.authorize_params, **authorize_kwargs, "oauth_token": data["oauth_token"]}
    log.debug("request token obtained for %r; redirecting to the authorize URL", settings.name)
    return _with_params(authorize_url, params)


def finish_login(
    settings: RemoteSettings,
    signer: Signer,
    store: PendingLogins,
    session: MutableMapping[str, Any],
    query: Mapping[str, str],
    kwargs: Mapping[str, Any],
) -> Flow[OAuth1Token]:
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
    secret = yield from store.claim(session, oauth_token)
    verifier = explicit_verifier or query.get("oauth_verifier")
    if not verifier:
        raise MissingVerifierError("the callback has no oauth_verifier parameter (RFC 5849 section 2.2)")
    method = settings.access_token_method
    build_kwargs = _params_kwargs(method, {**settings.access_token_params, **extra})
    if settings.access_token_headers:
        build_kwargs["headers"] = dict(settings.access_token_headers)
    req: httpx.Request = yield Build(method, access_token_url, build_kwargs)
    req = signer.sign(req, token=oauth_token, token_secret=secret, verifier=verifier)
    response = yield from send(req)
    # A 4xx is the provider refusing this callback's verifier or token (an
    # edited callback URL): an AuthorizationError. A 5xx stays a ProviderHTTPError.
    refused = AccessTokenRefusedError if response.status_code < 500 else ProviderHTTPError
    data = parse_token_response(response, "access token", refused=refused)
    log.debug("access token obtained for %r", name)
    return OAuth1Token(data)


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
    """A signed (or, with *withhold_token*, unsigned) API call; returns the response."""
    if "auth" in kwargs:
        raise TypeError(
            "auth= is not accepted: the remote app signs requests itself. For a request with other "
            "credentials, pass withhold_token=True and set the Authorization header in headers="
        )
    request_kwargs = dict(kwargs)
    follow = request_kwargs.pop("follow_redirects", None)
    target = join_url(settings.api_base_url, url)
    req: httpx.Request = yield Build(method.upper(), target, request_kwargs)
    if not withhold_token:
        tok = yield from resolve_token(settings.name, token, slot, fetch, fetch_args)
        req = signer.sign(req, token=tok.token, token_secret=tok.secret)
    return (yield from send(req, follow))
