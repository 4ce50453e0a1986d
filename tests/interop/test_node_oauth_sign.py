"""Our signatures verified outside Python: npm ``oauth-sign`` (pinned) in a small Node.js server.

The session fixture installs ``oauth-sign@0.9.0`` with npm into the pytest
temporary directory (one ``npm install`` per run) and starts
``oauth_sign_verifier.js`` on 127.0.0.1; the server rebuilds the signature
from the raw request it received and answers 200 or 401. Node and npm are
required: if either is missing the tests FAIL (CI has them).

oauth-sign 0.9.0 implements HMAC-SHA1, HMAC-SHA256, RSA-SHA1 and PLAINTEXT.
It has no HMAC-SHA512, RSA-SHA256 or RSA-SHA512 (``test_methods_oauth_sign_lacks``
pins that it refuses them, so the matrix says "not supported" for a reason).
It reads ``+`` in a query or body as a space, like most servers; we send
``%20`` anyway (NOTES.md section 9: npm ``oauth-1.0a`` refuses ``+``).

The server is also a small OAuth 1.0a provider (``/request_token``,
``/authorize``, ``/access_token``) whose every signature check is oauth-sign's:
``test_dance_verified_by_oauth_sign`` runs the whole dance through the public
API and then one signed call with the access token the server issued. The
server refuses a reused nonce and exchanges each request token at most once;
``test_replayed_callback_refused_by_node`` replays a callback from another
worker of the client app (its own replay guard, same session key), so the
replay reaches the provider, which refuses it.

The remaining tests use a token the server is configured with, to exercise the
signed calls (GET with an odd query, form POST/PUT/PATCH, JSON, XML, DELETE) in
sync and async views through the public API.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask, jsonify, request

from flask_oauth1_async import OAuth
from flask_oauth1_async.signing import Signer
from tests.interop._client import FORM, ODD_QUERY, calls_for, make_client_app
from tests.support.browser import Browser
from tests.support.keys import RSA_PRIVATE
from tests.support.servers import ServerThread
from tests.support.views import PREFIX, VIEW_KINDS

OAUTH_SIGN = "oauth-sign@0.9.0"
SUPPORTED = ["HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT"]
UNSUPPORTED = ["HMAC-SHA512", "RSA-SHA256", "RSA-SHA512"]
CONSUMER_KEY, CONSUMER_SECRET = "nodeconsumerkey000001", "node consumer secret&+%"
TOKEN, TOKEN_SECRET = "nodeaccesstoken000001", "node token secret/=?"
SCRIPT = Path(__file__).with_name("oauth_sign_verifier.js")


@pytest.fixture(scope="session")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are required for the Node.js interop tests (install Node.js 18+)")
    prefix = tmp_path_factory.mktemp("npm")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(prefix), OAUTH_SIGN],
        check=True,
        timeout=180,
    )
    return prefix / "node_modules"


@pytest.fixture(scope="module")
def verifier(node_modules: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "token": TOKEN,
        "token_secret": TOKEN_SECRET,
        "rsa_private_key": RSA_PRIVATE,
    }
    proc = subprocess.Popen(
        ["node", str(SCRIPT), str(node_modules), str(port), json.dumps(config)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints one line once it listens
        assert line.strip() == "listening", f"node verifier did not start (exit code {proc.poll()})"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def register_for(base_url: str, method: str, placement: str) -> dict[str, Any]:
    client_kwargs: dict[str, Any] = {"signature_method": method, "signature_type": placement}
    if method.startswith("RSA-"):
        client_kwargs["rsa_key"] = RSA_PRIVATE
    return {
        "client_id": CONSUMER_KEY,
        "client_secret": CONSUMER_SECRET,
        "request_token_url": base_url + "/request_token",
        "authorize_url": base_url + "/authorize",
        "access_token_url": base_url + "/access_token",
        "api_base_url": base_url + "/",
        "client_kwargs": client_kwargs,
    }


def run_calls(base_url: str, method: str, placement: str, view: str) -> list[dict[str, Any]]:
    app, oauth = make_client_app(register_for(base_url, method, placement), placement, ODD_QUERY)
    with ServerThread(app, name="interop-client") as client, Browser() as browser:
        try:
            response = browser.get(client.url + PREFIX[view] + "/calls", params={"t": TOKEN, "s": TOKEN_SECRET})
        finally:
            oauth.close()
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()
    return results


@pytest.mark.parametrize("view", VIEW_KINDS)
@pytest.mark.parametrize("placement", ["header", "query", "body"])
@pytest.mark.parametrize("method", SUPPORTED)
def test_signed_calls_verified_by_oauth_sign(verifier: str, method: str, placement: str, view: str) -> None:
    results = run_calls(verifier, method, placement, view)
    expected = calls_for(placement, ODD_QUERY)
    assert [r["method"] for r in results] == [m for m, _ in expected]
    for result, (_, kwargs) in zip(results, expected, strict=True):
        assert result["status"] == 200, result
        assert result["body"]["signature_method"] == method
        if "params" in kwargs:
            got = {k: v for k, v in result["body"]["args"] if not k.startswith("oauth_")}
            assert got == kwargs["params"]


@pytest.mark.parametrize("method", UNSUPPORTED)
def test_methods_oauth_sign_lacks(verifier: str, method: str) -> None:
    results = run_calls(verifier, method, "header", "sync")
    assert {r["status"] for r in results} == {401}
    assert all(str(r["body"]["expected"]).startswith("unsupported") for r in results)


def refusals(base_url: str) -> list[dict[str, str]]:
    """What the Node server refused so far (path and oauth_problem), oldest first."""
    with httpx.Client(trust_env=False, timeout=10) as http:
        response = http.get(base_url + "/_refusals")
    response.raise_for_status()
    found: list[dict[str, str]] = response.json()
    return found


def add_one_call(app: Flask, oauth: OAuth, placement: str) -> None:
    """``/s/one`` and ``/a/one``: one signed call with the token in the query (``?t=..&s=..``).

    A signed GET with header or query placement; with body placement a form
    POST, because the body carries the protocol parameters only in a
    form-encoded body (RFC 5849 section 3.5.2), which a GET does not have.
    """
    method, kwargs = ("POST", {"data": FORM}) if placement == "body" else ("GET", {"params": ODD_QUERY})

    def token() -> dict[str, str]:
        return {"oauth_token": request.args["t"], "oauth_token_secret": request.args["s"]}

    @app.get("/s/one")
    def s_one() -> Any:
        response = oauth.peer.request(method, "api/me", token=token(), **kwargs)
        return jsonify({"status": response.status_code, "body": response.json()})

    @app.get("/a/one")
    async def a_one() -> Any:
        response = await oauth.peer.request(method, "api/me", token=token(), **kwargs)
        return jsonify({"status": response.status_code, "body": response.json()})


@pytest.mark.parametrize("view", VIEW_KINDS)
@pytest.mark.parametrize("placement", ["header", "query", "body"])
@pytest.mark.parametrize("method", SUPPORTED)
def test_dance_verified_by_oauth_sign(verifier: str, method: str, placement: str, view: str) -> None:
    refused_before = len(refusals(verifier))
    app, oauth = make_client_app(register_for(verifier, method, placement), placement, ODD_QUERY)
    add_one_call(app, oauth, placement)
    with ServerThread(app, name="interop-client") as client, Browser() as browser:
        try:
            login = browser.login_via(client.url + PREFIX[view] + "/login", user="bob")
            assert login.response.status_code == 200, login.response.text
            token = login.response.json()
            one = browser.get(
                client.url + PREFIX[view] + "/one", params={"t": token["oauth_token"], "s": token["oauth_token_secret"]}
            )
        finally:
            oauth.close()
    assert login.authorize_url.startswith(verifier + "/authorize?")
    assert set(login.callback_params) == {"oauth_token", "oauth_verifier"}
    # the access token is a new one (not the request token, not the configured one), with its screen name
    assert token["oauth_token"] not in (login.callback_params["oauth_token"], TOKEN)
    assert token["screen_name"] == "bob"
    assert one.status_code == 200, one.text
    result = one.json()
    assert result["status"] == 200, result
    assert result["body"]["user"] == "bob"  # the server knew the token because it issued it in this dance
    assert result["body"]["signature_method"] == method
    if placement == "body":
        assert {k: v for k, v in result["body"]["form"] if not k.startswith("oauth_")} == FORM
    else:
        assert {k: v for k, v in result["body"]["args"] if not k.startswith("oauth_")} == ODD_QUERY
    assert refusals(verifier)[refused_before:] == []  # nothing was refused on the way


def test_replayed_callback_refused_by_node(verifier: str) -> None:
    """A callback replayed in another worker of the client app is refused by the provider.

    Two client apps with the same secret key stand for two worker processes:
    each has its own replay guard, so the second one cannot know that the
    first already used the login, and sends the exchange again. The browser's
    session cookie is the one from before the callback (an attacker's copy).
    The Node server exchanges each request token once and refuses the second.
    """
    register = register_for(verifier, "HMAC-SHA1", "header")
    first, first_oauth = make_client_app(register, "header", ODD_QUERY)
    second, second_oauth = make_client_app(register, "header", ODD_QUERY)
    with (
        ServerThread(first, name="interop-client-1") as one,
        ServerThread(second, name="interop-client-2") as two,
        Browser() as alice,
        Browser() as mallory,
    ):
        try:
            to_provider = alice.get(one.url + "/s/login")
            assert to_provider.status_code == 302, to_provider.text
            to_callback = alice.get(to_provider.headers["Location"] + "&user=alice")
            assert to_callback.status_code == 302, to_callback.text
            callback_url = to_callback.headers["Location"]
            assert callback_url.startswith(one.url + "/s/callback?")
            mallory.cookies.update(alice.cookies)  # the session as it was before the callback
            refused_before = len(refusals(verifier))

            done = alice.get(callback_url)
            assert done.status_code == 200, done.text
            assert done.json()["screen_name"] == "alice"

            replay = mallory.get(two.url + callback_url[len(one.url) :])
        finally:
            first_oauth.close()
            second_oauth.close()
    assert replay.status_code >= 400, replay.text
    assert "oauth_token" not in replay.text
    assert refusals(verifier)[refused_before:] == [{"path": "/access_token", "problem": "token_used"}]


def test_reused_nonce_refused_by_node(verifier: str) -> None:
    """The same signed request sent twice: the first is served, the second refused (its nonce is used)."""
    signer = Signer(CONSUMER_KEY, CONSUMER_SECRET)
    request_ = httpx.Request("GET", verifier + "/api/me", params={"x": "1"})
    signed = signer.sign(request_, token=TOKEN, token_secret=TOKEN_SECRET)
    with httpx.Client(trust_env=False, timeout=10) as http:
        first = http.send(signed)
        again = http.send(signed)
    assert first.status_code == 200, first.text
    assert again.status_code == 401
    assert again.json()["problem"] == "nonce_used"
