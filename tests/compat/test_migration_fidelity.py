"""Issue 14 items of the Flask-OAuthlib layer that need no provider.

* item 1: ``import oauthlib`` then ``oauthlib.oauth1.SIGNATURE_RSA`` works once
  the compat module is imported (it imports ``oauthlib.oauth1`` itself, as
  Flask-OAuthlib did), and the module still imports without oauthlib. These
  run in a fresh interpreter, since the test process has imported
  ``oauthlib.oauth1`` long before;
* item 2: settings passed as keywords are readable before ``init_app`` and
  outside any app context (the shape of Flask-OAuthlib's ``test_lazy_load``);
* item 6: the ``parse_response`` and ``encode_request_data`` helpers;
* item 7's checks at ``remote_app()`` time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import httpx
import oauthlib.oauth1
import pytest
from flask import Flask

from flask_oauth1_async import ConfigurationError
from flask_oauth1_async.compat.flask_oauthlib import (
    OAuth,
    OAuthResponse,
    encode_request_data,
    parse_response,
)

ROOT = Path(__file__).resolve().parents[2]


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    # cwd first on sys.path: this worktree's package is the one imported.
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


# ------------------------------------------------------------------ item 1


def test_bare_import_oauthlib_then_oauth1_constants_work_after_importing_the_layer() -> None:
    done = _fresh_python(
        "import sys, oauthlib\n"
        "assert 'oauthlib.oauth1' not in sys.modules, 'precondition: a bare import does not load oauth1'\n"
        "import flask_oauth1_async.compat.flask_oauthlib as compat\n"
        "print(compat.__file__)\n"
        "print(compat.HAVE_OAUTHLIB, oauthlib.oauth1.SIGNATURE_RSA, oauthlib.oauth1.SIGNATURE_HMAC_SHA512)\n"
    )
    assert done.returncode == 0, done.stderr
    module_file, flags = done.stdout.splitlines()
    assert Path(module_file).resolve().is_relative_to(ROOT)
    assert flags == "True RSA-SHA1 HMAC-SHA512"


def test_the_layer_imports_without_oauthlib() -> None:
    done = _fresh_python(
        "import sys\n"
        "class NoOAuthlib:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'oauthlib' or name.startswith('oauthlib.'):\n"
        "            raise ImportError('oauthlib is not installed here')\n"
        "sys.meta_path.insert(0, NoOAuthlib())\n"
        "import flask_oauth1_async.compat.flask_oauthlib as compat\n"
        "oauth = compat.OAuth()\n"
        "remote = oauth.remote_app('x', consumer_key='k', consumer_secret='s', request_token_url='https://p/rt',\n"
        "                          signature_method='HMAC-SHA512')\n"
        "print(compat.HAVE_OAUTHLIB, remote.signature_method, 'oauthlib' in sys.modules)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "HMAC-SHA512", "False"]


# ------------------------------------------------------------------ item 2


def test_lazy_load_keywords_before_init_app_and_config_after() -> None:
    oauth = OAuth()
    twitter = oauth.remote_app("twitter", base_url="https://api.example.test/1/", app_key="twitter")
    # keywords: readable with no app at all
    assert twitter.base_url == "https://api.example.test/1/"
    assert twitter.expand_url("statuses/home.json") == "https://api.example.test/1/statuses/home.json"
    assert twitter.expand_url("/2/users") == "https://api.example.test/2/users"
    # a setting that must come from the config needs an app, and says so
    with pytest.raises(RuntimeError, match="application context"):
        _ = twitter.consumer_key

    app = Flask("lazy")
    app.config["twitter"] = {
        "request_token_params": {"realms": "email"},
        "consumer_key": "twitter key",
        "consumer_secret": "twitter secret",
        "request_token_url": "request url",
        "access_token_url": "token url",
        "authorize_url": "auth url",
    }
    oauth.init_app(app)
    try:
        # outside any app context: the app given to init_app is used
        assert twitter.consumer_key == "twitter key"
        assert twitter.consumer_secret == "twitter secret"
        assert twitter.request_token_url == "request url"
        assert twitter.access_token_url == "token url"
        assert twitter.authorize_url == "auth url"
        assert twitter.content_type is None
        assert "realms" in twitter.request_token_params
        assert twitter.base_url == "https://api.example.test/1/"
    finally:
        oauth.native.close()


def test_a_remote_without_app_key_reads_every_setting_without_an_app() -> None:
    oauth = OAuth()
    remote = oauth.remote_app(
        "plain",
        consumer_key="k",
        consumer_secret="SECRET-XYZ",
        base_url="https://api.example.test/v1/",
        request_token_url="oauth/request_token",
        signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA256,
    )
    assert remote.consumer_key == "k"
    assert remote.request_token_url == "oauth/request_token"
    assert remote.expand_url(remote.request_token_url) == "https://api.example.test/v1/oauth/request_token"
    assert remote.access_token_url is None
    assert remote.content_type is None
    assert remote.rsa_key is None
    assert remote.signature_method == "HMAC-SHA256"
    assert remote.request_token_method == "GET"
    assert remote.access_token_method == "POST"
    assert remote.request_token_params == {}
    assert remote.access_token_params == {}
    # the native remote previews the translated keywords too (core settings names)
    assert remote.native.client_id == "k"
    assert remote.native.request_token_url == "https://api.example.test/v1/oauth/request_token"
    assert remote.native.api_base_url == "https://api.example.test/v1/"
    assert remote.consumer_secret == remote.native.client_secret == "SECRET-XYZ"
    assert "SECRET-XYZ" not in repr(remote) + repr(remote.native)


# ------------------------------------------------------------------ item 7 (checks at definition time)


@pytest.mark.parametrize("method", ["RSA-SHA1", "RSA-SHA256", "RSA-SHA512"])
def test_every_rsa_method_needs_an_rsa_key_not_a_secret(method: str) -> None:
    oauth = OAuth()
    with pytest.raises(TypeError, match="requires consumer key and rsa key"):
        oauth.remote_app(
            "r", consumer_key="k", consumer_secret="s", request_token_url="https://p/rt", signature_method=method
        )
    remote = oauth.remote_app(
        "r", consumer_key="k", request_token_url="https://p/rt", signature_method=method.lower(), rsa_key="PEM"
    )
    assert remote.signature_method == method.lower()  # as given; the signer upper-cases it


def test_unknown_signature_method_is_refused_when_defined() -> None:
    with pytest.raises(ConfigurationError, match="unsupported signature_method 'HMAC-MD5'"):
        OAuth().remote_app(
            "m", consumer_key="k", consumer_secret="s", request_token_url="https://p/rt", signature_method="HMAC-MD5"
        )


# ------------------------------------------------------------------ item 6: parse_response


def _response(content: bytes, content_type: str | None) -> httpx.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return httpx.Response(200, headers=headers, content=content)


@pytest.mark.parametrize(
    ("content_type", "content", "expected"),
    [
        ("application/json", b'{"a": [1, "x"]}', {"a": [1, "x"]}),
        ("application/json; charset=utf-8", b"", {}),
        ("text/javascript", b'"text"', "text"),
        (None, b'{"no": "header"}', {"no": "header"}),  # no Content-Type: read as JSON
        ("application/x-www-form-urlencoded", b"a=1&b=x+y&a=2", {"a": "1", "b": "x y"}),
        ("application/x-www-form-urlencoded; charset=latin-1", "n=\xe9".encode("latin-1"), {"n": "\xe9"}),
        ("text/plain", b"oauth_token=t&oauth_token_secret=s", {"oauth_token": "t", "oauth_token_secret": "s"}),
    ],
)
def test_parse_response_by_content_type(content_type: str | None, content: bytes, expected: Any) -> None:
    assert parse_response(_response(content, content_type), content) == expected


def test_parse_response_xml_strict_override_and_errors() -> None:
    xml = b"<user><name>ann</name></user>"
    element = parse_response(_response(xml, "text/xml"), xml)
    assert isinstance(element, ElementTree.Element)
    assert element.findtext("name") == "ann"
    # strict: a type that is not form-encoded comes back unchanged
    assert parse_response(_response(b"a=1", "text/plain"), b"a=1", strict=True) == b"a=1"
    assert parse_response(_response(b"a=1", "application/x-www-form-urlencoded"), b"a=1", strict=True) == {"a": "1"}
    # content_type= wins over the header, and then resp may be None
    assert parse_response(_response(b'{"x": 1}', "text/html"), b'{"x": 1}', content_type="application/json") == {"x": 1}
    assert parse_response(None, "k=v", content_type="application/x-www-form-urlencoded") == {"k": "v"}
    # any object with headers works, e.g. an OAuthResponse or a plain dict of headers
    wrapped = OAuthResponse(_response(b'{"y": 2}', "application/json"))
    assert parse_response(wrapped, wrapped.raw_data) == {"y": 2}

    class Legacy:
        headers = {"Content-Type": "application/json"}

    assert parse_response(Legacy(), b"[1]") == [1]
    # a body that does not parse raises, as with Flask-OAuthlib
    with pytest.raises(ValueError):  # noqa: PT011 - json's own error
        parse_response(_response(b"{oops", "application/json"), b"{oops")
    with pytest.raises(ElementTree.ParseError):
        parse_response(_response(b"<a>", "application/xml"), b"<a>")
    # whereas OAuthResponse.data keeps the bytes
    assert OAuthResponse(_response(b"{oops", "application/json")).data == b"{oops"


# ------------------------------------------------------------------ item 6: encode_request_data


def test_encode_request_data() -> None:
    body, content_type = encode_request_data(
        {"status": "a b&c", "tags": ["x", "y"], "skip": None, "raw": b"z"}, "urlencoded"
    )
    assert (body, content_type) == ("status=a+b%26c&tags=x&tags=y&raw=z", "application/x-www-form-urlencoded")
    assert encode_request_data([("k", "1"), ("k", "2")], "urlencoded") == (
        "k=1&k=2",
        "application/x-www-form-urlencoded",
    )
    assert encode_request_data(None, "urlencoded") == ("", "application/x-www-form-urlencoded")
    body, content_type = encode_request_data({"n": 1, "t": "é"}, "json")
    assert content_type == "application/json"
    assert json.loads(body) == {"n": 1, "t": "é"}
    assert encode_request_data(None, "json") == ("{}", "application/json")
    assert encode_request_data(b"<raw/>", None) == (b"<raw/>", None)
    with pytest.raises(TypeError, match="Unknown format 'xml'"):
        encode_request_data({}, "xml")
