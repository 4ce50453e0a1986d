"""An opt-in retry policy for resource calls that were rate limited.

Resource calls return the provider's response whatever its status, so a 429
is the app's to handle. A :class:`RetryPolicy`, given to
:meth:`~flask_oauth1_async.OAuth.register` (``retry=...``) or to one call,
retries idempotent calls that got a retryable status, honouring
``Retry-After`` within a bounded total wait. Every attempt is signed anew,
with a fresh nonce and timestamp: a resent nonce is a replay to the provider.
"""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Mapping

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy", "retry_after_seconds"]

#: Methods that may be sent again without changing the outcome (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

_RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset")


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to *headers*, or None if they do not say.

    Reads ``Retry-After`` (seconds or an HTTP date), then the
    ``x-rate-limit-reset`` / ``x-ratelimit-reset`` headers that Twitter/X,
    Tumblr and others send (a Unix time, or seconds if it is small).
    """
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now)
    for name in _RESET_HEADERS:
        raw = headers.get(name)
        if raw and raw.strip().isdigit():
            number = float(raw.strip())
            # A reset far in the future is a Unix time; a small one is a delay.
            return max(0.0, number - now) if number > 1_000_000_000 else number
    return None


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a rate-limited call again.

    *attempts* is the total number of sends (``3``: the first and two
    retries); *max_wait* bounds the total time spent waiting, in seconds;
    *statuses* are the answers worth retrying; *backoff* is the wait when
    the provider gives no ``Retry-After`` (doubled each retry). Only
    :data:`IDEMPOTENT_METHODS` are retried unless *methods* says otherwise.
    """

    attempts: int = 3
    max_wait: float = 10.0
    statuses: frozenset[int] = frozenset({429, 503})
    backoff: float = 1.0
    methods: frozenset[str] = IDEMPOTENT_METHODS

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.max_wait < 0 or self.backoff < 0:
            raise ValueError("max_wait and backoff must not be negative")

    def delay(self, method: str, status: int, headers: Mapping[str, str], attempt: int, waited: float) -> float | None:
        """Seconds to wait before attempt number *attempt* + 1, or None to stop and return the answer."""
        if method.upper() not in self.methods or status not in self.statuses or attempt >= self.attempts:
            return None
        wait = retry_after_seconds(headers)
        if wait is None:
            wait = self.backoff * (2 ** (attempt - 1))
        if waited + wait > self.max_wait:
            return None
        return wait
