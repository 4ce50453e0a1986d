"""The suite's use of the public fake provider (:class:`flask_oauth1_async.testing.FakeProvider`).

The suite dogfoods the provider that users get: ``tests/conftest.py`` serves
one over HTTP (``provider``) and one over HTTPS (``provider_tls``), resets
them before every test and adds the API routes below with the provider's own
public control, :meth:`~flask_oauth1_async.testing.FakeProvider.respond`.

API routes (below ``fake.api_base_url``, each answering from the recorded
:class:`~flask_oauth1_async.testing.ProviderCall`):

``me``
    who signed: ``user``, ``user_id``, ``client_id`` (the consumer key) and
    ``args`` (the query without ``oauth_*``, the first value of a repeated key);
``echo``
    what arrived: ``user``, ``method``, ``args``, ``form`` (a form body's
    fields without ``oauth_*``), ``json``, ``raw`` (the body) and ``content_type``;
``slow?ms=N``
    sleeps N milliseconds (at most 10 s), then answers ``user`` and ``slept_ms``;
``text`` / ``xml`` / ``form``
    the user's name in a ``text/plain``, ``application/xml`` or form-encoded body;
``status/<code>``
    answers HTTP ``<code>`` with ``user`` and ``status``;
``public``
    no signature needed; says whether an ``Authorization`` header came along.

Any other path gets the provider's default answer (the user's profile plus
``path`` and ``method``).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape

from flask_oauth1_async.testing import FakeProvider, ProviderCall

__all__ = ["SUITE_REALMS", "SUITE_USERS", "answer_what_was_verified", "install_routes", "last", "register_settings"]

#: The test users of the suite's providers (the first, alice, approves by default).
SUITE_USERS = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "victim",
    "zoé",
)

#: The realms the suite's providers have (a test asks for ``realm="photos"``).
SUITE_REALMS = ("photos",)

_FORM = "application/x-www-form-urlencoded"


def _public(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The fields without ``oauth_*``; the first value of a repeated key (as werkzeug's ``request.args``)."""
    found: dict[str, str] = {}
    for key, value in pairs:
        if not key.startswith("oauth_"):
            found.setdefault(key, value)
    return found


def _args(call: ProviderCall) -> dict[str, str]:
    return _public(list(call.query))


def install_routes(fake: FakeProvider) -> None:
    """Add the suite's API routes (see the module docstring) to *fake*."""

    def me(call: ProviderCall) -> dict[str, Any]:
        profile = fake.users.get(call.user or "", {})
        return {
            "user": call.user,
            "user_id": profile.get("user_id"),
            "client_id": call.consumer_key,
            "args": _args(call),
        }

    def echo(call: ProviderCall) -> dict[str, Any]:
        is_form = (call.content_type or "").startswith(_FORM)
        is_json = (call.content_type or "").startswith("application/json")
        return {
            "user": call.user,
            "method": call.method,
            "args": _args(call),
            "form": _public(parse_qsl(call.body, keep_blank_values=True)) if is_form else {},
            "json": json.loads(call.body) if is_json and call.body else None,
            "raw": call.body,
            "content_type": call.content_type,
        }

    def slow(call: ProviderCall) -> dict[str, Any]:
        delay_ms = max(0, min(int(_args(call).get("ms", "200")), 10_000))
        time.sleep(delay_ms / 1000.0)
        return {"user": call.user, "slept_ms": delay_ms}

    def xml(call: ProviderCall) -> str:
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<user><name>{escape(call.user or "")}</name></user>\n'

    def status(call: ProviderCall) -> tuple[dict[str, Any], int]:
        code = int(call.path.removeprefix("status/"))
        return {"user": call.user, "status": code}, code

    def public(call: ProviderCall) -> dict[str, Any]:
        return {"authorization": call.authorization is not None, "args": _args(call)}

    fake.respond("me", handler=me)
    fake.respond("echo", handler=echo)
    fake.respond("slow", handler=slow)
    fake.respond("text", handler=lambda call: f"hello {call.user}", content_type="text/plain; charset=utf-8")
    fake.respond("xml", handler=xml, content_type="application/xml")
    fake.respond("form", handler=lambda call: urlencode({"user": call.user or "", "status": "ok"}), content_type=_FORM)
    fake.respond("status/*", handler=status)
    fake.respond("public", handler=public)
    fake.public("public")


def answer_what_was_verified(fake: FakeProvider) -> None:
    """Make every other API path of *fake* answer what oauthlib verified, as the interop tests read it.

    ``path``, ``method``, ``user``, ``signature_method``, ``args`` and ``form``
    (lists of pairs, in order, ``oauth_*`` included, repeated keys kept) and
    ``body`` (the raw body when it is not a form).
    """

    def verified(call: ProviderCall) -> dict[str, Any]:
        is_form = (call.content_type or "").startswith(_FORM)
        return {
            "path": call.path,
            "method": call.method,
            "user": call.user,
            "signature_method": call.signature_method,
            "args": [list(pair) for pair in call.query],
            "form": [list(pair) for pair in parse_qsl(call.body, keep_blank_values=True)] if is_form else [],
            "body": None if is_form else call.body,
        }

    fake.respond("*", handler=verified)


def register_settings(fake: FakeProvider, **overrides: Any) -> dict[str, Any]:
    """``oauth.register("demo", **register_settings(fake, ...))``: the fake's settings, *overrides* applied.

    Over plain HTTP there is nothing to put in ``client_kwargs``, so the key is
    left out (an app's ``{NAME}_CLIENT_KWARGS`` config then applies as it would
    to any ``register()`` call that does not give them).
    """
    settings = fake.register_kwargs()
    if not settings["client_kwargs"]:
        del settings["client_kwargs"]
    settings.update(overrides)
    return settings


def last(fake: FakeProvider, endpoint: str, path: str | None = None) -> ProviderCall:
    """The newest request *fake* received at *endpoint* (and *path*); fails the test when there is none."""
    found = fake.received(endpoint, path)
    assert found, f"the provider received no request at {endpoint} {path or ''}".rstrip()
    return found[-1]
