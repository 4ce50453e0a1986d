"""A scripted user agent for end-to-end OAuth tests.

:class:`Browser` wraps one :class:`httpx.Client` (one cookie jar = one
simulated user). It never follows redirects on its own: :meth:`Browser.follow`
does it hop by hop and records every URL, which lets tests look at (and
replay) the provider's redirect to the client app's callback.

Typical use with the fake provider (``provider`` of ``tests/conftest.py``)::

    with Browser() as alice:
        result = alice.login_via(client.url + "/login", user="alice")
        assert result.response.status_code == 200
        with Browser() as mallory:             # callback replayed elsewhere
            assert mallory.get(result.callback_url).status_code >= 400
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

__all__ = ["Browser", "BrowserError", "FollowResult", "LoginResult", "approve", "start_login"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class BrowserError(AssertionError):
    """The flow did not go the way a browser-driven login should."""


@dataclass
class FollowResult:
    """Outcome of :meth:`Browser.follow`.

    ``visited`` lists every requested URL in order (the start URL first, the
    URL that produced ``response`` last); ``responses`` the matching responses.
    """

    response: httpx.Response
    visited: list[str] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The URL of the final response."""
        return self.visited[-1]


@dataclass
class LoginResult:
    """Outcome of :meth:`Browser.login_via`.

    ``callback_url`` is the client app's callback exactly as the provider
    redirected to it (with ``oauth_token`` and ``oauth_verifier``, or
    ``denied``); ``authorize_url`` is the provider URL the client app sent the
    user to (before ``user=``/``deny=`` was added); ``visited`` is every URL
    requested, from the login URL to the final page.
    """

    response: httpx.Response
    callback_url: str
    authorize_url: str
    visited: list[str]

    @property
    def callback_params(self) -> dict[str, str]:
        """The query parameters of :attr:`callback_url`."""
        return dict(parse_qsl(urlsplit(self.callback_url).query, keep_blank_values=True))


def _add_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class Browser:
    """A cookie-keeping HTTP user agent that does not auto-follow redirects.

    :param verify: TLS verification for ``httpx`` (an ``ssl.SSLContext`` such
        as ``make_tls().client_context``, ``True``/``False``, or a CA file path,
        which is turned into a context to avoid httpx's deprecation warning).
    :param timeout: per-request timeout in seconds.
    :param headers: default headers (a browser-like ``User-Agent`` is set).
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool | str = True,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(verify, str):
            verify = ssl.create_default_context(cafile=verify)
        default_headers = {"User-Agent": "tests-browser/1.0", "Accept": "text/html,*/*"}
        default_headers.update(headers or {})
        self.client = httpx.Client(
            follow_redirects=False,
            verify=verify,
            timeout=timeout,
            headers=default_headers,
            trust_env=False,  # never route 127.0.0.1 through a proxy
        )

    @property
    def cookies(self) -> httpx.Cookies:
        """The cookie jar (shared by every request of this browser)."""
        return self.client.cookies

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """A single GET; redirects are returned, not followed."""
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """A single form POST; redirects are returned, not followed."""
        return self.client.post(url, data=data, **kwargs)

    def follow(
        self,
        url: str,
        max_hops: int = 10,
        *,
        method: str = "GET",
        data: dict[str, str] | None = None,
    ) -> FollowResult:
        """Request *url* and follow 30x redirects like a browser (at most *max_hops*).

        301/302/303 continue with GET (a browser drops the body), 307/308
        repeat the method and body. Raises :class:`BrowserError` if there are
        more than *max_hops* redirects.
        """
        result_visited: list[str] = []
        responses: list[httpx.Response] = []
        current = url
        for _ in range(max_hops + 1):
            response = self.client.request(method, current, data=data)
            result_visited.append(current)
            responses.append(response)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return FollowResult(response, result_visited, responses)
            current = str(response.url.join(location))
            if response.status_code in (301, 302, 303):
                method, data = "GET", None
        raise BrowserError(f"more than {max_hops} redirects: {result_visited}")

    def login_via(
        self,
        client_login_url: str,
        user: str = "alice",
        deny: bool = False,
        *,
        authorize_path: str = "/authorize",
        max_hops: int = 10,
    ) -> LoginResult:
        """Play a whole login: client app -> provider consent -> client callback.

        GETs *client_login_url* (following redirects until one points to a URL
        whose path ends with *authorize_path*), adds ``user=<user>`` (or
        ``deny=1``) to that authorize URL, then follows the provider's redirect
        back to the client app's callback and onwards.
        """
        authorize_url: str | None = None
        visited: list[str] = []
        current = client_login_url
        for _ in range(max_hops + 1):
            response = self.client.get(current)
            visited.append(current)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                raise BrowserError(
                    f"{current} answered {response.status_code} instead of redirecting"
                    f" to the provider's {authorize_path}: {response.text[:300]!r}"
                )
            target = str(response.url.join(location))
            if urlsplit(target).path.endswith(authorize_path):
                authorize_url = target
                break
            current = target
        if authorize_url is None:
            raise BrowserError(f"never redirected to {authorize_path}: {visited}")

        consent = {"deny": "1"} if deny else {"user": user}
        followed = self.follow(_add_query(authorize_url, consent), max_hops=max_hops)
        if len(followed.visited) < 2:
            raise BrowserError(
                f"the provider did not redirect back (HTTP {followed.response.status_code}):"
                f" {followed.response.text[:300]!r}"
            )
        return LoginResult(
            response=followed.response,
            callback_url=followed.visited[1],
            authorize_url=authorize_url,
            visited=visited + followed.visited,
        )

    def close(self) -> None:
        """Close the underlying connection pool."""
        self.client.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_login(browser: Browser, url: str) -> str:
    """GET a client app's login *url*; return the provider's authorize URL it redirects to (not followed)."""
    response = browser.get(url)
    assert response.status_code == 302, response.text
    location = str(response.headers["Location"])
    assert urlsplit(location).path.endswith("/authorize"), location
    return location


def approve(browser: Browser, authorize_url: str, user: str = "alice") -> str:
    """Consent at the provider as *user*; return the callback URL it redirects to (not followed)."""
    response = browser.get(_add_query(authorize_url, {"user": user}))
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])
