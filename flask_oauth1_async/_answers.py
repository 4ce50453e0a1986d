"""What a token endpoint answered: a token, or a typed refusal that says what to look at.

:func:`parse_token_response` reads a request-token or access-token answer
within bounds (:data:`MAX_TOKEN_RESPONSE` bytes, :data:`MAX_TOKEN_FIELDS`
fields) and :func:`refusal` turns a non-2xx answer into the typed error, with
the provider's ``oauth_problem``, the base string we signed and every known
secret masked. Plain functions of a response: the flows (:mod:`.flows`) call
them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from ._effects import TRUNCATED
from ._http import httpx
from .errors import (
    MAX_QUOTED_BODY,
    InvalidTokenResponseError,
    ProviderHTTPError,
    RateLimitedError,
    ResponseTooLargeError,
    SecretValues,
    mask_secrets,
    quote_body,
)
from .retry import retry_after_seconds

__all__ = ["MAX_TOKEN_FIELDS", "MAX_TOKEN_RESPONSE", "base_string_of", "parse_token_response", "refusal"]

log = logging.getLogger("flask_oauth1_async")

#: The most bytes read from a token endpoint's answer. A token answer is a few
#: hundred bytes; the rest of a longer one is never read (see ResponseTooLargeError).
MAX_TOKEN_RESPONSE = 64 * 1024
#: The most fields parsed from a token endpoint's answer (form fields or JSON members).
MAX_TOKEN_FIELDS = 100


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
    hint = ""
    if (status == 401 or "signature" in problem) and problem not in _CLOCK_PROBLEMS:
        # Where to look next: the message itself never quotes the base string.
        hint = (
            "; compare exc.base_string (what we signed, secrets masked) with the provider's "
            "(docs: 'When the provider says 401', docs/debugging-401.rst)"
        )
    cls: type[ProviderHTTPError] = RateLimitedError if status in (420, 429) else refused
    error = cls(
        f"the {endpoint} endpoint answered HTTP {status}{detail}: {excerpt or '(an empty body)'}{hint}",
        status_code=status,
        body_excerpt=excerpt,
        oauth_problem=problem,
        base_string=base,
        retry_after=retry_after_seconds(response.headers),
    )
    log.debug("the %s endpoint refused a signed request (HTTP %s); we signed: %s", endpoint, status, base)
    return error
