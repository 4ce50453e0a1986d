"""A refused signature says where to look next: ``exc.base_string`` and the 401 page of the docs.

The fake provider (oauthlib's endpoints at their defaults) refuses a request
signed with the wrong consumer secret with a 401; the error's message then
names ``exc.base_string`` and ``docs/debugging-401.rst``, and the base string
itself is on the error, masked, never in the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from flask_oauth1_async import OAuth, ProviderHTTPError
from flask_oauth1_async.testing import FakeProvider

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]

DOCS = Path(__file__).resolve().parents[1] / "docs"
HINT = "exc.base_string"


def _start_login(fake: FakeProvider, **overrides: str) -> ProviderHTTPError:
    app = Flask("refusal-hints")
    app.secret_key = "refusal-hints"
    oauth = OAuth(app)
    oauth.register("fake", **{**fake.register_kwargs(), **overrides})
    try:
        with app.test_request_context("/login"), pytest.raises(ProviderHTTPError) as caught:
            oauth.fake.authorize_redirect_sync("/callback")
    finally:
        oauth.close()
    return caught.value


def test_a_refused_signature_points_to_the_base_string_and_the_401_page(oauth1_provider: FakeProvider) -> None:
    wrong_secret = "not-the-consumer-secret-Zq8"
    exc = _start_login(oauth1_provider, client_secret=wrong_secret)
    message = str(exc)
    assert exc.status_code == 401
    assert exc.description.startswith("the request token endpoint answered HTTP 401: ")
    assert HINT in message
    assert "docs/debugging-401.rst" in message
    assert (DOCS / "debugging-401.rst").is_file()
    assert "When the provider says 401" in (DOCS / "debugging-401.rst").read_text(encoding="utf-8")
    # The base string is on the error, not in the message, and holds no secret.
    assert exc.base_string.startswith("POST&")
    assert "oauth_signature_method" in exc.base_string
    assert exc.base_string not in message
    assert wrong_secret not in message
    assert wrong_secret not in exc.base_string


def test_a_signature_problem_in_another_status_gets_the_hint_too(oauth1_provider: FakeProvider) -> None:
    oauth1_provider.fail_next("request_token", 400, body="oauth_problem=signature_invalid")
    exc = _start_login(oauth1_provider)
    assert exc.oauth_problem == "signature_invalid"
    assert HINT in str(exc)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, "fake provider: scripted 500"), (503, "busy"), (401, "oauth_problem=timestamp_refused")],
    ids=["500", "503", "401-clock"],
)
def test_other_refusals_do_not_point_to_the_base_string(oauth1_provider: FakeProvider, status: int, body: str) -> None:
    oauth1_provider.fail_next("request_token", status, body=body)
    exc = _start_login(oauth1_provider)
    assert exc.status_code == status
    assert HINT not in str(exc)
