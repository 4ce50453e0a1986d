"""Building blocks for the client apps that tests serve, shared by several test files.

Conventions:

* a test's ``def`` views live under ``/s`` and its ``async def`` views under
  ``/a`` (:data:`PREFIX`), so one test body, parametrized over
  :data:`VIEW_KINDS`, drives both kinds;
* a resource call's access token can travel in the ``X-Token`` / ``X-Secret``
  headers of the request to the client app: :func:`token_headers` builds them
  on the test side, :func:`token_from_headers` is a ``fetch_token`` that reads
  them;
* :func:`catch_oauth_errors` answers every ``OAuthError`` with JSON (HTTP 418)
  and keeps the exception objects in ``app.config["CAUGHT"]``.
"""

from __future__ import annotations

import gc
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.integrations.base_client import OAuthError
from flask import Flask, Response, jsonify, request, url_for

from flask_oauth1_async import OAuth
from flask_oauth1_async._pools import ClientPool
from flask_oauth1_async.registry import EXTENSION_KEY

#: The two kinds of view a test runs its body in: ``def`` and ``async def``.
VIEW_KINDS = ("sync", "async")
#: Where each kind of view lives in a test's client app.
PREFIX = {"sync": "/s", "async": "/a"}


def token_headers(token: dict[str, str]) -> dict[str, str]:
    """The headers that carry *token* to a client app using :func:`token_from_headers`."""
    return {"X-Token": token["oauth_token"], "X-Secret": token["oauth_token_secret"]}


def token_from_headers() -> dict[str, str]:
    """A ``fetch_token``: the token of the headers made by :func:`token_headers`."""
    return {"oauth_token": request.headers["X-Token"], "oauth_token_secret": request.headers["X-Secret"]}


def catch_oauth_errors(app: Flask) -> list[BaseException]:
    """Answer every ``OAuthError`` with JSON (HTTP 418) and keep the exception objects."""
    caught: list[BaseException] = []
    app.config["CAUGHT"] = caught

    @app.errorhandler(OAuthError)
    def oauth_error(e: OAuthError) -> tuple[Response, int]:
        caught.append(e)
        return jsonify(error=type(e).__name__, message=str(e)), 418

    return caught


def dance_routes(app: Flask, oauth: OAuth, *, me: bool = False, catch_errors: bool = True) -> None:
    """``/s/login`` + ``/s/callback`` (``def``) and ``/a/login`` + ``/a/callback`` (``async def``).

    The login view redirects to the provider with the callback's absolute URL.
    The callback answers the token (``token``; ``token_class``,
    ``token_repr`` and ``token_str`` show how it prints), ``before`` (what
    ``oauth.demo.token`` was before the exchange) and ``current_is_result``
    (whether the property is the returned token afterwards). With *me*, it
    then calls ``oauth.demo.get("me")`` without ``token=`` (so the token just
    obtained must be used) and adds ``me_status`` and ``me`` (the JSON).
    Errors are answered by :func:`catch_oauth_errors`, unless *catch_errors*
    is false (the app's own or the default handlers then answer).
    """
    if catch_errors:
        catch_oauth_errors(app)

    def answer(token: Any, before: Any, current_is_result: bool, called: Any) -> Response:
        body = {
            "token": dict(token),
            "token_class": type(token).__name__,
            "token_repr": repr(token),
            "token_str": str(token),
            "before": before,
            "current_is_result": current_is_result,
        }
        if called is not None:
            body.update(me_status=called.status_code, me=called.json())
        return jsonify(body)

    @app.route("/s/login")
    def s_login() -> Any:
        return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

    @app.route("/s/callback")
    def s_callback() -> Response:
        before = oauth.demo.token
        token = oauth.demo.authorize_access_token()
        current = oauth.demo.token is token
        return answer(token, before, current, oauth.demo.get("me") if me else None)

    @app.route("/a/login")
    async def a_login() -> Any:
        return await oauth.demo.authorize_redirect(url_for("a_callback", _external=True))

    @app.route("/a/callback")
    async def a_callback() -> Response:
        before = oauth.demo.token
        token = await oauth.demo.authorize_access_token()
        current = oauth.demo.token is token
        return answer(token, before, current, await oauth.demo.get("me") if me else None)


def remote_state(app: Flask, name: str = "demo") -> ClientPool:
    """The HTTP client pool of remote *name* in *app* (an internal object)."""
    return app.extensions[EXTENSION_KEY].remotes[name][1].pool  # type: ignore[no-any-return]


def with_query(url: str, **params: str) -> str:
    """*url* with *params* appended to its query."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    """The query parameters of *url* (the last value of each)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


class WarningRecorder:
    """Record every warning raised while a view runs (``warnings.catch_warnings`` in the server thread).

    Only one view runs at a time in the tests that use it (the test thread
    waits for the answer), so swapping the process-wide warning filters is safe.
    """

    def __init__(self) -> None:
        self._cm = warnings.catch_warnings(record=True)
        self.caught: list[warnings.WarningMessage] = []

    def __enter__(self) -> WarningRecorder:
        log = self._cm.__enter__()
        assert log is not None
        self.caught = log  # the very list catch_warnings appends to (an empty list is falsy: no 'or')
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc: object) -> None:
        gc.collect()  # a dropped PendingCall/Future/coroutine reports itself now, inside the recorder
        self._cm.__exit__(*exc)

    def messages(self) -> list[str]:
        return [f"{w.category.__name__}: {w.message}" for w in self.caught]
