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

The verifier knows the token, so these tests exercise the signed calls (GET
with an odd query, form POST/PUT/PATCH, JSON, XML, DELETE) in sync and async
views through the public API, without a dance.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop._client import ODD_QUERY, calls_for, make_client_app
from tests.interop.test_oauthlib_provider import RSA_PRIVATE
from tests.support.browser import Browser
from tests.support.servers import ServerThread

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
    config = {"consumer_secret": CONSUMER_SECRET, "token_secret": TOKEN_SECRET, "rsa_private_key": RSA_PRIVATE}
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


def run_calls(base_url: str, method: str, placement: str, view: str) -> list[dict[str, Any]]:
    client_kwargs: dict[str, Any] = {"signature_method": method, "signature_type": placement}
    if method.startswith("RSA-"):
        client_kwargs["rsa_key"] = RSA_PRIVATE
    register = {
        "client_id": CONSUMER_KEY,
        "client_secret": CONSUMER_SECRET,
        "request_token_url": base_url + "/request_token",
        "authorize_url": base_url + "/authorize",
        "access_token_url": base_url + "/access_token",
        "api_base_url": base_url + "/",
        "client_kwargs": client_kwargs,
    }
    app, oauth = make_client_app(register, placement, ODD_QUERY)
    with ServerThread(app, name="interop-client") as client, Browser() as browser:
        try:
            response = browser.get(f"{client.url}/calls/{view}", params={"t": TOKEN, "s": TOKEN_SECRET})
        finally:
            oauth.close()
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()
    return results


@pytest.mark.parametrize("view", ["sync", "async"])
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
