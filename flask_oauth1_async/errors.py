"""Exceptions raised by :mod:`flask_oauth1_async`.

Every exception this package raises on purpose derives from
:class:`OAuth1Error`, which itself derives from Authlib's
:class:`authlib.integrations.base_client.OAuthError`, so an ``except
OAuthError`` clause written for Authlib's Flask client keeps catching them.
Where Authlib has a class for the same situation, ours inherits from it too
(shown in brackets)::

    authlib OAuthError
    └── OAuth1Error
        ├── ConfigurationError            bad or missing register()/config values
        ├── AuthorizationError            the callback request cannot be used
        │   ├── AccessDeniedError         the user said no (?denied=..., oauth_problem)
        │   ├── CallbackTokenError        oauth_token missing, unknown, expired,
        │   │                             already used, or from another browser
        │   │                             [MissingRequestTokenError, MismatchingStateError]
        │   ├── MissingVerifierError      no oauth_verifier in the callback
        │   └── AccessTokenRefusedError   the provider refused the access-token
        │                                 exchange with a 4xx (a forged or stale
        │                                 verifier); also a ProviderHTTPError
        ├── ProviderError                 the provider's answer cannot be used
        │   ├── ProviderHTTPError         non-2xx answer; carries status_code,
        │   │   │                         the provider's oauth_problem and the
        │   │   │                         base_string we signed (masked)
        │   │   └── RateLimitedError      429 (or 420); carries retry_after
        │   ├── InvalidTokenResponseError 2xx answer that is not a token
        │   └── CallbackNotConfirmedError oauth_callback_confirmed is not "true"
        ├── TransportError                network failure; wraps the httpx exception
        │   └── RequestTimeoutError       the httpx timeout fired
        └── MissingTokenError             a signed call without any token
                                          [authlib MissingTokenError]

All of them can be imported from ``flask_oauth1_async``. Like Authlib's
errors, each has a short code in ``error`` (``"access_denied"``,
``"invalid_callback_token"``...), a sentence in ``description``, and
``str(exc)`` is ``"<error>: <description>"``. Messages never contain a
consumer secret, a token secret or a verifier. When an error quotes a
provider's answer, the quote is cut to :data:`MAX_QUOTED_BODY` characters and
the values of ``oauth_token_secret``, ``oauth_verifier``, ``client_secret`` and
``oauth_signature`` in it are masked.
"""

from __future__ import annotations

import re

from authlib.integrations.base_client.errors import (
    MismatchingStateError as _AuthlibMismatchingStateError,
)
from authlib.integrations.base_client.errors import (
    MissingRequestTokenError as _AuthlibMissingRequestTokenError,
)
from authlib.integrations.base_client.errors import (
    MissingTokenError as _AuthlibMissingTokenError,
)
from authlib.integrations.base_client.errors import OAuthError

__all__ = [
    "MAX_QUOTED_BODY",
    "SECRET_FIELD_NAMES",
    "AccessDeniedError",
    "AccessTokenRefusedError",
    "AuthorizationError",
    "CallbackNotConfirmedError",
    "CallbackTokenError",
    "ConfigurationError",
    "InvalidTokenResponseError",
    "MissingTokenError",
    "MissingVerifierError",
    "OAuth1Error",
    "OAuthError",
    "ProviderError",
    "ProviderHTTPError",
    "RateLimitedError",
    "RequestTimeoutError",
    "TransportError",
    "mask_secrets",
    "quote_body",
]

#: How many characters of a provider's response body an error may quote.
MAX_QUOTED_BODY = 200

#: Field names whose values are never quoted in an error.
SECRET_FIELD_NAMES: tuple[str, ...] = ("oauth_token_secret", "oauth_verifier", "client_secret", "oauth_signature")
_NAMES = "|".join(SECRET_FIELD_NAMES)

