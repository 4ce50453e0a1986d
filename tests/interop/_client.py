"""A client Flask app using only the public API, with sync and async views.

``/s/...`` are ``def`` views, ``/a/...`` ``async def`` views (the suite's
convention, :data:`tests.support.views.PREFIX`). ``login`` starts the dance,
``callback`` finishes it and answers the token as JSON. ``calls`` makes the
signed calls of the interop suite with the token given in the query
(``?t=<token>&s=<secret>``) and answers every response's status and JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request, url_for

from flask_oauth1_async import OAuth
from tests.support.insecure import plaintext_opt_out, warns_insecure

#: the query of the signed GET: spaces, "+", reserved characters and non-ASCII.
ODD_QUERY = {"q": "a b+c/d?e&f=g", "u": "é ✓ 日本", "r": "!*'();:@$,[]"}
#: the same, for implementations with a known bug on "'" and non-ASCII (see the callers).
PLAIN_QUERY = {"q": "a b+c/d?e&f=g", "r": "!*();:@$,"}
FORM = {"status": "Hello Ladies + Gentlemen, a signed OAuth request!", "n": "1"}


def calls_for(signature_type: str, query: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(method, httpx kwargs) of the signed calls; body placement needs form bodies (RFC 5849 3.5.2)."""
    form_calls: list[tuple[str, dict[str, Any]]] = [
        ("POST", {"data": FORM}),
        ("PUT", {"data": FORM}),
        ("PATCH", {"data": FORM}),
    ]
    if signature_type == "body":
        return form_calls
    return [
        ("GET", {"params": query}),
        *form_calls,
        ("POST", {"json": {"a": [1, "x y"]}}),
        ("PUT", {"json": {"k": "v"}}),
        ("PATCH", {"content": b"<x>1</x>", "headers": {"Content-Type": "application/xml"}}),
        ("DELETE", {"params": {"id": "7 8"}}),
    ]


def make_client_app(register: dict[str, Any], signature_type: str, query: dict[str, str]) -> tuple[Flask, OAuth]:
    app = Flask("interop-client")
    app.secret_key = "interop-secret"
    oauth = OAuth(app)
    # The peers run on 127.0.0.1, PLAINTEXT over plain HTTP included (the opt-out says so).
    method = str(register.get("client_kwargs", {}).get("signature_method", "HMAC-SHA1"))
    register = {**plaintext_opt_out(method, register["api_base_url"]), **register}
    with warns_insecure(signature_type == "query", match="signature_type='query'"):
        oauth.register("peer", **register)
    calls = calls_for(signature_type, query)

    @app.get("/s/login")
    def s_login() -> Any:
        return oauth.peer.authorize_redirect(url_for("s_callback", _external=True))

    @app.get("/a/login")
    async def a_login() -> Any:
        return await oauth.peer.authorize_redirect(url_for("a_callback", _external=True))

    @app.get("/s/callback")
    def s_callback() -> Any:
        return jsonify(dict(oauth.peer.authorize_access_token()))

    @app.get("/a/callback")
    async def a_callback() -> Any:
        return jsonify(dict(await oauth.peer.authorize_access_token()))

    def token() -> dict[str, str]:
        return {"oauth_token": request.args["t"], "oauth_token_secret": request.args["s"]}

    def summary(method: str, response: Any) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return {"method": method, "status": response.status_code, "body": body}

    @app.get("/s/calls")
    def s_calls() -> Any:
        tok = token()
        out = [summary(m, oauth.peer.request(m, "api/thing", token=tok, **kw)) for m, kw in calls]
        return jsonify(out)

    @app.get("/a/calls")
    async def a_calls() -> Any:
        tok = token()
        out = []
        for m, kw in calls:
            out.append(summary(m, await oauth.peer.request(m, "api/thing", token=tok, **kw)))
        return jsonify(out)

    return app, oauth
