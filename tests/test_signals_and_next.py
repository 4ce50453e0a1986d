"""Signals sent during logins and API calls, and the safe "next" URL carried through a login.

Real dances against the test provider, in ``def`` and ``async def`` views.
The "next" URL is kept with the pending login (never sent to the provider),
and only a path on this site survives :func:`~flask_oauth1_async.remote.safe_next_url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, request

from flask_oauth1_async import OAuth, signals
from flask_oauth1_async.remote import MAX_NEXT_URL, safe_next_url
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientAppFactory
from tests.support.browser import Browser
from tests.support.views import PREFIX, VIEW_KINDS


def _routes(app: Flask, oauth: OAuth) -> None:
    @app.get("/inbox")
    @app.get("/home")
    def landing() -> Any:
        return {"landed": request.full_path.rstrip("?")}

    @app.get("/s/login")
    def login() -> Any:
        return oauth.demo.authorize_redirect_sync("/s/callback", next_url=request.args.get("next"))

    @app.get("/s/callback")
    def callback() -> Any:
        oauth.demo.authorize_access_token_sync()
        oauth.demo.get_sync("me")
        return oauth.demo.redirect_to_next(default="/home")

    @app.get("/a/login")
    async def alogin() -> Any:
        return await oauth.demo.authorize_redirect("/a/callback", next_url=request.args.get("next"))

    @app.get("/a/callback")
    async def acallback() -> Any:
        await oauth.demo.authorize_access_token()
        await oauth.demo.get("me")
        return oauth.demo.redirect_to_next(default="/home")


@pytest.fixture
def received() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    connected = []
    for name in ("login_started", "login_completed", "login_denied", "login_failed", "api_call"):
        signal = getattr(signals, name)

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            seen.append((_name, kwargs))

        signal.connect(receiver)
        connected.append((signal, receiver))
    yield seen
    for signal, receiver in connected:
        signal.disconnect(receiver)


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_login_sends_started_completed_and_api_call(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory, received: list[tuple[str, dict[str, Any]]]
) -> None:
    ca = client_app(provider, _routes)
    prefix = PREFIX[kind]
    with Browser() as browser:
        result = browser.login_via(ca.url + prefix + "/login?next=/inbox%3Fpage%3D2")
    assert result.response.status_code == 200
    assert result.response.json() == {"landed": "/inbox?page=2"}
    names = [name for name, _ in received]
    assert names == ["login_started", "login_completed", "api_call"]
    started, completed, call = (kwargs for _, kwargs in received)
    assert started["remote"] == "demo"
    assert "oauth_token=" in started["authorize_url"]
    assert "inbox" not in started["authorize_url"]  # the next URL never goes to the provider
    assert completed["token"]["screen_name"] == "alice"
    assert call == {"remote": "demo", "method": "GET", "url": provider.url + "/api/me", "status_code": 200}
    for _, kwargs in received:  # no secret in any signal's arguments (as shown)
        assert completed["token"]["oauth_token_secret"] not in repr(kwargs)


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_denied_and_failed_logins_are_signalled(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory, received: list[tuple[str, dict[str, Any]]]
) -> None:
    ca = client_app(provider, _routes)
    prefix = PREFIX[kind]
    with Browser() as browser:
        denied = browser.login_via(ca.url + prefix + "/login", deny=True)
        assert denied.response.status_code == 403
        replay = browser.get(denied.callback_url.replace("denied=", "oauth_verifier=x&oauth_token="))
        assert replay.status_code == 400
    names = [name for name, _ in received]
    assert names == ["login_started", "login_denied", "login_failed"]
    assert type(received[1][1]["error"]).__name__ == "AccessDeniedError"
    assert type(received[2][1]["error"]).__name__ == "CallbackTokenError"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test/",
        "//evil.test/path",
        "/\\evil.test",
        "http:/evil.test",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "relative/path",
        "/" + "a" * MAX_NEXT_URL,
    ],
)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_unsafe_next_urls_fall_back_to_the_default(
    kind: str, target: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _routes)
    prefix = PREFIX[kind]
    with Browser() as browser:
        result = browser.login_via(ca.url + prefix + "/login?" + urlencode({"next": target}))
    assert result.response.status_code == 200
    assert result.response.json() == {"landed": "/home"}


def test_safe_next_url_rules() -> None:
    app = Flask("next-rules")
    with app.test_request_context("/", base_url="https://app.test"):
        assert safe_next_url("/a/b?c=d#e") == "/a/b?c=d#e"
        assert safe_next_url("https://app.test/deep/link?x=1") == "/deep/link?x=1"  # same origin: reduced to a path
        assert safe_next_url("https://app.test") == "/"
        assert safe_next_url("http://app.test/") is None  # another scheme is another origin
        assert safe_next_url("https://app.test.evil/") is None
        assert safe_next_url(None) is None
        assert safe_next_url("") is None
        assert safe_next_url("/" + "x" * (MAX_NEXT_URL - 1)) is not None
