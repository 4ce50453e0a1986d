"""Every way a login can fail ends in a typed exception, in sync and async views.

The apps of the first part register ``@app.errorhandler(OAuthError)`` (Authlib's
base class) answering ``{"error": type(e).__name__, "message": str(e)}`` and
keep the exception objects, so the tests check both what the browser sees and
the exception itself (type, ``reason``, ``status_code``, ``repr``). Error
messages quote a short excerpt of the provider's body, with every secret
masked: plain ``oauth_token_secret=...`` fields, structured (JSON, XML) bodies,
and secrets inside percent-encoded (even doubly encoded) debug fields. The last
part checks the default handler that ``init_app`` registers for
:class:`~flask_oauth1_async.AuthorizationError` when the app has none.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.base_client.errors import MismatchingStateError
from flask import Blueprint, Flask, Response, jsonify

from flask_oauth1_async import (
    AccessDeniedError,
    AccessTokenRefusedError,
    AuthorizationError,
    CallbackNotConfirmedError,
    CallbackTokenError,
    InvalidTokenResponseError,
    MissingVerifierError,
    OAuth,
    OAuth1Error,
    ProviderError,
    ProviderHTTPError,
)
from flask_oauth1_async.flows import MAX_REQUEST_TOKEN, MAX_VERIFIER
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.browser import Browser, approve, start_login
from tests.support.views import PREFIX, VIEW_KINDS, dance_routes, query_of

SECRET_MARK = "SEKRET"


# ------------------------------------------------------------------ helpers


#: Dance routes without an error handler of their own: the default handler of init_app answers.
_dance_routes = functools.partial(dance_routes, catch_errors=False)
#: Dance routes whose ``OAuthError`` handler answers JSON (418) and keeps the exceptions in ``CAUGHT``.
_json_errors = dance_routes


def _caught(ca: ClientApp) -> list[BaseException]:
    caught: list[BaseException] = ca.app.config["CAUGHT"]
    return caught


def _only_error(ca: ClientApp) -> BaseException:
    caught = _caught(ca)
    assert len(caught) == 1, caught
    return caught[0]


def _refusal(endpoint: str, status: int, expected: type[BaseException]) -> type[BaseException]:
    """The exact error of a failed token answer: a 4xx refusal of the callback's exchange is an AuthorizationError."""
    if endpoint == "access_token" and expected is ProviderHTTPError and status < 500:
        return AccessTokenRefusedError
    return expected


def _assert_json_error(response: Any, expected: type[BaseException]) -> dict[str, str]:
    """The JSON handler answered (418) for an exception of exactly type *expected*."""
    assert response.status_code == 418, response.text
    body: dict[str, str] = response.json()
    assert body["error"] == expected.__name__, body
    return body


def _without(url: str, key: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != key]
    return urlunsplit(parts._replace(query=urlencode(query)))


