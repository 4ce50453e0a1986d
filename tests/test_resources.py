"""Resource calls in sync and async views, served by a real client app and called over HTTP.

Every case runs in a sync view (the plain method blocks) and in an async view
(the plain method returns an awaitable), against the HTTP and the HTTPS
provider. The provider verifies every signature, so a 200 also proves the
request was signed correctly (form bodies included in the signature, JSON and
other bodies left intact).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flask import Flask, Response, jsonify

from flask_oauth1_async import OAuth
from flask_oauth1_async.testing import FakeProvider, ProviderCall
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.fake import register_settings
from tests.support.views import VIEW_KINDS, token_from_headers

SCHEMES = ("http", "https")

JSON_PAYLOAD: dict[str, Any] = {
    "text": "caf\u00e9 \u2603 & = + %20",
    "numbers": [1, 2.5, -3, 1e-7],
    "flags": [True, False, None],
    "nested": {"k": "v", "empty": {}, "list": []},
}
#: Exactly the bytes httpx sends for ``json=JSON_PAYLOAD``.
JSON_RAW = httpx.Request("POST", "http://x.invalid/", json=JSON_PAYLOAD).content.decode("utf-8")
#: A JSON body with unusual spacing and key order: must arrive untouched.
CONTENT_RAW = '{ "z" : 1,\n  "a":"keep   this  spacing",   "u":"\\u00e9" }'


# Each case takes (oauth, provider_url) and returns what the plain (dual)
# method returns: a response in a sync view, an awaitable in an async view.
Case = Callable[[OAuth, str], Any]

CASES: dict[str, Case] = {
    "get_params": lambda o, base: o.demo.get("me", params={"q": "a b&c=d", "n": "1", "uni": "\u00e9\u00e8"}),
    "get_query_in_url": lambda o, base: o.demo.get("me?x=1&y=two%20words"),
    "request_get": lambda o, base: o.demo.request("GET", "me", params={"via": "request"}),
    "post_form": lambda o, base: o.demo.post("echo", data={"a": "1", "b": "two words", "c": "\u00e9&="}),
    "post_form_repeated": lambda o, base: o.demo.post("echo", data={"a": ["1", "2"], "b": "x"}),
    "post_json": lambda o, base: o.demo.post("echo", json=JSON_PAYLOAD),
    "post_content_json": lambda o, base: o.demo.post(
        "echo", content=CONTENT_RAW.encode(), headers={"Content-Type": "application/json"}
    ),
    "put_form": lambda o, base: o.demo.put("echo", data={"k": "v"}),
    "patch_json": lambda o, base: o.demo.patch("echo", json={"p": [1, 2]}),
    "delete_params": lambda o, base: o.demo.delete("echo", params={"id": "7"}),
    "relative": lambda o, base: o.demo.get("me"),
    "leading_slash": lambda o, base: o.demo.get("/api/me"),
    "absolute": lambda o, base: o.deep.get(base + "/api/me"),
    "keeps_last_segment": lambda o, base: o.deep.get("x/y"),
    "leading_slash_from_host_root": lambda o, base: o.deep.get("/api/path/x/y"),
    "unicode_path": lambda o, base: o.deep.get("caf\u00e9 x/a%2Fb"),
    "repeated_params": lambda o, base: o.demo.get("me", params=[("a", "1"), ("a", "2"), ("e", "")]),
}


def _check_get_params(body: dict[str, Any], base: str) -> None:
    assert body["body"]["args"] == {"q": "a b&c=d", "n": "1", "uni": "\u00e9\u00e8"}
    assert body["url"].startswith(base + "/api/me?")


def _check_get_query_in_url(body: dict[str, Any], base: str) -> None:
    assert body["body"]["args"] == {"x": "1", "y": "two words"}


def _check_request_get(body: dict[str, Any], base: str) -> None:
    assert body["body"]["args"] == {"via": "request"}


def _check_post_form(body: dict[str, Any], base: str) -> None:
    echo = body["body"]
    assert echo["method"] == "POST"
    assert echo["form"] == {"a": "1", "b": "two words", "c": "\u00e9&="}
    assert echo["content_type"] == "application/x-www-form-urlencoded"


def _check_post_form_repeated(body: dict[str, Any], base: str) -> None:
    assert body["body"]["raw"] == "a=1&a=2&b=x"


def _check_post_json(body: dict[str, Any], base: str) -> None:
    echo = body["body"]
    assert echo["raw"] == JSON_RAW  # byte-intact, not emptied or re-encoded
    assert echo["json"] == JSON_PAYLOAD
    assert echo["content_type"] == "application/json"
    assert echo["form"] == {}


def _check_post_content_json(body: dict[str, Any], base: str) -> None:
    assert body["body"]["raw"] == CONTENT_RAW
    assert body["body"]["json"] == {"z": 1, "a": "keep   this  spacing", "u": "\u00e9"}


def _check_put_form(body: dict[str, Any], base: str) -> None:
    assert body["body"]["method"] == "PUT"
    assert body["body"]["form"] == {"k": "v"}


def _check_patch_json(body: dict[str, Any], base: str) -> None:
    assert body["body"]["method"] == "PATCH"
    assert body["body"]["json"] == {"p": [1, 2]}
    assert body["body"]["raw"] == '{"p":[1,2]}'


def _check_delete_params(body: dict[str, Any], base: str) -> None:
    assert body["body"]["method"] == "DELETE"
    assert body["body"]["args"] == {"id": "7"}


def _check_me(body: dict[str, Any], base: str) -> None:
    assert body["url"] == base + "/api/me"
    assert body["body"]["args"] == {}


def _check_deep(body: dict[str, Any], base: str) -> None:
    # api_base_url is ".../api/path" (no trailing slash): its last segment is kept.
    assert body["url"] == base + "/api/path/x/y"
    assert body["body"]["path"] == "x/y"


def _check_unicode_path(body: dict[str, Any], base: str) -> None:
    assert body["url"] == base + "/api/path/caf%C3%A9%20x/a%2Fb"
    assert body["body"]["path"] == "caf\u00e9 x/a/b"


def _check_repeated_params(body: dict[str, Any], base: str) -> None:
    # The provider echoes the first value of a repeated key; it verified the signature over both.
    assert body["url"] == base + "/api/me?a=1&a=2&e="
    assert body["body"]["args"] == {"a": "1", "e": ""}


CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "get_params": _check_get_params,
    "get_query_in_url": _check_get_query_in_url,
    "request_get": _check_request_get,
    "post_form": _check_post_form,
    "post_form_repeated": _check_post_form_repeated,
    "post_json": _check_post_json,
    "post_content_json": _check_post_content_json,
    "put_form": _check_put_form,
    "patch_json": _check_patch_json,
    "delete_params": _check_delete_params,
    "relative": _check_me,
    "leading_slash": _check_me,
    "absolute": _check_me,
    "keeps_last_segment": _check_deep,
    "leading_slash_from_host_root": _check_deep,
    "unicode_path": _check_unicode_path,
    "repeated_params": _check_repeated_params,
}
assert set(CHECKS) == set(CASES)

#: The provider path (below its API base) each case must reach.
PATHS = {
    "get_params": "me",
    "get_query_in_url": "me",
    "request_get": "me",
    "relative": "me",
    "leading_slash": "me",
    "absolute": "me",
    "keeps_last_segment": "path/x/y",
    "leading_slash_from_host_root": "path/x/y",
    "unicode_path": "path/caf\u00e9 x/a/b",
    "repeated_params": "me",
}


def _describe(resp: Any, mode: str) -> Response:
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text
    return jsonify(
        mode=mode,
        is_httpx_response=isinstance(resp, httpx.Response),
        type=f"{type(resp).__module__}.{type(resp).__qualname__}",
        status=resp.status_code,
        url=str(resp.url),
        body=body,
    )


def _answer_below_path(call: ProviderCall) -> dict[str, Any]:
    """What the provider answers at ``path/...``: who signed, and the rest of the path."""
    return {"user": call.user, "path": call.path.removeprefix("path/")}


def _serve(client_app: ClientAppFactory, provider: FakeProvider) -> ClientApp:
    base = provider.url
    provider.respond("path/*", handler=_answer_below_path)

    def setup(app: Flask, oauth: OAuth) -> None:
        oauth.register(
            "deep", **register_settings(provider, api_base_url=base + "/api/path", fetch_token=token_from_headers)
        )

        @app.route("/s/<case>")
        def sync_view(case: str) -> Response:
            return _describe(CASES[case](oauth, base), "sync")

        @app.route("/a/<case>")
        async def async_view(case: str) -> Response:
            return _describe(await CASES[case](oauth, base), "async")

    return client_app(provider, setup, fetch_token=token_from_headers)


@pytest.fixture(params=SCHEMES)
def any_provider(request: pytest.FixtureRequest) -> FakeProvider:
    name = "provider" if request.param == "http" else "provider_tls"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_resource_call(
    case: str, mode: str, any_provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    provider = any_provider
    ca = _serve(client_app, provider)
    tok = provider.issue_token("alice")
    resp = http.get(
        f"{ca.url}/{mode[0]}/{case}",
        headers={"X-Token": tok["oauth_token"], "X-Secret": tok["oauth_token_secret"]},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["mode"] == mode
    assert body["is_httpx_response"] is True
    assert body["type"] == f"{httpx.__name__}.Response"  # httpx, or httpx2 in nox -s tests_httpx2
    assert body["status"] == 200, body  # the provider verified the signature
    assert body["body"]["user"] == "alice"
    assert body["url"].startswith(provider.url + "/")  # https:// for the TLS provider
    CHECKS[case](body, provider.url)

    # What the provider received: exactly one signed request on the expected path.
    api_requests = provider.calls
    assert len(api_requests) == 1
    received = api_requests[0]
    assert received.path == PATHS.get(case, "echo")
    assert received.valid
    assert (received.authorization or "").startswith("OAuth ")
    assert f'oauth_token="{tok["oauth_token"]}"' in (received.authorization or "")


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        ("https://api.x.com/1.1", "account/x.json", "https://api.x.com/1.1/account/x.json"),
        ("https://api.x.com/1.1/", "account/x.json", "https://api.x.com/1.1/account/x.json"),
        ("https://api.x.com/1.1/", "/2/users/me", "https://api.x.com/2/users/me"),
        ("https://api.x.com:8443/1.1", "/2/users/me", "https://api.x.com:8443/2/users/me"),
        ("https://api.x.com/1.1", "HTTPS://other.example/x", "HTTPS://other.example/x"),
        (None, "http://127.0.0.1/x", "http://127.0.0.1/x"),
    ],
)
def test_join_url(base: str | None, url: str, expected: str) -> None:
    from flask_oauth1_async.flows import join_url

    assert join_url(base, url) == expected


@pytest.mark.parametrize(("base", "url"), [(None, "me"), ("https://api.x.com/1.1", "//evil.example/x")])
def test_join_url_refuses_what_it_cannot_resolve_safely(base: str | None, url: str) -> None:
    from flask_oauth1_async import ConfigurationError
    from flask_oauth1_async.flows import join_url

    with pytest.raises(ConfigurationError):
        join_url(base, url)
