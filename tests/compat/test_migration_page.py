"""The "before" app of ``docs/migrating-flask-oauthlib.rst``, run after the page's one-line change.

The block named ``flask-oauthlib-before`` is cut out of the page, its
Flask-OAuthlib import is replaced by the compat import (the change the page
prescribes), and only Twitter's URLs, its consumer key and secret and the
one API path are mapped to the demo provider (``examples/demo_provider.py``),
which, like Twitter/X, takes ``POST`` on its request-token endpoint only. The
app then signs a browser in and shows the user's name. The same app without
its ``request_token_method="POST"`` line is refused at the first step, which
is what the note next to the example says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from flask_oauth1_async import ProviderHTTPError
from flask_oauth1_async.compat.flask_oauthlib import OAuthException
from tests.support.browser import Browser
from tests.support.servers import ServerThread
from tests.test_quickstart import _load_demo_provider, _load_module, marked_blocks

PAGE = Path(__file__).resolve().parents[2] / "docs" / "migrating-flask-oauthlib.rst"
POST_LINE = '    request_token_method="POST",  # Flask-OAuthlib\'s default is GET\n'


def before_block() -> str:
    (block,) = [code for name, code in marked_blocks(PAGE.read_text(encoding="utf-8"), "flask-oauthlib-before")]
    return block


def after_change(block: str, provider_url: str, client_id: str, client_secret: str) -> str:
    """The block with the page's import change, pointed at the demo provider."""
    mapping = {
        "from flask_oauthlib.client import OAuth": "from flask_oauth1_async.compat.flask_oauthlib import OAuth",
        'consumer_key="..."': f"consumer_key={client_id!r}",
        'consumer_secret="..."': f"consumer_secret={client_secret!r}",
        "https://api.twitter.com/1.1/": provider_url + "/api/",
        "https://api.twitter.com/oauth/request_token": provider_url + "/oauth/request_token",
        "https://api.twitter.com/oauth/access_token": provider_url + "/oauth/access_token",
        "https://api.twitter.com/oauth/authenticate": provider_url + "/oauth/authorize",
        '"account/verify_credentials.json"': '"me"',
    }
    for old, new in mapping.items():
        assert block.count(old) == 1, f"the page's example no longer contains {old!r} once"
        block = block.replace(old, new)
    assert "twitter.com" not in block
    return block


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Any, ServerThread]]:
    provider = _load_demo_provider()
    with ServerThread(provider.create_provider(api_latency=0), name="migration-demo-provider") as server:
        yield provider, server


def _serve_before_app(demo: tuple[Any, ServerThread], source: str, name: str) -> Any:
    provider, server = demo
    code = after_change(source, server.url, provider.DEMO_CLIENT_ID, provider.DEMO_CLIENT_SECRET)
    return _load_module(name, code, str(PAGE))


def test_the_before_app_signs_in_after_the_one_line_change(demo: tuple[Any, ServerThread]) -> None:
    block = before_block()
    assert POST_LINE in block
    module = _serve_before_app(demo, block, "migration_before_app")
    try:
        with ServerThread(module.app, name="migration-before-app") as app, Browser() as browser:
            start = browser.get(app.url + "/login")
            assert start.status_code == 302, start.text
            authorize_url = start.headers["Location"]
            oauth_token = dict(parse_qsl(urlsplit(authorize_url).query))["oauth_token"]
            assert browser.get(authorize_url).status_code == 200
            back = browser.follow(
                authorize_url.split("?", 1)[0],
                method="POST",
                data={"oauth_token": oauth_token, "username": "migrated_user", "action": "approve"},
            )
            assert [urlsplit(u).path for u in back.visited] == ["/oauth/authorize", "/oauthorized", "/"]
            assert back.response.status_code == 200, back.response.text
            assert back.response.json() == {"name": "migrated_user"}
    finally:
        module.oauth.native.close()


def test_without_request_token_method_post_the_login_is_refused(demo: tuple[Any, ServerThread]) -> None:
    block = before_block()
    module = _serve_before_app(demo, block.replace(POST_LINE, ""), "migration_before_app_get")
    try:
        with ServerThread(module.app, name="migration-before-app-get") as app, Browser() as browser:
            start = browser.get(app.url + "/login")
        assert start.status_code == 500  # the OAuthException of a refused request token, unhandled
        assert "Location" not in start.headers
        with module.app.test_request_context("/login"), pytest.raises(OAuthException) as caught:
            module.twitter.authorize(callback="/oauthorized")
        assert caught.value.type == "token_generation_failed"  # Flask-OAuthlib's own type for it
        cause = caught.value.__cause__
        assert isinstance(cause, ProviderHTTPError)
        assert cause.status_code == 405  # the demo provider takes POST only, like Twitter/X's endpoint
    finally:
        module.oauth.native.close()
