"""Checked by ``mypy --strict`` from ``tests/compat/test_flask_oauthlib.py``; never run.

It shows that typed code written against the compat layer type-checks in
both kinds of views: plain calls give an :class:`OAuthResponse` in sync views
and can be awaited in ``async def`` views, and the explicit variants have
exact types.
"""

from __future__ import annotations

from flask import Flask
from typing_extensions import assert_type
from werkzeug.wrappers import Response as WerkzeugResponse

from flask_oauth1_async import OAuth1Token
from flask_oauth1_async.compat.flask_oauthlib import OAuth, OAuthRemoteApp, OAuthResponse

app = Flask(__name__)
oauth = OAuth(app)
twitter = oauth.remote_app("twitter", consumer_key="k", consumer_secret="s", request_token_url="https://x/rt")


@twitter.tokengetter
def token() -> tuple[str, str] | None:
    return None


def sync_view() -> str:
    assert_type(oauth.twitter, OAuthRemoteApp)
    redirect: WerkzeugResponse = twitter.authorize(callback="/cb")
    resp = twitter.authorized_response()
    if resp is not None:
        print(resp["oauth_token"], redirect)
    got: OAuthResponse = twitter.get("me", data={"q": "x"})
    posted: OAuthResponse = twitter.post("echo", data={"a": 1}, format="json")
    exact = twitter.request_sync("me", method="PUT")
    assert_type(exact, OAuthResponse)
    return f"{got.status} {posted.data} {exact.raw_data!r}"


async def async_view() -> str:
    redirect: WerkzeugResponse = await twitter.authorize(callback="/cb")
    resp = await twitter.authorized_response_async()
    assert_type(resp, OAuth1Token | None)
    got: OAuthResponse = await twitter.get("me")
    exact = await twitter.delete_async("thing/1")
    assert_type(exact, OAuthResponse)
    return f"{redirect.status_code} {got.headers} {exact.status}"
