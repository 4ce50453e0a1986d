"""Self-tests of the test infrastructure (tests/support), without the library.

Everything here talks to real servers on 127.0.0.1 and signs requests with
Authlib's core signer (``authlib.oauth1.ClientAuth``) or oauthlib, so a
failure here is a bug in the infrastructure, not in ``flask_oauth1_async``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from authlib.oauth1 import ClientAuth
from flask import Flask, redirect, request, session, url_for
from oauthlib.oauth1 import Client as OAuthlibClient

from tests.support.browser import Browser, BrowserError
from tests.support.provider import (
    HMAC_CLIENT_ID,
    HMAC_CLIENT_SECRET,
    RSA_CLIENT_ID,
    Consumer,
    ProviderState,
    create_provider,
)
from tests.support.servers import ServerThread, TLSMaterial, make_tls

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CALLBACK = "http://127.0.0.1:9/callback?from=test"
FORM = "application/x-www-form-urlencoded"


# ------------------------------------------------------------------ helpers


@dataclass
class Provider:
    """A running provider: its server, state and an HTTP client that trusts it."""

    server: ServerThread
    state: ProviderState
    http: httpx.Client

    def url(self, path: str) -> str:
        return self.server.url + path


def signed(
    http: httpx.Client,
    auth: ClientAuth,
    method: str,
    url: str,
    *,
    data: dict[str, str] | list[tuple[str, str]] | None = None,
    json_body: Any = None,
) -> httpx.Response:
    """Sign a request with Authlib's ``ClientAuth`` and send it with httpx."""
    headers: dict[str, str] = {}
    body: str | bytes = b""
    if data is not None:
        body = urlencode(data)
        headers["Content-Type"] = FORM
    elif json_body is not None:
        body = json.dumps(json_body)
        headers["Content-Type"] = "application/json"
    uri, headers, body = auth.prepare(method, url, headers, body)
    if json_body is not None:
        body = json.dumps(json_body)  # ClientAuth drops non-form bodies
    return http.request(method, uri, headers=headers, content=body)


def form(response: httpx.Response) -> dict[str, str]:
    """Decode a form-encoded response body."""
    return dict(parse_qsl(response.text, keep_blank_values=True))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@dataclass
class Credentials:
    """How a test consumer signs: one of the registered consumers."""

    client_id: str
    method: str
    secret: str | None = None
    rsa_key: str | None = None

    def auth(self, signature_type: str = "HEADER", **kwargs: Any) -> ClientAuth:
        return ClientAuth(
            self.client_id,
            client_secret=self.secret,
            rsa_key=self.rsa_key,
            signature_method=self.method,
            signature_type=signature_type,
            **kwargs,
        )


def credentials_for(state: ProviderState, method: str) -> Credentials:
    if method == "RSA-SHA1":
        return Credentials(RSA_CLIENT_ID, method, rsa_key=state.rsa_private_key_pem)
    return Credentials(HMAC_CLIENT_ID, method, secret=HMAC_CLIENT_SECRET)


def obtain_request_token(
    provider: Provider, creds: Credentials, signature_type: str = "HEADER", callback: str = CALLBACK
) -> dict[str, str]:
    response = signed(
        provider.http,
        creds.auth(signature_type, redirect_uri=callback),
        "POST",
        provider.url("/request_token"),
    )
    assert response.status_code == 200, response.text
    return form(response)


def authorize(provider: Provider, oauth_token: str, user: str = "alice") -> dict[str, str]:
    """Play the user's consent; returns the callback's query parameters."""
    response = provider.http.get(provider.url("/authorize"), params={"oauth_token": oauth_token, "user": user})
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"])


def full_dance(
    provider: Provider, creds: Credentials, signature_type: str = "HEADER", user: str = "alice"
) -> dict[str, str]:
    """request token -> authorize -> access token; returns the access token response."""
    temporary = obtain_request_token(provider, creds, signature_type)
    callback = authorize(provider, temporary["oauth_token"], user)
    response = signed(
        provider.http,
        creds.auth(
            signature_type,
            token=temporary["oauth_token"],
            token_secret=temporary["oauth_token_secret"],
            verifier=callback["oauth_verifier"],
        ),
        "POST",
        provider.url("/access_token"),
    )
    assert response.status_code == 200, response.text
    return form(response)


def token_auth(creds: Credentials, token: dict[str, str], signature_type: str = "HEADER") -> ClientAuth:
    return creds.auth(signature_type, token=token["oauth_token"], token_secret=token["oauth_token_secret"])


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def tls() -> Iterator[TLSMaterial]:
    material = make_tls()
    yield material
    material.close()