# Matches form fields (``name=value``), JSON members (``"name": "value"``) and
# percent-encoded fields such as a signature base string echoed by a provider.
_SECRET_FIELD = re.compile(
    rf"({_NAMES})"
    r"(\"?\s*[=:]\s*\"?|%3D|%253D)((?:(?!%26|%2526)[^\"&\s,}])*)",
    re.IGNORECASE,
)
# Matches XML elements (``<name>value</name>``, with attributes or a namespace prefix).
_SECRET_ELEMENT = re.compile(
    rf"(<(?:[\w.-]+:)?(?:{_NAMES})\b[^>]*>)([^<]*)",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    """Replace the values of secret fields in *text* by ``***``.

    The fields are :data:`SECRET_FIELD_NAMES`, written as form fields, JSON
    members, XML elements, or percent-encoded once or twice (as in a
    signature base string).
    """
    masked = _SECRET_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _SECRET_ELEMENT.sub(lambda m: f"{m.group(1)}***", masked)


def quote_body(text: str, limit: int = MAX_QUOTED_BODY) -> str:
    """Return a short, secret-free excerpt of a provider's response body.

    Values of ``oauth_token_secret``, ``oauth_verifier``, ``client_secret``
    and ``oauth_signature`` are replaced by ``***`` and the result is cut to
    *limit* characters (an ellipsis marks a cut).
    """
    masked = " ".join(mask_secrets(text).split())
    if len(masked) > limit:
        return masked[:limit] + "..."
    return masked


class OAuth1Error(OAuthError):
    """Base class of every error raised by this package.

    It keeps Authlib's interface: ``error`` is a short code, ``description``
    a sentence for humans, and ``str(exc)`` is ``"<error>: <description>"``.
    """

    error = "oauth1_error"

    def __init__(self, description: str | None = None, *, error: str | None = None) -> None:
        super().__init__(error=error, description=description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error={self.error!r}, description={self.description!r})"


class ConfigurationError(OAuth1Error):
    """A remote app is missing a setting, or a setting has an invalid value."""

    error = "configuration_error"


class AuthorizationError(OAuth1Error):
    """The callback request (the user's return from the provider) is unusable."""

    error = "authorization_error"


class AccessDeniedError(AuthorizationError):
    """The user declined the authorization at the provider.

    Providers say so in different ways: Twitter/X sends ``?denied=<token>``,
    others ``oauth_problem=user_refused`` or ``permission_denied``.
    """

    error = "access_denied"


class CallbackTokenError(
    AuthorizationError,
    _AuthlibMissingRequestTokenError,
    _AuthlibMismatchingStateError,
):
    """The callback's ``oauth_token`` cannot be matched to a login we started.

    ``reason`` tells which case it is: ``"missing"`` (no ``oauth_token`` in
    the query), ``"unknown"`` (never issued here, already used, or started in
    another browser), or ``"expired"``.
    """

    error = "invalid_callback_token"

    def __init__(self, description: str, *, reason: str) -> None:
        super().__init__(description)
        #: ``"missing"``, ``"unknown"`` or ``"expired"``.
        self.reason = reason


class MissingVerifierError(AuthorizationError):
    """The callback carries no ``oauth_verifier`` (RFC 5849 section 2.2)."""

    error = "missing_verifier"


class ProviderError(OAuth1Error):
    """The provider answered, but not with something we can use."""

    error = "provider_error"


class ProviderHTTPError(ProviderError):
    """The provider answered with a non-2xx status.

    ``status_code`` holds the status and ``body_excerpt`` a short, masked
    excerpt of the body (see :func:`quote_body`).
    """

    error = "provider_http_error"

    def __init__(
        self,
        description: str,
        *,
        status_code: int,
        body_excerpt: str = "",
        oauth_problem: str = "",
        base_string: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(description)
        #: The HTTP status the provider answered with.
        self.status_code = status_code
        #: At most :data:`MAX_QUOTED_BODY` characters of the body, secrets masked.
        self.body_excerpt = body_excerpt
        #: The provider's ``oauth_problem`` (``signature_invalid``, ``timestamp_refused``...), if it sent one.
        self.oauth_problem = oauth_problem
        #: The signature base string we signed, secrets masked: compare it with the provider's.
        self.base_string = base_string
        #: Seconds to wait before trying again, from ``Retry-After`` or a rate-limit reset header.
        self.retry_after = retry_after


class RateLimitedError(ProviderHTTPError):
    """A token endpoint answered 429 (or Twitter's 420): too many requests.

    ``retry_after`` holds the seconds to wait, when the provider said
    (``Retry-After`` or an ``x-rate-limit-reset`` style header). Uncaught,
    it is answered 503 with that ``Retry-After``.
    """

    error = "rate_limited"


class AccessTokenRefusedError(AuthorizationError, ProviderHTTPError):
    """The provider refused the access-token exchange of a login callback (a 4xx answer).

    This is what an edited callback URL (a wrong, huge or garbled
    ``oauth_verifier`` with a valid ``oauth_token``) produces, so it is an
    :class:`AuthorizationError` - the default handler answers 400 - and also a
    :class:`ProviderHTTPError`, with ``status_code`` and the masked
    ``body_excerpt``.
    """

    error = "access_token_refused"


class InvalidTokenResponseError(ProviderError):
    """The provider answered 2xx, but the body is not a form-encoded token."""

    error = "invalid_token_response"

    def __init__(self, description: str, *, body_excerpt: str = "") -> None:
        super().__init__(description)
        #: At most :data:`MAX_QUOTED_BODY` characters of the body, secrets masked.
        self.body_excerpt = body_excerpt


class CallbackNotConfirmedError(ProviderError):
    """The request-token answer lacks ``oauth_callback_confirmed=true``.

    RFC 5849 section 2.1 requires the field. Some legacy (OAuth 1.0, not 1.0a)
    providers never send it; register them with
    ``require_callback_confirmed=False`` to accept that.
    """

    error = "callback_not_confirmed"


class TransportError(OAuth1Error):
    """The HTTP exchange failed (connection refused, TLS, protocol error...).

    The original :class:`httpx.RequestError` is chained as ``__cause__`` and
    kept in ``original``. ``url`` is the target without its query string.
    """

    error = "transport_error"

    def __init__(self, description: str, *, url: str = "", original: BaseException | None = None) -> None:
        super().__init__(description)
        #: Scheme, host and path of the request that failed (no query string).
        self.url = url
        #: The httpx exception that caused this one.
        self.original = original


class RequestTimeoutError(TransportError):
    """An httpx timeout fired (connect, read, write or pool)."""

    error = "request_timeout"


class MissingTokenError(OAuth1Error, _AuthlibMissingTokenError):
    """A signed call was made but no token was passed and ``fetch_token`` gave none."""

    error = "missing_token"