# ------------------------------------------------------------------ denial


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_denied_at_provider_raises_access_denied(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login", deny=True)
    assert "denied" in result.callback_params
    body = _assert_json_error(result.response, AccessDeniedError)
    assert "declined" in body["message"]
    exc = _only_error(ca)
    assert isinstance(exc, AccessDeniedError)
    assert isinstance(exc, AuthorizationError)
    assert exc.error == "access_denied"
    assert len(provider.received("access_token")) == 0


@pytest.mark.parametrize("problem", ["user_refused", "permission_denied"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_oauth_problem_refusal_raises_access_denied_and_forgets_the_login(
    kind: str, problem: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        authorize_url = start_login(browser, ca.url + PREFIX[kind] + "/login")
        oauth_token = query_of(authorize_url)["oauth_token"]
        refused = (
            ca.url
            + PREFIX[kind]
            + "/callback"
            + "?"
            + urlencode({"oauth_token": oauth_token, "oauth_problem": problem})
        )
        _assert_json_error(browser.get(refused), AccessDeniedError)
        # The pending login was discarded: even a genuine approval cannot complete it now.
        callback_url = approve(browser, authorize_url)
        _assert_json_error(browser.get(callback_url), CallbackTokenError)
    exc = _caught(ca)[-1]
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "unknown"
    assert len(provider.received("access_token")) == 0


# ------------------------------------------------------------------ bad callbacks


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_without_oauth_token(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        start_login(browser, ca.url + PREFIX[kind] + "/login")  # a pending login exists, but is not named
        response = browser.get(ca.url + PREFIX[kind] + "/callback?oauth_verifier=abc")
    _assert_json_error(response, CallbackTokenError)
    exc = _only_error(ca)
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "missing"
    assert len(provider.received("access_token")) == 0


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_with_unknown_oauth_token(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        start_login(browser, ca.url + PREFIX[kind] + "/login")
        query = urlencode({"oauth_token": "never-issued", "oauth_verifier": "abc"})
        response = browser.get(ca.url + PREFIX[kind] + "/callback?" + query)
    _assert_json_error(response, CallbackTokenError)
    exc = _only_error(ca)
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "unknown"
    assert len(provider.received("access_token")) == 0


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_without_verifier(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        callback_url = approve(browser, start_login(browser, ca.url + PREFIX[kind] + "/login"))
        assert "oauth_verifier=" in callback_url
        response = browser.get(_without(callback_url, "oauth_verifier"))
    body = _assert_json_error(response, MissingVerifierError)
    assert "oauth_verifier" in body["message"]
    assert isinstance(_only_error(ca), MissingVerifierError)
    assert len(provider.received("access_token")) == 0


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_with_a_huge_verifier_is_refused_before_anything_is_signed(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        callback_url = approve(browser, start_login(browser, ca.url + PREFIX[kind] + "/login"))
        huge = "v" * (MAX_VERIFIER + 1)
        response = browser.get(_without(callback_url, "oauth_verifier") + "&oauth_verifier=" + huge)
    body = _assert_json_error(response, MissingVerifierError)
    assert f"longer than {MAX_VERIFIER} characters" in body["message"]
    assert huge not in body["message"]
    assert len(provider.received("access_token")) == 0


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_with_an_oauth_token_longer_than_any_kept_is_unknown(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        start_login(browser, ca.url + PREFIX[kind] + "/login")
        query = urlencode({"oauth_token": "t" * (MAX_REQUEST_TOKEN + 1), "oauth_verifier": "abc"})
        response = browser.get(ca.url + PREFIX[kind] + "/callback?" + query)
    body = _assert_json_error(response, CallbackTokenError)
    assert f"longer than {MAX_REQUEST_TOKEN} characters" in body["message"]
    exc = _only_error(ca)
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "unknown"
    assert len(provider.received("access_token")) == 0


# ------------------------------------------------------------------ oauth_callback_confirmed


@pytest.mark.parametrize("confirmed", [False, None], ids=["false", "missing"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_not_confirmed_is_rejected(
    kind: str, confirmed: bool | None, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    provider.set_callback_confirmed(confirmed)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        response = browser.get(ca.url + PREFIX[kind] + "/login")
        session_cookie = browser.cookies.get("session")
    body = _assert_json_error(response, CallbackNotConfirmedError)
    assert "require_callback_confirmed=False" in body["message"]
    exc = _only_error(ca)
    assert isinstance(exc, CallbackNotConfirmedError)
    assert isinstance(exc, ProviderError)
    assert len(provider.received("request_token")) == 1
    assert len(provider.received("authorize")) == 0
    assert session_cookie is None, "nothing may be stored for a rejected request token"


@pytest.mark.parametrize("confirmed", [False, None], ids=["false", "missing"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_require_callback_confirmed_false_accepts_legacy_provider(
    kind: str, confirmed: bool | None, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    provider.set_callback_confirmed(confirmed)
    ca = client_app(provider, _json_errors, require_callback_confirmed=False)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login", user="dave")
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["token"]["screen_name"] == "dave"
    assert _caught(ca) == []


# ------------------------------------------------------------------ provider failures


@pytest.mark.parametrize("status", [500, 401, 503])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_request_token_http_error(kind: str, status: int, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    provider.fail_next("request_token", status)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        response = browser.get(ca.url + PREFIX[kind] + "/login")
    body = _assert_json_error(response, ProviderHTTPError)
    assert str(status) in body["message"]
    assert "request token" in body["message"]
    exc = _only_error(ca)
    assert isinstance(exc, ProviderHTTPError)
    assert exc.status_code == status
    assert f"scripted {status} from request_token" in exc.body_excerpt
    assert len(provider.received("authorize")) == 0


@pytest.mark.parametrize("status", [500, 401])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_access_token_http_error(kind: str, status: int, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    provider.fail_next("access_token", status)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login")
    # A 4xx refusal is what an edited callback produces: an AuthorizationError
    # (answered 400 by default) that is still a ProviderHTTPError. A 5xx is
    # the provider failing, not the callback: a plain ProviderHTTPError.
    expected = AccessTokenRefusedError if status < 500 else ProviderHTTPError
    body = _assert_json_error(result.response, expected)
    assert str(status) in body["message"]
    assert "access token" in body["message"]
    exc = _only_error(ca)
    assert isinstance(exc, ProviderHTTPError)
    assert isinstance(exc, AuthorizationError) == (status < 500)
    assert exc.status_code == status
    assert len(provider.received("access_token")) == 1


def test_oauth_problem_of_a_failed_answer_is_quoted(provider: FakeProvider, client_app: ClientAppFactory) -> None:
    provider.answer_next("access_token", "oauth_problem=token_rejected", status=401)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        result = browser.login_via(ca.url + "/s/login")
    body = _assert_json_error(result.response, AccessTokenRefusedError)
    assert "oauth_problem=token_rejected" in body["message"]


@pytest.mark.parametrize("endpoint", ["request_token", "access_token"])
@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("<html>oops</html>", None),
        ("just some text", "text/plain"),
        ("oops=1&nothing=here", None),
        ('{"not": "a token"}', "application/json"),
        ("[1, 2]", "application/json"),
        ("\x00\xff binary", "application/octet-stream"),
        ("", None),
    ],
    ids=["html", "text", "form-without-token", "json-without-token", "json-list", "binary", "empty"],
)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_success_status_without_token_is_invalid_token_response(
    kind: str,
    endpoint: str,
    content: str,
    content_type: str | None,
    provider: FakeProvider,
    client_app: ClientAppFactory,
) -> None:
    provider.answer_next(endpoint, content, content_type=content_type)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        if endpoint == "request_token":
            response = browser.get(ca.url + PREFIX[kind] + "/login")
        else:
            response = browser.login_via(ca.url + PREFIX[kind] + "/login").response
    # Never a ValueError/KeyError (which would be a 500 here): always the typed error.
    _assert_json_error(response, InvalidTokenResponseError)
    exc = _only_error(ca)
    assert isinstance(exc, InvalidTokenResponseError)
    assert isinstance(exc, ProviderError)
    assert not isinstance(exc, ValueError)


# ------------------------------------------------------------------ messages: short and secret-free


def _error_texts(ca: ClientApp, response: Any) -> list[str]:
    exc = _only_error(ca)
    assert isinstance(exc, OAuth1Error)
    texts = [str(exc), repr(exc), response.text, exc.description or ""]
    texts.append(str(getattr(exc, "body_excerpt", "")))
    return texts


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, InvalidTokenResponseError), (500, ProviderHTTPError)],
    ids=["2xx", "5xx"],
)
@pytest.mark.parametrize("endpoint", ["request_token", "access_token"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_long_bodies_are_truncated(
    kind: str,
    endpoint: str,
    status: int,
    expected: type[OAuth1Error],
    provider: FakeProvider,
    client_app: ClientAppFactory,
) -> None:
    provider.answer_next(endpoint, "<html>" + "x" * 5000 + "</html>", status=status)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        if endpoint == "request_token":
            response = browser.get(ca.url + PREFIX[kind] + "/login")
        else:
            response = browser.login_via(ca.url + PREFIX[kind] + "/login").response
    _assert_json_error(response, expected)
    exc = _only_error(ca)
    assert isinstance(exc, expected)
    assert "xxxx" in str(exc), "an excerpt of the body is quoted"
    assert len(str(exc)) < 1000
    assert len(repr(exc)) < 1000
    assert len(response.text) < 1000


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, f"oauth_token_secret={SECRET_MARK}&error=no_token", InvalidTokenResponseError),
        (200, f"oauth_token=&oauth_token_secret={SECRET_MARK}", InvalidTokenResponseError),
        (401, f"oauth_problem=token_rejected&oauth_token_secret={SECRET_MARK}", ProviderHTTPError),
        (500, f"oauth_token=t&oauth_token_secret={SECRET_MARK}&oauth_verifier={SECRET_MARK}", ProviderHTTPError),
        (200, f"Error: oauth_token_secret={SECRET_MARK}", InvalidTokenResponseError),
    ],
    ids=["2xx-form", "2xx-empty-token", "401-form", "500-form-and-verifier", "2xx-text"],
)
@pytest.mark.parametrize("endpoint", ["request_token", "access_token"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_token_secrets_in_bodies_are_never_quoted(
    kind: str,
    endpoint: str,
    status: int,
    body: str,
    expected: type[OAuth1Error],
    provider: FakeProvider,
    client_app: ClientAppFactory,
) -> None:
    provider.answer_next(endpoint, body, status=status)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        if endpoint == "request_token":
            response = browser.get(ca.url + PREFIX[kind] + "/login")
        else:
            response = browser.login_via(ca.url + PREFIX[kind] + "/login").response
    _assert_json_error(response, _refusal(endpoint, status, expected))
    texts = _error_texts(ca, response)
    for text in texts:
        assert SECRET_MARK not in text, text
    assert "oauth_token_secret=***" in str(_only_error(ca))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"oauth_token_secret": SECRET_MARK, "error": "no_token"}), "application/json"),
        (json.dumps({"error": "no_token", "oauth_token_secret": SECRET_MARK}, separators=(",", ":")), "text/plain"),
        (json.dumps({"oauth_verifier": SECRET_MARK, "oauth_token_secret": SECRET_MARK}), "application/json"),
        (f"<?xml version='1.0'?><r><oauth_token_secret>{SECRET_MARK}</oauth_token_secret></r>", "application/xml"),
    ],
    ids=["json", "json-compact", "json-verifier", "xml"],
)
@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, InvalidTokenResponseError), (401, ProviderHTTPError)],
    ids=["2xx", "401"],
)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_token_secrets_in_structured_bodies_are_never_quoted(
    kind: str,
    status: int,
    expected: type[OAuth1Error],
    body: str,
    content_type: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
) -> None:
    # An answer that has a secret but no oauth_token: the library rejects it and quotes it.
    provider.answer_next("access_token", body, status=status, content_type=content_type)
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        response = browser.login_via(ca.url + PREFIX[kind] + "/login").response
    _assert_json_error(response, _refusal("access_token", status, expected))
    for text in _error_texts(ca, response):
        assert SECRET_MARK not in text, text


# ------------------------------------------------------------------ percent-encoded secrets in provider bodies


SECRET = "SECRETPIN"
MASKING_BODIES = {
    "encoded": f"oauth_problem=signature_invalid&debug=oauth_consumer_key%3Dclient-hmac%26oauth_verifier%3D{SECRET}"
    "%26oauth_version%3D1.0",
    "encoded-lowercase": f"oauth_problem=signature_invalid&debug=oauth_verifier%3d{SECRET}%26oauth_version%3d1.0",
    "encoded-at-end": f"oauth_problem=signature_invalid&debug=oauth_version%3D1.0%26oauth_verifier%3D{SECRET}",
    "double-encoded": "oauth_problem=signature_invalid&oauth_signature_base_string=POST%26http%253A%252F%252F"
    f"127.0.0.1%252Faccess_token%26oauth_token%253Dabc%2526oauth_verifier%253D{SECRET}%2526oauth_version%253D1.0",
    "token-secret": f"oauth_problem=x&debug=oauth_token%3Dabc%26oauth_token_secret%3D{SECRET}%26oauth_version%3D1.0",
    "signature": f"oauth_problem=x&debug=oauth_nonce%3Dn%26oauth_signature%3D{SECRET}%26oauth_version%3D1.0",
}


@pytest.mark.parametrize("status", [401, None], ids=["http-401", "http-200-no-token"])
@pytest.mark.parametrize("body", sorted(MASKING_BODIES))
@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_percent_encoded_secrets_are_masked(
    mode: str, body: str, status: int | None, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    provider.answer_next("access_token", MASKING_BODIES[body], status=status or 200)
    ca = client_app(provider, dance_routes)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login")
    assert result.response.status_code == 418, result.response.text
    (exc,) = ca.app.config["CAUGHT"]
    expected_type = AccessTokenRefusedError if status else InvalidTokenResponseError
    assert type(exc) is expected_type
    excerpt = exc.body_excerpt  # type: ignore[attr-defined]
    for shown in (str(exc), repr(exc), excerpt, str(exc.args), result.response.text):
        assert SECRET not in shown, shown
    assert "oauth_problem" in excerpt, excerpt  # the rest of the body is still quoted
    assert "***" in excerpt, excerpt


# ------------------------------------------------------------------ Authlib-style denial


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_error_access_denied_callback_raises_access_denied(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # A provider that reports a denial as ``?error=access_denied`` (Authlib's style), not Twitter's ``?denied=``.
    provider.deny_next({"error": "access_denied", "error_description": "The user denied the request"})
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login", deny=True)
    assert result.callback_params.get("error") == "access_denied"
    assert "denied" not in result.callback_params
    _assert_json_error(result.response, AccessDeniedError)
    assert isinstance(_only_error(ca), AccessDeniedError)
    assert len(provider.received("access_token")) == 0


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_other_error_parameter_is_not_a_denial(kind: str, provider: FakeProvider, client_app: ClientAppFactory) -> None:
    # Only the denial values count; any other error= leaves the usual token checks in charge.
    ca = client_app(provider, _json_errors)
    with Browser() as browser:
        response = browser.get(ca.url + PREFIX[kind] + "/callback?error=server_error")
    _assert_json_error(response, CallbackTokenError)
    exc = _only_error(ca)
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "missing"


# ------------------------------------------------------------------ the default handler of init_app


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_default_handler_answers_plain_text_without_traceback(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _dance_routes)
    callback = ca.url + PREFIX[kind] + "/callback"
    with Browser() as browser:
        denied = browser.login_via(ca.url + PREFIX[kind] + "/login", deny=True).response
        missing = browser.get(callback)
        unknown = browser.get(callback + "?oauth_token=nope&oauth_verifier=x")
        no_verifier = browser.get(
            _without(approve(browser, start_login(browser, ca.url + PREFIX[kind] + "/login")), "oauth_verifier")
        )
    cases = [(denied, 403), (missing, 400), (unknown, 400), (no_verifier, 400)]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.text.startswith("Sign-in failed: ")
        assert "Traceback" not in response.text
        assert 'File "' not in response.text
    assert "declined" in denied.text
    assert "no oauth_token" in missing.text
    assert "oauth_verifier" in no_verifier.text


@pytest.mark.parametrize("broader", [OAuthError, OAuth1Error, Exception, MismatchingStateError])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_user_handler_for_broader_class_wins_over_default(
    kind: str, broader: type[Exception], provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    def setup(app: Flask, oauth: OAuth) -> None:
        _dance_routes(app, oauth)

        @app.errorhandler(broader)
        def handle(e: Exception) -> tuple[Response, int]:
            return jsonify(handled_by=broader.__name__, error=type(e).__name__), 499

    ca = client_app(provider, setup)
    with Browser() as browser:
        response = browser.get(ca.url + PREFIX[kind] + "/callback?oauth_token=nope&oauth_verifier=x")
        denied = browser.login_via(ca.url + PREFIX[kind] + "/login", deny=True).response
    assert response.status_code == 499, response.text
    assert response.json() == {"handled_by": broader.__name__, "error": "CallbackTokenError"}
    if broader is MismatchingStateError:  # AccessDeniedError is not one: the default handler answers
        assert denied.status_code == 403
        assert denied.text.startswith("Sign-in failed: ")
    else:
        assert denied.status_code == 499, denied.text
        assert denied.json() == {"handled_by": broader.__name__, "error": "AccessDeniedError"}


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_async_user_handler_for_broader_class_wins(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    def setup(app: Flask, oauth: OAuth) -> None:
        _dance_routes(app, oauth)

        @app.errorhandler(OAuthError)
        async def handle(e: OAuthError) -> tuple[Response, int]:
            return jsonify(error=type(e).__name__), 499

    ca = client_app(provider, setup)
    with Browser() as browser:
        denied = browser.login_via(ca.url + PREFIX[kind] + "/login", deny=True).response
    assert denied.status_code == 499
    assert denied.json() == {"error": "AccessDeniedError"}


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_user_handler_for_specific_class_replaces_default(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    def setup(app: Flask, oauth: OAuth) -> None:
        _dance_routes(app, oauth)

        @app.errorhandler(AccessDeniedError)
        def denied(e: AccessDeniedError) -> tuple[str, int]:
            return "come back soon", 200

    ca = client_app(provider, setup)
    with Browser() as browser:
        denied = browser.login_via(ca.url + PREFIX[kind] + "/login", deny=True).response
        unknown = browser.get(ca.url + PREFIX[kind] + "/callback?oauth_token=nope&oauth_verifier=x")
    assert denied.status_code == 200
    assert denied.text == "come back soon"
    assert unknown.status_code == 400
    assert unknown.text.startswith("Sign-in failed: ")


def test_provider_errors_are_not_handled_by_the_default_handler(
    provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # Only AuthorizationError gets the friendly default; a provider outage is a server error.
    provider.fail_next("request_token", 500)
    ca = client_app(provider, _dance_routes)
    with Browser() as browser:
        response = browser.get(ca.url + "/s/login")
    assert response.status_code == 500
    assert "Traceback" not in response.text


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_blueprint_handler_for_broader_class_wins_over_default(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # Flask looks through a blueprint's handlers (whole MRO) before the app's, so the
    # blueprint's OAuthError handler beats the app-level AuthorizationError default.
    def setup(app: Flask, oauth: OAuth) -> None:
        bp = Blueprint("auth", __name__, url_prefix="/auth")

        @bp.route("/s/callback")
        def s_callback() -> Response:
            return jsonify(dict(oauth.demo.authorize_access_token()))

        @bp.route("/a/callback")
        async def a_callback() -> Response:
            return jsonify(dict(await oauth.demo.authorize_access_token()))

        @bp.errorhandler(OAuthError)
        def handle(e: OAuthError) -> tuple[Response, int]:
            return jsonify(error=type(e).__name__), 499

        app.register_blueprint(bp)

    ca = client_app(provider, setup)
    with Browser() as browser:
        response = browser.get(ca.url + "/auth" + PREFIX[kind] + "/callback?oauth_token=nope&oauth_verifier=x")
    assert response.status_code == 499, response.text
    assert response.json() == {"error": "CallbackTokenError"}