def _start_provider(
    ssl_material: TLSMaterial | None = None, **options: Any
) -> tuple[ServerThread, ProviderState, httpx.Client]:
    app, state = create_provider(**options)
    server = ServerThread(
        app,
        ssl_context=ssl_material.server_context if ssl_material else None,
        name="provider",
    ).start()
    http = httpx.Client(
        trust_env=False,
        timeout=10,
        verify=ssl_material.client_context if ssl_material else True,
    )
    return server, state, http


@pytest.fixture
def provider() -> Iterator[Provider]:
    server, state, http = _start_provider()
    yield Provider(server, state, http)
    http.close()
    server.stop()


@pytest.fixture(params=["http", "https"])
def any_provider(request: pytest.FixtureRequest, tls: TLSMaterial) -> Iterator[Provider]:
    server, state, http = _start_provider(tls if request.param == "https" else None)
    assert server.url.startswith(request.param + "://")
    yield Provider(server, state, http)
    http.close()
    server.stop()


@pytest.fixture
def provider_factory() -> Iterator[Callable[..., Provider]]:
    """Start providers with custom options; all are stopped at teardown."""
    started: list[Provider] = []

    def factory(**options: Any) -> Provider:
        started.append(Provider(*_start_provider(**options)))
        return started[-1]

    yield factory
    for running in started:
        running.http.close()
        running.server.stop()


def echo_wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """A bare WSGI app (no Flask) used to test ServerThread itself."""
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("boom (expected by test_server_survives_app_crash)")
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    body = environ["wsgi.input"].read()
    payload = {
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "raw_uri": environ["RAW_URI"],
        "query": environ["QUERY_STRING"],
        "body": body.decode("latin-1"),
        "scheme": environ["wsgi.url_scheme"],
    }
    data = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


@pytest.fixture
def echo_server() -> Iterator[ServerThread]:
    with ServerThread(echo_wsgi, name="echo") as server:
        yield server


# ---------------------------------------------------- the full OAuth 1.0a dance


