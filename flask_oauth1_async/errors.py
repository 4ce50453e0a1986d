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
        │   └── OriginNotAllowedError     a signed call to an origin that is not the
        │                                 remote's own nor in allowed_origins
        ├── AuthorizationError            the callback request cannot be used
        │   ├── AccessDeniedError         the user said no (?denied=..., oauth_problem)
        │   ├── CallbackTokenError        oauth_token missing, unknown, expired,
        │   │                             already used, or from another browser
        │   │                             [MissingRequestTokenError, MismatchingStateError]
        │   ├── MissingVerifierError      no oauth_verifier in the callback
        │   │                             (or one beyond MAX_VERIFIER)
        │   └── AccessTokenRefusedError   the provider refused the access-token
        │                                 exchange with a 4xx (a forged or stale
        │                                 verifier); also a ProviderHTTPError
        ├── ProviderError                 the provider's answer cannot be used
        │   ├── ProviderHTTPError         non-2xx answer; carries status_code,
        │   │   │                         the provider's oauth_problem and the
        │   │   │                         base_string we signed (masked)
        │   │   └── RateLimitedError      429 (or 420); carries retry_after
        │   ├── InvalidTokenResponseError 2xx answer that is not a token
        │   │   └── ResponseTooLargeError a token answer beyond the size or
        │   │                             field-count limit
        │   ├── RedirectRefusedError      a token endpoint redirected to another
        │   │                             origin
        │   └── CallbackNotConfirmedError oauth_callback_confirmed is not "true"
        ├── TransportError                network failure; wraps the httpx exception
        │   └── RequestTimeoutError       an httpx timeout fired, or the call's
        │                                 deadline passed
        └── MissingTokenError             a signed call without any token
                                          [authlib MissingTokenError]

All of them can be imported from ``flask_oauth1_async``. Like Authlib's
errors, each has a short code in ``error`` (``"access_denied"``,
``"invalid_callback_token"``...), a sentence in ``description``, and
``str(exc)`` is ``"<error>: <description>"``. Messages never contain a
consumer secret, a token secret or a verifier. When an error quotes a
provider's answer, the quote is cut to :data:`MAX_QUOTED_BODY` characters and
secrets are masked twice over: by name (the values of ``oauth_token_secret``,
``oauth_verifier``, ``client_secret`` and ``oauth_signature``) and by value
(every secret the call signed with, see :class:`SecretValues`), whatever
field or encoding the provider wrapped them in.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

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
    "OriginNotAllowedError",
    "ProviderError",
    "ProviderHTTPError",
    "RateLimitedError",
    "RedirectRefusedError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "SecretValues",
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


#: Secrets shorter than this are masked only where they stand alone (see :class:`SecretValues`).
SHORT_SECRET = 4

#: Encoded forms of a secret longer than this are masked by plain string search (see :class:`SecretValues`).
LONG_SECRET_FORM = 256
_LOWER_ESCAPE = re.compile(r"%[0-9A-F]{2}")

# Where a short secret stands alone: no letter or digit right before it (a
# percent-escape such as ``%26`` counts as a separator) and none right after.
_ALONE_BEFORE = r"(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{2}))"
_ALONE_AFTER = r"(?![A-Za-z0-9])"


def _encoded_forms(value: str) -> set[str]:
    """*value* as a provider may echo it: raw, percent-encoded once or twice, form-, JSON- or HTML-escaped."""
    once = quote(value, safe="")  # RFC 3986, as the signature base string and the header write it
    plus = quote_plus(value, safe="")  # form encoding: a space is "+"
    forms = {value, once, quote(once, safe=""), plus, quote(plus, safe=""), quote_plus(once, safe="")}
    for ascii_only in (True, False):
        dumped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        forms.update((dumped, dumped.replace("/", "\\/")))
    forms.add(html.escape(value))
    return forms


class SecretValues:
    """The secret values one call works with, masked wherever a provider's text is quoted.

    The flows make one per call; the :class:`~flask_oauth1_async.Signer`
    adds what it signs with (the consumer secret, the token secret, the
    verifier and the signature it computed). :meth:`redact` then replaces
    each of them by ``***`` in any of the forms a provider may echo it in:
    as it is, percent-encoded once or twice (RFC 3986, as in a signature base
    string, or form encoding with ``+``, in any letter case), JSON-escaped or
    HTML-escaped. With ``PLAINTEXT`` the signature is
    ``<consumer secret>&<token secret>``, so both halves are masked on their
    own too, whatever joins them.

    A secret shorter than :data:`SHORT_SECRET` characters (no provider issues
    one, but a test may) is masked only where it stands alone, with no letter
    or digit on either side, so that masking it does not eat every word that
    happens to contain it. A form longer than :data:`LONG_SECRET_FORM`
    characters (a hostile provider's 60 kB token secret, an RSA key) is
    matched as written and with lower-case percent escapes, by plain string
    search: compiling it into the pattern would cost seconds of CPU per error.
    Values that are empty or only whitespace are ignored. Its :func:`repr`
    shows how many values it holds, never the values.
    """

    __slots__ = ("_literals", "_pattern", "_values")

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._literals: list[str] = []
        self.add(*values)

    def __repr__(self) -> str:
        return f"<SecretValues: {len(self._values)} held>"

    def __len__(self) -> int:
        return len(self._values)

    def add(self, *values: str | None) -> None:
        """Remember *values* (None, empty and whitespace-only values are skipped)."""
        for value in values:
            if value and value.strip() and value not in self._values:
                self._values.add(value)
                self._pattern = None

    def _compile(self) -> re.Pattern[str]:
        alternatives: list[str] = []
        literals: set[str] = set()
        for value in self._values:
            short = len(value) < SHORT_SECRET
            for form in _encoded_forms(value):
                if len(form) > LONG_SECRET_FORM:
                    literals.update((form, _LOWER_ESCAPE.sub(lambda m: m.group(0).lower(), form)))
                else:
                    alternatives.append(f"{_ALONE_BEFORE}{re.escape(form)}{_ALONE_AFTER}" if short else re.escape(form))
        # Longer forms first, so that a form that contains another is masked whole
        # (every literal is longer than every alternative of the pattern).
        self._literals = sorted(literals, key=len, reverse=True)
        alternatives.sort(key=len, reverse=True)
        self._pattern = re.compile("|".join(alternatives) or "(?!)", re.IGNORECASE)
        return self._pattern

    def redact(self, text: str) -> str:
        """*text* with every known secret, in any of its forms, replaced by ``***``."""
        if not self._values or not text:
            return text
        pattern = self._pattern if self._pattern is not None else self._compile()
        for literal in self._literals:
            text = text.replace(literal, "***")
        return pattern.sub("***", text)


