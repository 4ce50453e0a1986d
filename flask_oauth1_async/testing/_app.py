"""The fake provider's Flask app: oauthlib's four endpoints, the scripted behaviour, the records.

Routes: ``/oauth/request_token``, ``/oauth/authorize``, ``/oauth/access_token``
and ``/api/<path>``. The token endpoints and the API verify with oauthlib's
endpoints against the request exactly as it was sent (its raw URI, its raw
body); the authorize page plays the user, who approves as a test user or
denies.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from html import escape
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask, Response, request

from ._controls import FORM, Answer, Decision, ProviderCall, Route, Script
from ._server import CONNECTION_KEY
from ._validator import TIMESTAMP_LIFETIME, Storage, make_validator

__all__ = ["add_query", "build_app", "consent_page"]

#: What oauthlib's endpoints take: (uri, method, body, headers).
Wire = tuple[str, str, str, dict[str, str]]


def add_query(url: str, params: dict[str, str]) -> str:
    """*url* with *params* appended to its query."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return parts._replace(query=urlencode(query)).geturl()


def _oauth_params() -> dict[str, str]:
    """The ``oauth_*`` parameters of the current request, wherever they were sent."""
    found: dict[str, str] = {}
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "oauth ":
        from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

        try:
            found.update(dict(parse_authorization_header(header)))
        except (ValueError, TypeError):
            found["oauth_signature"] = "?"
    pairs = list(request.args.items(multi=True))
    if request.mimetype == FORM:
        # Parse the cached bytes: touching request.form would consume the body.
        pairs += parse_qsl(request.get_data(as_text=True), keep_blank_values=True)
    for key, value in pairs:
        if key.startswith("oauth_"):
            found.setdefault(key, value)
    found.pop("realm", None)
    return found


def _raw_uri() -> str:
    """The request URI exactly as sent (werkzeug's ``request.url`` re-encodes it)."""
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return f"{request.scheme}://{request.host}{target}"


def _wire() -> Wire:
    return _raw_uri(), request.method, request.get_data(as_text=True), dict(request.headers)


def _call(endpoint: str, path: str, status: int, *, valid: bool = False, user: str | None = None) -> ProviderCall:
    """The record of the current request."""
    oauth = _oauth_params()
    return ProviderCall(
        endpoint=endpoint,
        method=request.method,
        path=path,
        query=tuple(request.args.items(multi=True)),
        signed="oauth_signature" in oauth,
        valid=valid,
        token=oauth.get("oauth_token"),
        user=user,
        status=status,
        signature_method=oauth.get("oauth_signature_method"),
        body=request.get_data(as_text=True),
        content_type=request.content_type,
        consumer_key=oauth.get("oauth_consumer_key"),
        headers=dict(request.headers.items()),
        url=_raw_uri(),
        connection=int(request.environ.get(CONNECTION_KEY, 0)),
    )


def _canned(answer: Answer) -> Response:
    return Response(answer.body, status=answer.status, content_type=answer.content_type, headers=dict(answer.headers))


def _skewed_timestamp_refusal(offset: int) -> Response | None:
    """With a skewed clock, the provider's own timestamp check (oauthlib's window, around its clock)."""
    if not offset:
        return None
    stamp = _oauth_params().get("oauth_timestamp", "")
    now = int(time.time()) + offset
    if stamp.isdigit() and abs(int(stamp) - now) <= TIMESTAMP_LIFETIME:
        return None
    body = urlencode(
        {
            "oauth_problem": "timestamp_refused",
            "oauth_acceptable_timestamps": f"{now - TIMESTAMP_LIFETIME}-{now + TIMESTAMP_LIFETIME}",
        }
    )
    return Response(body, status=401, content_type=FORM)


def _decision_of_the_page(default_user: str) -> Decision | None:
    """What the user chose on the authorize page (``deny=1``, ``user=NAME`` or an ``action``), if anything."""
    values = request.values
    if values.get("deny") or values.get("action") == "deny":
        return Decision(approve=False)
    if values.get("user") or values.get("action") == "approve":
        return Decision(approve=True, user=values.get("user") or default_user)
    return None


def _route_answer(route: Route, call: ProviderCall) -> tuple[Any, int]:
    payload, status = route.payload, route.status
    if route.handler is not None:
        answer = route.handler(call)
        if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], int):
            payload, status = answer
        else:
            payload = answer
    return payload, status


class Served(Protocol):
    """What the app needs of the :class:`~flask_oauth1_async.testing.FakeProvider` that serves it."""

    tls: bool
    realms: tuple[str, ...]
    default_user: str
    users: dict[str, dict[str, Any]]
    _storage: Storage
    _script: Script

    def user_of(self, token: str) -> str | None:
        """The test user an access token belongs to."""


