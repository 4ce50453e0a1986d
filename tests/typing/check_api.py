"""Checked by ``mypy --strict`` (``nox -s typecheck`` and ``tests/test_typing.py``); never run.

It proves that the dual methods type-check both as plain results in sync
code and as awaitables in async code, that ``oauth.<name>`` is a
:class:`RemoteApp`, and that the explicit variants have exact types.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import httpx
from flask import Flask
from typing_extensions import assert_type
from werkzeug.wrappers import Response as WerkzeugResponse

from flask_oauth1_async import OAuth, OAuth1Token, RemoteApp

app = Flask(__name__)
oauth = OAuth(app)
oauth.register("x", client_id="id")


def sync_view() -> str:
    assert_type(oauth.x, RemoteApp)
    assert_type(oauth.create_client("x"), RemoteApp)
    resp: httpx.Response = oauth.x.get("me")
    posted: httpx.Response = oauth.x.post("me", data={"a": "b"})
    redirect: WerkzeugResponse = oauth.x.authorize_redirect("/cb")
    token: OAuth1Token = oauth.x.authorize_access_token()
    assert_type(oauth.x.get_sync("me"), httpx.Response)
    assert_type(oauth.x.request_sync("GET", "me"), httpx.Response)
    assert_type(oauth.x.delete_sync("me", withhold_token=True), httpx.Response)
    assert_type(oauth.x.authorize_redirect_sync("/cb"), WerkzeugResponse)
    assert_type(oauth.x.authorize_access_token_sync(), OAuth1Token)
    return f"{resp.status_code} {posted.status_code} {redirect.status_code} {token.token}"


async def async_view() -> str:
    resp: httpx.Response = await oauth.x.get("me")
    put: httpx.Response = await oauth.x.put("me", json={"a": 1})
    redirect: WerkzeugResponse = await oauth.x.authorize_redirect("/cb")
    token: OAuth1Token = await oauth.x.authorize_access_token()
    coro = assert_type(oauth.x.get_async("me"), Coroutine[Any, Any, httpx.Response])
    assert_type(await coro, httpx.Response)
    assert_type(await oauth.x.request_async("GET", "me"), httpx.Response)
    assert_type(await oauth.x.patch_async("me", token=("t", "s")), httpx.Response)
    assert_type(await oauth.x.authorize_redirect_async("/cb"), WerkzeugResponse)
    assert_type(await oauth.x.authorize_access_token_async(), OAuth1Token)
    return f"{resp.status_code} {put.status_code} {redirect.status_code} {token.secret}"
