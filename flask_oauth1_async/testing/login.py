"""Run a whole OAuth 1.0a login through an app's own Flask test client, in one call."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from .provider import FakeProvider, _provider_for

__all__ = ["LoginError", "login"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class LoginError(AssertionError):
    """The login dance did not go as a login should (raised by :func:`login`).

    It is an ``AssertionError`` so that pytest shows it as a test failure
    with its message, which says which step went wrong.
    """


def login(
    client: FlaskClient,
    start: str,
    *,
    user: str | None = None,
    deny: bool = False,
    provider: FakeProvider | None = None,
    follow_redirects: bool = False,
    timeout: float = 10.0,
    **start_kwargs: Any,
) -> TestResponse:
    """Log in through the app's login view and return the app's answer to the callback.

    1. ``client.get(start, **start_kwargs)``: the app's login view, which must
       redirect to the fake provider's authorize URL;
    2. a real HTTP request to that URL, approving as *user* (the provider's
       default user when None) or, with *deny*, refusing;
    3. ``client.get(<callback path and query>)`` with the same test client (so
       the session cookie of step 1 is sent), following further redirects
       when *follow_redirects* is true.

    A decision scripted with :meth:`FakeProvider.approve_next` or
    :meth:`FakeProvider.deny_next` wins over *user* and *deny*. *provider*
    is found from the redirect's URL when not given. Raises
    :class:`LoginError` (an ``AssertionError``) when a step does not answer
    as expected; a login the provider denied is not an error here: the
    callback's response is returned for the test to check.
    """
    if user is not None and deny:
        raise ValueError("give either user= or deny=True, not both")
    first = client.get(start, **start_kwargs)
    location = first.headers.get("Location")
    if first.status_code not in _REDIRECTS or not location:
        raise LoginError(
            f"GET {start} answered {first.status_code} without a redirect to the provider; "
            f"body starts: {first.get_data(as_text=True)[:200]!r}"
        )
    fake = provider or _provider_for(location)
    if fake is None:
        raise LoginError(f"GET {start} redirected to {location!r}, which is not a running FakeProvider")
    if not location.startswith(fake.authorize_url):
        raise LoginError(f"GET {start} redirected to {location!r}, not to {fake.authorize_url}")
    status, callback, body = fake._authorize(location, user=user, deny=deny, timeout=timeout)
    if status not in _REDIRECTS or not callback:
        raise LoginError(f"the provider's authorize page answered {status}, not a redirect: {body[:200]!r}")
    parts = urlsplit(callback)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    base_url = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
    return client.get(target, base_url=base_url, follow_redirects=follow_redirects)