def mask_secrets(text: str, secrets: SecretValues | None = None) -> str:
    """Replace the values of secret fields in *text* by ``***``.

    The fields are :data:`SECRET_FIELD_NAMES`, written as form fields, JSON
    members, XML elements, or percent-encoded once or twice (as in a
    signature base string). With *secrets*, every value it holds is masked
    too, wherever it appears (see :class:`SecretValues`).
    """
    if secrets is not None:
        text = secrets.redact(text)
    masked = _SECRET_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _SECRET_ELEMENT.sub(lambda m: f"{m.group(1)}***", masked)


def quote_body(text: str, limit: int = MAX_QUOTED_BODY, secrets: SecretValues | None = None) -> str:
    """Return a short, secret-free excerpt of a provider's response body.

    Values of ``oauth_token_secret``, ``oauth_verifier``, ``client_secret``
    and ``oauth_signature`` are replaced by ``***``, and so is every value of
    *secrets*; then the result is cut to *limit* characters (an ellipsis
    marks a cut). Masking comes first, so a cut never leaves half a secret.
    """
    masked = " ".join(mask_secrets(text, secrets).split())
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


class OriginNotAllowedError(ConfigurationError):
    """A signed call to an origin that is not the remote's own.

    A remote signs requests (with the user's token, and with ``PLAINTEXT``
    the secrets themselves) only for the origins of its ``api_base_url``, its
    token endpoints and its ``allowed_origins`` setting; a call elsewhere is
    refused before anything is sent. ``origin`` is the refused
    ``scheme://host[:port]``. Add the origin to ``allowed_origins`` if it
    belongs to the provider, or send the call unsigned with
    ``withhold_token=True``; never pass a URL that a user supplied.
    """

    error = "origin_not_allowed"

    def __init__(self, description: str, *, origin: str) -> None:
        super().__init__(description)
        #: The refused origin, ``scheme://host[:port]``.
        self.origin = origin


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
    """The callback carries no usable ``oauth_verifier`` (RFC 5849 section 2.2).

    Either there is none, or it is longer than
    :data:`~flask_oauth1_async.flows.MAX_VERIFIER` characters.
    """

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


class ResponseTooLargeError(InvalidTokenResponseError):
    """A token endpoint's 2xx answer is larger than a token answer can be.

    A token answer is a few hundred bytes. The package reads at most
    :data:`~flask_oauth1_async.flows.MAX_TOKEN_RESPONSE` bytes of it and
    parses at most :data:`~flask_oauth1_async.flows.MAX_TOKEN_FIELDS`
    fields; a provider that sends more (a broken or hostile one) gets this
    error instead of the memory and time it asks for. ``limit`` holds the
    limit that was crossed (bytes or fields, as the message says).
    """

    error = "response_too_large"

    def __init__(self, description: str, *, limit: int, body_excerpt: str = "") -> None:
        super().__init__(description, body_excerpt=body_excerpt)
        #: The limit the answer went beyond.
        self.limit = limit


class RedirectRefusedError(ProviderError):
    """A token endpoint redirected to another origin.

    The request-token and access-token requests carry the consumer key, the
    request token, the verifier and the signature (with ``PLAINTEXT``, the
    secrets). When ``client_kwargs`` has ``follow_redirects=True``, a hop to
    the same origin is signed again and sent; a hop to another origin
    (another host, port or scheme - ``https`` to ``http`` included) raises
    this error and sends nothing. ``status_code`` is the redirect's status
    and ``location`` the refused target (scheme, host, port and path only).
    """

    error = "redirect_refused"

    def __init__(self, description: str, *, status_code: int, location: str) -> None:
        super().__init__(description)
        #: The status of the redirect (301, 302, 303, 307 or 308).
        self.status_code = status_code
        #: Where it pointed, without query or fragment.
        self.location = location


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
    """An httpx timeout fired (connect, read, write or pool), or the call's deadline passed.

    httpx's timeouts bound each network operation; a provider that sends one
    byte now and then never trips them. The *deadline* bounds the whole
    call (see ``deadline`` in the configuration): when it passes, the call
    stops and ``deadline`` holds its length in seconds (None when an httpx
    timeout fired instead).
    """

    error = "request_timeout"

    def __init__(
        self,
        description: str,
        *,
        url: str = "",
        original: BaseException | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__(description, url=url, original=original)
        #: The deadline, in seconds, that the call went beyond (None: an httpx timeout fired).
        self.deadline = deadline


class MissingTokenError(OAuth1Error, _AuthlibMissingTokenError):
    """A signed call was made but no token was passed and ``fetch_token`` gave none."""

    error = "missing_token"