def build_app(fake: Served) -> Flask:
    """The provider's WSGI app, reading *fake*'s users, storage and script."""
    from oauthlib.oauth1 import (
        AccessTokenEndpoint,
        AuthorizationEndpoint,
        OAuth1Error,
        RequestTokenEndpoint,
        ResourceEndpoint,
    )

    storage, script = fake._storage, fake._script
    validator = make_validator(storage, enforce_ssl=fake.tls, clock_offset=script.offset, realms=fake.realms)
    request_endpoint = RequestTokenEndpoint(validator)
    authorization_endpoint = AuthorizationEndpoint(validator)
    access_endpoint = AccessTokenEndpoint(validator)
    resource_endpoint = ResourceEndpoint(validator)
    app = Flask("flask_oauth1_async.testing.provider")

    def token_endpoint(endpoint: str, create: Callable[..., tuple[dict[str, str], str | None, int]]) -> Response:
        script.wait(endpoint)
        answer = script.take_answer(endpoint)
        if answer is not None:  # nothing is created or consumed
            script.record(_call(endpoint, request.path, answer.status))
            return _canned(answer)
        refusal = _skewed_timestamp_refusal(script.offset())
        if refusal is not None:
            script.record(_call(endpoint, request.path, refusal.status_code))
            return refusal
        headers, body, status = create(*_wire())
        user = None
        if status == 200 and body:
            fields: dict[str, str] = dict(parse_qsl(body, keep_blank_values=True))
            if endpoint == "request_token":
                confirmed = script.confirmed()
                if confirmed is None:
                    fields.pop("oauth_callback_confirmed", None)
                else:
                    fields["oauth_callback_confirmed"] = "true" if confirmed else "false"
            else:
                # Add the test user's profile, the way Twitter/X sends user_id and screen_name.
                user = fake.user_of(fields.get("oauth_token", ""))
                known: dict[str, Any] = fake.users.get(user or "") or {}
                fields.update({k: str(known[k]) for k in ("user_id", "screen_name") if k in known})
            body = urlencode(fields)
        script.record(_call(endpoint, request.path, status, valid=status == 200, user=user))
        return Response(body or "", status=status, headers=headers)

    @app.route("/oauth/request_token", methods=["GET", "POST"])
    def request_token() -> Response:
        return token_endpoint("request_token", request_endpoint.create_request_token_response)

    @app.route("/oauth/access_token", methods=["GET", "POST"])
    def access_token() -> Response:
        return token_endpoint("access_token", access_endpoint.create_access_token_response)

    def refuse(status: int, text: str) -> Response:
        script.record(_call("authorize", request.path, status))
        return Response(f"fake provider: {text}", status=status, mimetype="text/plain")

    @app.route("/oauth/authorize", methods=["GET", "POST"])
    def authorize() -> Response:
        script.wait("authorize")
        answer = script.take_answer("authorize")
        if answer is not None:
            script.record(_call("authorize", request.path, answer.status))
            return _canned(answer)
        token = request.values.get("oauth_token", "")
        with storage.lock:
            pending = storage.request_tokens.get(token)
            callback = None if pending is None else str(pending["callback"])
        if pending is None or callback is None:
            return refuse(400, "unknown or used request token")
        decision = script.next_decision() or _decision_of_the_page(fake.default_user)
        if decision is None:  # nothing scripted, nothing chosen yet: the page a person sees
            script.record(_call("authorize", request.path, 200))
            return Response(consent_page(list(fake.users), token), mimetype="text/html")
        if not decision.approve:
            with storage.lock:
                storage.request_tokens.pop(token, None)
            if callback == "oob":
                script.record(_call("authorize", request.path, 200))
                return Response("fake provider: access denied", mimetype="text/plain")
            script.record(_call("authorize", request.path, 302))
            params = decision.callback_params
            location = add_query(callback, dict(params) if params is not None else {"denied": token})
            return Response("", status=302, headers={"Location": location})
        user = decision.user
        if user not in fake.users:
            return refuse(400, f"unknown test user {user!r}")
        with storage.lock:
            pending["user"] = user
        uri = f"{request.scheme}://{request.host}{request.path}?{urlencode({'oauth_token': token})}"
        try:
            headers, body, status = authorization_endpoint.create_authorization_response(uri, "GET", "", {})
        except OAuth1Error as exc:
            script.record(_call("authorize", request.path, exc.status_code))
            return Response(exc.urlencoded, status=exc.status_code, mimetype=FORM)
        script.record(_call("authorize", request.path, status, valid=True, user=user))
        return Response(body or "", status=status, headers=headers)

    @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def api(rest: str) -> Response:
        script.wait("api")
        oauth = _oauth_params()
        refusal = _skewed_timestamp_refusal(script.offset()) if oauth else None
        valid, user = False, None
        if "oauth_signature" in oauth and refusal is None:
            try:
                valid, _ = resource_endpoint.validate_protected_resource_request(*_wire())
            except OAuth1Error:
                valid = False
            if valid:
                user = fake.user_of(oauth.get("oauth_token", ""))
        call = _call("api", rest, 0, valid=valid, user=user)
        answer = script.take_answer("api")  # after the check: the record says whether the signature was good
        if answer is not None:
            script.record(dataclasses.replace(call, status=answer.status))
            return _canned(answer)
        if refusal is not None:
            script.record(dataclasses.replace(call, status=refusal.status_code))
            return refusal
        if not valid and not script.is_public(rest):
            script.record(dataclasses.replace(call, status=401))
            reason = "invalid signature or token" if oauth else "this API needs a signed request"
            return Response(json.dumps({"error": reason}), status=401, mimetype="application/json")
        route = script.route(request.method, rest)
        headers: dict[str, str] = {}
        content_type: str | None = None
        if route is None:
            profile = fake.users.get(user, {}) if user else {}
            payload, status = {**profile, "path": rest, "method": request.method}, 200
        else:
            payload, status = _route_answer(route, call)
            headers, content_type = dict(route.headers), route.content_type
        script.record(dataclasses.replace(call, status=status))
        if content_type is None:
            return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)
        return Response(payload, status=status, content_type=content_type, headers=headers)

    return app


def consent_page(users: list[str], token: str) -> str:
    """The authorize page a person sees: pick a test user, approve or deny."""
    options = "".join(f'<option value="{escape(name)}">{escape(name)}</option>' for name in users)
    return (
        "<!doctype html><title>Fake provider: authorize</title>"
        "<h1>An application wants to use your account</h1>"
        '<form method="post">'
        f'<input type="hidden" name="oauth_token" value="{escape(token)}">'
        f'<label>Sign in as <select name="user">{options}</select></label> '
        '<button name="action" value="approve">Authorize</button> '
        '<button name="action" value="deny">Deny</button>'
        "</form>"
    )