@pytest.mark.parametrize("signature_type", ["HEADER", "QUERY", "BODY"])
@pytest.mark.parametrize("method", ["HMAC-SHA1", "RSA-SHA1", "PLAINTEXT"])
def test_full_dance(any_provider: Provider, method: str, signature_type: str) -> None:
    provider, state = any_provider, any_provider.state
    creds = credentials_for(state, method)

    temporary = obtain_request_token(provider, creds, signature_type)
    assert temporary["oauth_callback_confirmed"] == "true"
    assert state.has_request_token(temporary["oauth_token"])

    callback = authorize(provider, temporary["oauth_token"])
    assert callback["oauth_token"] == temporary["oauth_token"]
    assert callback["from"] == "test"  # the callback's own query survives
    assert callback["oauth_verifier"]

    response = signed(
        provider.http,
        creds.auth(
            signature_type,
            token=temporary["oauth_token"],
            token_secret=temporary["oauth_token_secret"],
            verifier=callback["oauth_verifier"],
        ),
        "POST",
        provider.url("/access_token"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == FORM
    token = form(response)
    assert token["screen_name"] == "alice"
    assert token["user_id"] == ProviderState.user_id_for("alice")
    assert token["oauth_token"] != temporary["oauth_token"]
    assert not state.has_request_token(temporary["oauth_token"])  # single use

    auth = token_auth(creds, token, signature_type)
    if signature_type == "BODY":  # protocol parameters need a form body
        api = signed(provider.http, auth, "POST", provider.url("/api/echo"), data={"a": "b c"})
        assert api.status_code == 200, api.text
        assert api.json()["form"] == {"a": "b c"}
    else:
        api = signed(provider.http, auth, "GET", provider.url("/api/me?page=2&q=x%20y"))
        assert api.status_code == 200, api.text
        assert api.json()["args"] == {"page": "2", "q": "x y"}
    assert api.json()["user"] == "alice"

    where = state.requests[-1]
    if signature_type == "HEADER":
        assert (where.authorization or "").startswith("OAuth ")
    elif signature_type == "QUERY":
        assert "oauth_signature=" in where.query_string
        assert where.authorization is None
    else:
        assert b"oauth_signature=" in where.body
        assert where.authorization is None


def test_hmac_sha256_is_verified(provider: Provider) -> None:
    """The provider also verifies HMAC-SHA256 (not part of RFC 5849)."""
    import base64
    import hashlib
    import hmac

    from authlib.oauth1.rfc5849.signature import generate_signature_base_string
    from authlib.oauth1.rfc5849.util import escape

    def sign_hmac_sha256(client: ClientAuth, req: Any) -> str:
        key = f"{escape(client.client_secret or '')}&{escape(client.token_secret or '')}"
        text = generate_signature_base_string(req)
        return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()).decode()

    class SHA256Auth(ClientAuth):  # type: ignore[misc]
        SIGNATURE_METHODS = {**ClientAuth.SIGNATURE_METHODS, "HMAC-SHA256": sign_hmac_sha256}

    token = provider.state.issue_access_token("carol")
    auth = SHA256Auth(
        HMAC_CLIENT_ID,
        HMAC_CLIENT_SECRET,
        token=token.oauth_token,
        token_secret=token.oauth_token_secret,
        signature_method="HMAC-SHA256",
    )
    assert signed(provider.http, auth, "GET", provider.url("/api/me")).json()["user"] == "carol"
    auth.client_secret = "wrong"
    assert signed(provider.http, auth, "GET", provider.url("/api/me")).status_code == 401


# ---------------------------------------------------------------- rejections


def test_replayed_request_is_rejected(provider: Provider) -> None:
    token = provider.state.issue_access_token("alice")
    auth = ClientAuth(
        HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
    )
    uri, headers, _ = auth.prepare("GET", provider.url("/api/me"), {}, b"")
    first = provider.http.get(uri, headers=headers)
    second = provider.http.get(uri, headers=headers)
    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json()["error"] == "invalid_nonce"


def test_replayed_request_token_call_is_rejected(provider: Provider) -> None:
    auth = ClientAuth(HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, redirect_uri=CALLBACK)
    uri, headers, _ = auth.prepare("POST", provider.url("/request_token"), {}, b"")
    assert provider.http.post(uri, headers=headers).status_code == 200
    replay = provider.http.post(uri, headers=headers)
    assert replay.status_code == 401
    assert form(replay)["error"] == "invalid_nonce"


def test_bad_signatures_are_rejected(provider: Provider) -> None:
    state = provider.state
    token = state.issue_access_token("alice")
    me = provider.url("/api/me")

    def call(**kwargs: Any) -> httpx.Response:
        options: dict[str, Any] = {
            "client_id": HMAC_CLIENT_ID,
            "client_secret": HMAC_CLIENT_SECRET,
            "token": token.oauth_token,
            "token_secret": token.oauth_token_secret,
        }
        options.update(kwargs)
        return signed(provider.http, ClientAuth(**options), "GET", me)

    assert call().status_code == 200
    assert call(client_secret="not-the-secret").json()["error"] == "invalid_signature"
    assert call(token_secret="not-the-token-secret").json()["error"] == "invalid_signature"
    assert call(client_id="nobody").json()["error"] == "invalid_client"
    assert call(token="unknown-token").json()["error"] == "invalid_token"
    # an RSA consumer cannot use HMAC (it has no shared secret)
    rsa_token = state.issue_access_token("alice", client_id=RSA_CLIENT_ID)
    wrong_method = call(client_id=RSA_CLIENT_ID, token=rsa_token.oauth_token, token_secret=rsa_token.oauth_token_secret)
    assert wrong_method.status_code == 401
    # a token is bound to the consumer it was issued to
    assert (
        call(client_id=RSA_CLIENT_ID, signature_method="RSA-SHA1", rsa_key=state.rsa_private_key_pem).json()["error"]
        == "invalid_token"
    )

    # tampering with a signed request: change a signed query parameter
    auth = ClientAuth(
        HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
    )
    uri, headers, _ = auth.prepare("GET", me + "?amount=1", {}, b"")
    tampered = provider.http.get(uri.replace("amount=1", "amount=9"), headers=headers)
    assert tampered.status_code == 401
    assert tampered.json()["error"] == "invalid_signature"
    # a signature method the provider does not support
    uri, headers, _ = auth.prepare("GET", me, {}, b"")
    headers["Authorization"] = headers["Authorization"].replace("HMAC-SHA1", "HMAC-MD5")
    unsupported = provider.http.get(uri, headers=headers)
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_signature_method"
    # no OAuth at all
    bare = provider.http.get(me)
    assert bare.status_code == 400
    assert bare.json()["error"] == "missing_required_parameter"


def test_stale_timestamp_is_rejected(provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    import authlib.oauth1.rfc5849.client_auth as client_auth

    token = provider.state.issue_access_token("alice")
    auth = ClientAuth(
        HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
    )
    monkeypatch.setattr(client_auth, "generate_timestamp", lambda: str(int(time.time()) - 3600))
    stale = signed(provider.http, auth, "GET", provider.url("/api/me"))
    assert stale.status_code == 400
    assert "oauth_timestamp" in stale.json()["error_description"]


def test_request_token_requires_callback(provider: Provider) -> None:
    response = signed(
        provider.http, ClientAuth(HMAC_CLIENT_ID, HMAC_CLIENT_SECRET), "POST", provider.url("/request_token")
    )
    assert response.status_code == 400
    assert form(response) == {
        "error": "missing_required_parameter",
        "error_description": 'missing "oauth_callback" in parameters',
    }


def test_request_token_is_single_use(provider: Provider) -> None:
    creds = credentials_for(provider.state, "HMAC-SHA1")
    temporary = obtain_request_token(provider, creds)
    verifier = authorize(provider, temporary["oauth_token"])["oauth_verifier"]

    def exchange() -> httpx.Response:
        auth = creds.auth(
            token=temporary["oauth_token"],
            token_secret=temporary["oauth_token_secret"],
            verifier=verifier,
        )
        return signed(provider.http, auth, "POST", provider.url("/access_token"))

    assert exchange().status_code == 200
    again = exchange()
    assert again.status_code == 401
    assert form(again)["error"] == "invalid_token"
    assert provider.state.hits["/access_token"] == 2


def test_wrong_verifier_burns_the_request_token(provider: Provider) -> None:
    """Like Authlib: any failed exchange deletes the request token."""
    creds = credentials_for(provider.state, "HMAC-SHA1")
    temporary = obtain_request_token(provider, creds)
    authorize(provider, temporary["oauth_token"])
    auth = creds.auth(token=temporary["oauth_token"], token_secret=temporary["oauth_token_secret"], verifier="nope")
    response = signed(provider.http, auth, "POST", provider.url("/access_token"))
    assert response.status_code == 400
    assert form(response)["error"] == "invalid_request"
    assert not provider.state.has_request_token(temporary["oauth_token"])


# ------------------------------------------------------------------ /authorize


def test_authorize_deny_twitter_style(provider: Provider) -> None:
    temporary = obtain_request_token(provider, credentials_for(provider.state, "HMAC-SHA1"))
    response = provider.http.get(
        provider.url("/authorize"), params={"oauth_token": temporary["oauth_token"], "deny": "1"}
    )
    assert response.status_code == 302
    assert query_of(response.headers["Location"]) == {"from": "test", "denied": temporary["oauth_token"]}
    assert not provider.state.has_request_token(temporary["oauth_token"])


def test_authorize_deny_authlib_style(provider_factory: Callable[..., Provider]) -> None:
    provider = provider_factory(deny_style="authlib")
    temporary = obtain_request_token(provider, credentials_for(provider.state, "HMAC-SHA1"))
    response = provider.http.get(
        provider.url("/authorize"), params={"oauth_token": temporary["oauth_token"], "deny": "1"}
    )
    assert query_of(response.headers["Location"])["error"] == "access_denied"


def test_authorize_html_form_and_post(provider: Provider) -> None:
    temporary = obtain_request_token(provider, credentials_for(provider.state, "HMAC-SHA1"))
    page = provider.http.get(provider.url("/authorize"), params={"oauth_token": temporary["oauth_token"]})
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'name="user"' in page.text
    assert 'value="approve"' in page.text
    assert 'value="deny"' in page.text
    assert temporary["oauth_token"] in page.text

    approved = provider.http.post(
        provider.url("/authorize"),
        data={"oauth_token": temporary["oauth_token"], "user": "dave", "action": "approve"},
    )
    assert approved.status_code == 302
    assert query_of(approved.headers["Location"])["oauth_verifier"]


def test_authorize_unknown_token(provider: Provider) -> None:
    response = provider.http.get(provider.url("/authorize"), params={"oauth_token": "nope", "user": "a"})
    assert response.status_code == 401
    assert form(response)["error"] == "invalid_token"


def test_oob_callback_shows_the_verifier(provider: Provider) -> None:
    creds = credentials_for(provider.state, "HMAC-SHA1")
    temporary = obtain_request_token(provider, creds, callback="oob")
    response = provider.http.get(
        provider.url("/authorize"), params={"oauth_token": temporary["oauth_token"], "user": "erin"}
    )
    assert response.status_code == 200
    assert form(response)["oauth_token"] == temporary["oauth_token"]
    assert form(response)["oauth_verifier"]


# --------------------------------------------------------- bodies & resources


def test_form_body_is_signed_json_body_is_not(provider: Provider) -> None:
    token = provider.state.issue_access_token("alice")
    auth = ClientAuth(
        HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
    )
    echo = provider.url("/api/echo")

    # JSON: the signature ignores the body, so changing it keeps the request valid
    uri, headers, _ = auth.prepare("POST", echo, {"Content-Type": "application/json"}, b"")
    changed = provider.http.post(uri, headers=headers, content=json.dumps({"n": 2}))
    assert changed.status_code == 200
    assert changed.json()["json"] == {"n": 2}
    assert changed.json()["raw"] == '{"n": 2}'

    # form: the body parameters are signed, so changing them breaks the signature
    uri, headers, body = auth.prepare("POST", echo, {"Content-Type": FORM}, "n=1&n=2")
    assert provider.http.post(uri, headers=headers, content=body).json()["form"] == {"n": "1"}
    uri, headers, body = auth.prepare("POST", echo, {"Content-Type": FORM}, "n=1")
    tampered = provider.http.post(uri, headers=headers, content="n=2")
    assert tampered.status_code == 401
    assert tampered.json()["error"] == "invalid_signature"

    # other methods with a form body are signed too (stock Authlib: POST/PUT only)
    for method in ("PUT", "PATCH", "DELETE"):
        response = signed(provider.http, auth, method, echo, data={"k": "v"})
        assert response.status_code == 200, (method, response.text)
        assert response.json()["method"] == method
        assert response.json()["form"] == {"k": "v"}


def test_resource_variants(provider: Provider) -> None:
    token = provider.state.issue_access_token("zoé")
    auth = ClientAuth(
        HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
    )

    def get(path: str) -> httpx.Response:
        return signed(provider.http, auth, "GET", provider.url(path))

    xml = get("/api/xml")
    assert xml.headers["Content-Type"].startswith("application/xml")
    assert "<name>zoé</name>" in xml.text
    assert get("/api/form").headers["Content-Type"] == FORM
    assert form(get("/api/form")) == {"user": "zoé", "status": "ok"}
    text = get("/api/text")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert text.text == "hello zoé"
    assert get("/api/status/503").status_code == 503
    assert get("/api/path/caf%C3%A9/x%2Fy").json()["path"] == "café/x/y"
    assert get("/api/me?q=caf%C3%A9&w=it%27s").json()["args"] == {"q": "café", "w": "it's"}
    slow = get("/api/slow?ms=50")
    assert slow.json()["slept_ms"] == 50
    assert slow.json()["user"] == "zoé"


def test_public_endpoint_reports_authorization_header(provider: Provider) -> None:
    assert provider.http.get(provider.url("/public")).json()["authorization"] is False
    auth = ClientAuth(HMAC_CLIENT_ID, HMAC_CLIENT_SECRET)
    assert signed(provider.http, auth, "GET", provider.url("/public")).json()["authorization"] is True


def test_runtime_consumer_and_revocation(provider: Provider) -> None:
    provider.state.add_consumer(Consumer("client-new", client_secret="s&cret =%"))
    token = provider.state.issue_access_token("frank", client_id="client-new")
    auth = ClientAuth("client-new", "s&cret =%", token=token.oauth_token, token_secret=token.oauth_token_secret)
    assert signed(provider.http, auth, "GET", provider.url("/api/me")).json()["client_id"] == "client-new"
    provider.state.revoke_access_token(token.oauth_token)
    revoked = signed(provider.http, auth, "GET", provider.url("/api/me"))
    assert revoked.status_code == 401
    assert revoked.json()["error"] == "invalid_token"


# ------------------------------------------------------ Authlib quirks, pinned


PERCENT_CALLBACK = "http://127.0.0.1:9/cb?next=%2Fhome&x=a%20b"


def _request_token_status(provider: Provider, signer: str) -> int:
    url = provider.url("/request_token")
    if signer == "authlib":
        auth = ClientAuth(HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, redirect_uri=PERCENT_CALLBACK)
        uri, headers, _ = auth.prepare("POST", url, {}, b"")
    else:
        client = OAuthlibClient(HMAC_CLIENT_ID, client_secret=HMAC_CLIENT_SECRET, callback_uri=PERCENT_CALLBACK)
        uri, headers, _ = client.sign(url, http_method="POST")
    return provider.http.post(uri, headers=headers).status_code


def test_percent_in_callback_strict_vs_stock(provider_factory: Callable[..., Provider]) -> None:
    """Authlib decodes oauth_* values twice in the base string (client and server).

    The strict provider follows RFC 5849 (oauthlib agrees); stock Authlib only
    accepts Authlib's own, non-RFC, signature when the callback contains ``%``.
    """
    strict = provider_factory()
    assert _request_token_status(strict, "oauthlib") == 200
    assert _request_token_status(strict, "authlib") == 401
    stock = provider_factory(stock_authlib=True)
    assert _request_token_status(stock, "oauthlib") == 401
    assert _request_token_status(stock, "authlib") == 200


def test_callback_query_is_reencoded_by_authlib(provider: Provider) -> None:
    client = OAuthlibClient(
        HMAC_CLIENT_ID, client_secret=HMAC_CLIENT_SECRET, callback_uri="http://127.0.0.1:9/cb?flag&next=%2Fa"
    )
    uri, headers, _ = client.sign(provider.url("/request_token"), http_method="POST")
    temporary = form(provider.http.post(uri, headers=headers))
    location = provider.http.get(
        provider.url("/authorize"), params={"oauth_token": temporary["oauth_token"], "user": "a"}
    ).headers["Location"]
    assert location.startswith("http://127.0.0.1:9/cb?flag=&next=%2Fa&oauth_token=")


def test_stock_authlib_rejects_non_ascii_query(provider_factory: Callable[..., Provider]) -> None:
    """werkzeug's request.url is an IRI; stock Authlib cannot parse it (we turn the 500 into 400)."""
    stock = provider_factory(stock_authlib=True)
    token = stock.state.issue_access_token("alice")
    auth = ClientAuth(
        HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
    )
    assert signed(stock.http, auth, "GET", stock.url("/api/me?q=plain")).status_code == 200
    broken = signed(stock.http, auth, "GET", stock.url("/api/me?q=caf%C3%A9"))
    assert broken.status_code == 400
    assert "malformed request" in broken.json()["error_description"]


def test_loopback_http_is_secure_without_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTHLIB_INSECURE_TRANSPORT is only needed for non-loopback plain http."""
    from authlib.common.security import is_secure_transport

    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    assert is_secure_transport("http://127.0.0.1:5000/x")
    assert is_secure_transport("http://localhost:5000/x")
    assert not is_secure_transport("http://provider.example/x")
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    assert is_secure_transport("http://provider.example/x")


# ------------------------------------------------------- misbehaviour switches


def test_callback_confirmed_switch(provider: Provider) -> None:
    creds = credentials_for(provider.state, "HMAC-SHA1")
    provider.state.callback_confirmed = False
    assert obtain_request_token(provider, creds)["oauth_callback_confirmed"] == "false"
    provider.state.callback_confirmed = None
    assert "oauth_callback_confirmed" not in obtain_request_token(provider, creds)
    provider.state.reset_misbehaviour()
    assert obtain_request_token(provider, creds)["oauth_callback_confirmed"] == "true"


@pytest.mark.parametrize("endpoint", ["request_token", "access_token"])
def test_forced_status_and_body(provider: Provider, endpoint: str) -> None:
    state = provider.state
    creds = credentials_for(state, "HMAC-SHA1")
    temporary = obtain_request_token(provider, creds)
    verifier = authorize(provider, temporary["oauth_token"])["oauth_verifier"]

    def call() -> httpx.Response:
        if endpoint == "request_token":
            auth = creds.auth(redirect_uri=CALLBACK)
        else:
            auth = creds.auth(
                token=temporary["oauth_token"], token_secret=temporary["oauth_token_secret"], verifier=verifier
            )
        return signed(provider.http, auth, "POST", provider.url(f"/{endpoint}"))

    setattr(state, f"{endpoint}_status", 500)
    error = call()
    assert error.status_code == 500
    assert form(error)["error"] == "forced_error"

    setattr(state, f"{endpoint}_status", None)
    setattr(state, f"{endpoint}_body", "<html>oops</html>")
    html = call()
    assert html.status_code == 200
    assert html.text == "<html>oops</html>"
    assert html.headers["Content-Type"].startswith("text/html")

    setattr(state, f"{endpoint}_status", 503)
    setattr(state, f"{endpoint}_body", "maintenance")
    setattr(state, f"{endpoint}_content_type", "text/plain")
    plain = call()
    assert (plain.status_code, plain.text, plain.headers["Content-Type"]) == (503, "maintenance", "text/plain")

    # forced answers consume nothing: the real flow still works afterwards
    state.reset_misbehaviour()
    assert state.has_request_token(temporary["oauth_token"])
    real = call()
    assert real.status_code == 200, real.text
    assert ("screen_name" in form(real)) == (endpoint == "access_token")
    assert state.hits[f"/{endpoint}"] == (5 if endpoint == "request_token" else 4)


def test_hits_and_reset(provider: Provider) -> None:
    state = provider.state
    full_dance(provider, credentials_for(state, "HMAC-SHA1"))
    assert state.hits["/request_token"] == 1
    assert state.hits["/authorize"] == 1
    assert state.hits["/access_token"] == 1
    assert state.hits["/never"] == 0
    assert state.last_request("/access_token") is not None
    state.reset_counters()
    assert state.hits == {}
    assert state.requests == []


# ----------------------------------------------------------- ServerThread


def test_keep_alive_uses_one_connection(any_provider: Provider) -> None:
    server = any_provider.server
    server.reset_counters()
    for _ in range(50):
        assert any_provider.http.get(any_provider.url("/public")).status_code == 200
    assert server.connections == 1
    assert len(server.requests) == 50
    assert {record.connection for record in server.requests} == {server.requests[0].connection}

    token = any_provider.state.issue_access_token("alice")
    auth = ClientAuth(
        HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
    )
    for _ in range(20):
        assert signed(any_provider.http, auth, "GET", any_provider.url("/api/me")).status_code == 200
    assert server.connections == 1


def test_connections_are_counted(echo_server: ServerThread) -> None:
    for _ in range(5):
        with httpx.Client(trust_env=False) as fresh:
            fresh.get(echo_server.url + "/")
    assert echo_server.connections == 5
    with httpx.Client(trust_env=False, headers={"Connection": "close"}) as closing:
        for _ in range(3):
            closing.get(echo_server.url + "/")
    assert echo_server.connections == 8
    echo_server.reset_counters()
    assert echo_server.connections == 0
    assert echo_server.requests == []


def test_in_flight_max_measures_overlap(provider: Provider) -> None:
    token = provider.state.issue_access_token("alice")
    provider.server.reset_counters()
    assert provider.server.in_flight_max == 0

    def slow_call(_: int) -> int:
        auth = ClientAuth(
            HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, token=token.oauth_token, token_secret=token.oauth_token_secret
        )
        return signed(provider.http, auth, "GET", provider.url("/api/slow?ms=300")).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(slow_call, range(5)))
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 5
    assert provider.server.in_flight_max >= 5  # counted overlap; wall time is not asserted
    print(f"[selftest] 5 x 300 ms in parallel took {elapsed:.2f} s (not asserted)")

    provider.server.reset_counters()
    for _ in range(3):
        provider.http.get(provider.url("/public"))
    assert provider.server.in_flight_max == 1  # sequential calls never overlap


def test_latency(echo_server: ServerThread) -> None:
    with httpx.Client(trust_env=False) as http:
        http.get(echo_server.url + "/warmup")

        def timed(path: str) -> float:
            started = time.perf_counter()
            assert http.get(echo_server.url + path).status_code == 200
            return time.perf_counter() - started

        assert timed("/x") < 0.3
        echo_server.set_latency(300)
        assert timed("/x") >= 0.3
        echo_server.set_latency(300, path_prefix="/api")
        assert timed("/api/x") >= 0.3
        assert timed("/public") < 0.3
        echo_server.set_latency(0)
        assert timed("/api/x") < 0.3


def test_latency_constructor_argument() -> None:
    with ServerThread(echo_wsgi, latency_ms=200) as server, httpx.Client(trust_env=False) as http:
        started = time.perf_counter()
        http.get(server.url + "/")
        assert time.perf_counter() - started >= 0.2


def test_wsgi_server_details(echo_server: ServerThread) -> None:
    with httpx.Client(trust_env=False) as http:
        got = http.get(echo_server.url + "/caf%C3%A9?q=a%20b&q=%2F").json()
        assert got["path"] == "/café".encode().decode("latin-1")  # PEP 3333
        assert got["raw_uri"] == "/caf%C3%A9?q=a%20b&q=%2F"
        assert got["query"] == "q=a%20b&q=%2F"
        assert got["scheme"] == "http"
        chunked = http.post(echo_server.url + "/up", content=iter([b"ab", b"cd", b"ef"])).json()
        assert chunked["body"] == "abcdef"
        assert http.put(echo_server.url + "/up", content=b"x" * 100_000).json()["body"] == "x" * 100_000
        head = http.head(echo_server.url + "/")
        assert head.status_code == 200
        assert head.content == b""
        assert http.get(echo_server.url + "/empty").status_code == 204
        assert http.get(echo_server.url + "/after").json()["path"] == "/after"
    assert echo_server.connections == 1


def test_server_survives_app_crash(echo_server: ServerThread, capsys: pytest.CaptureFixture[str]) -> None:
    with httpx.Client(trust_env=False) as http:
        crashed = http.get(echo_server.url + "/boom")
        assert crashed.status_code == 500
        assert crashed.headers.get("Connection") == "close"
        assert http.get(echo_server.url + "/ok").status_code == 200
    assert "boom (expected" in capsys.readouterr().err


def test_https_server(tls: TLSMaterial) -> None:
    with ServerThread(echo_wsgi, ssl_context=tls.server_context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with httpx.Client(trust_env=False, verify=tls.client_context) as http:
            assert http.get(server.url + "/").json()["scheme"] == "https"
            assert http.get(server.url_for("/", host="localhost")).status_code == 200
        with httpx.Client(trust_env=False, verify=True) as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.get(server.url + "/")  # system CAs only: the test CA is unknown
        with Browser(verify=tls.ca_pem_path) as browser:  # a CA file path works too
            assert browser.get(server.url + "/").status_code == 200
        with httpx.Client(trust_env=False) as plain, pytest.raises(httpx.HTTPError):
            plain.get(f"http://127.0.0.1:{server.port}/")  # plain http to a TLS port
        with httpx.Client(trust_env=False, verify=tls.client_context) as http:
            assert http.get(server.url + "/still-fine").status_code == 200


def test_stop_releases_everything() -> None:
    before = set(threading.enumerate())
    server = ServerThread(echo_wsgi, name="short-lived")
    port = server.port
    with server, httpx.Client(trust_env=False) as http:
        http.get(server.url + "/")  # leaves an idle keep-alive connection open
    leftovers = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftovers == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    unstarted = ServerThread(echo_wsgi)  # bound but never started: stop() closes it
    unstarted.stop()


# ------------------------------------------------------------------- Browser


def make_demo_client(provider_url: str, http: httpx.Client) -> Flask:
    """A minimal OAuth 1.0a client app, enough to exercise Browser.login_via."""
    app = Flask("demo_client")
    app.secret_key = "demo-secret"

    @app.get("/login")
    def login() -> Any:
        auth = ClientAuth(HMAC_CLIENT_ID, HMAC_CLIENT_SECRET, redirect_uri=url_for("callback", _external=True))
        temporary = form(signed(http, auth, "POST", provider_url + "/request_token"))
        session["request_token"] = temporary
        return redirect(f"{provider_url}/authorize?{urlencode({'oauth_token': temporary['oauth_token']})}")

    @app.get("/callback")
    def callback() -> Any:
        temporary = session.get("request_token")
        if temporary is None or temporary["oauth_token"] != request.args.get("oauth_token", request.args.get("denied")):
            return "no login in progress", 400
        if "denied" in request.args:
            return "denied", 403
        auth = ClientAuth(
            HMAC_CLIENT_ID,
            HMAC_CLIENT_SECRET,
            token=temporary["oauth_token"],
            token_secret=temporary["oauth_token_secret"],
            verifier=request.args["oauth_verifier"],
        )
        response = signed(http, auth, "POST", provider_url + "/access_token")
        if response.status_code != 200:
            return f"provider said {response.status_code}", 502
        session["user"] = form(response)["screen_name"]
        return redirect(url_for("home"))

    @app.get("/home")
    def home() -> Any:
        return {"user": session.get("user")}

    return app


@pytest.fixture(params=["http", "https"])
def demo(request: pytest.FixtureRequest, tls: TLSMaterial) -> Iterator[tuple[ServerThread, Provider]]:
    material = tls if request.param == "https" else None
    server, state, http = _start_provider(material)
    provider = Provider(server, state, http)
    client_server = ServerThread(
        make_demo_client(server.url, http),
        ssl_context=material.server_context if material else None,
        name="demo-client",
    )
    with client_server:
        yield client_server, provider
    http.close()
    server.stop()


def _browser(provider: Provider, tls: TLSMaterial) -> Browser:
    https = provider.server.url.startswith("https")
    return Browser(verify=tls.client_context if https else True)


def test_browser_login_via(demo: tuple[ServerThread, Provider], tls: TLSMaterial) -> None:
    client_server, provider = demo
    with _browser(provider, tls) as browser:
        result = browser.login_via(client_server.url + "/login", user="alice")
        assert result.response.status_code == 200
        assert result.response.json() == {"user": "alice"}
        assert result.callback_url.startswith(client_server.url + "/callback?")
        assert result.callback_params["oauth_verifier"]
        assert result.authorize_url.startswith(provider.url("/authorize?oauth_token="))
        assert result.visited[0] == client_server.url + "/login"
        assert result.visited[-1] == client_server.url + "/home"
        assert "session" in browser.cookies  # the client app's cookie was kept
        assert browser.get(client_server.url + "/home").json() == {"user": "alice"}

        # the same browser replays the callback: the provider refuses the used token
        before = provider.state.hits["/access_token"]
        assert browser.get(result.callback_url).status_code == 502
        assert provider.state.hits["/access_token"] == before + 1

        # another browser (no session) replays it: never reaches the provider
        with _browser(provider, tls) as other:
            assert other.get(result.callback_url).status_code == 400
        assert provider.state.hits["/access_token"] == before + 1


def test_browser_login_via_deny(demo: tuple[ServerThread, Provider], tls: TLSMaterial) -> None:
    client_server, provider = demo
    with _browser(provider, tls) as browser:
        result = browser.login_via(client_server.url + "/login", deny=True)
        assert result.response.status_code == 403
        assert "denied" in result.callback_params
        assert provider.state.hits["/access_token"] == 0


def test_browser_follow_and_errors(echo_server: ServerThread) -> None:
    hops: dict[str, tuple[int, str]] = {
        "/a": (302, "/b"),
        "/b": (307, "/c"),
        "/loop": (302, "/loop"),
    }

    def redirecting(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path in hops:
            status, target = hops[path]
            start_response(f"{status} Redirect", [("Location", target)])
            return [b""]
        return echo_wsgi(environ, start_response)

    echo_server.app = redirecting
    with Browser() as browser:
        followed = browser.follow(echo_server.url + "/a", method="POST", data={"k": "v"})
        assert [urlsplit(u).path for u in followed.visited] == ["/a", "/b", "/c"]
        assert followed.response.json()["method"] == "GET"  # 302 turned POST into GET
        kept = browser.follow(echo_server.url + "/b", method="POST", data={"k": "v"})
        assert kept.response.json()["method"] == "POST"
        assert kept.response.json()["body"] == "k=v"
        with pytest.raises(BrowserError):
            browser.follow(echo_server.url + "/loop", max_hops=3)
        with pytest.raises(BrowserError):
            browser.login_via(echo_server.url + "/not-a-login")
