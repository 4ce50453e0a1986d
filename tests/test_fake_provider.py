"""The public fake provider (:class:`flask_oauth1_async.testing.FakeProvider`) as a provider.

These tests talk to it over real HTTP(S) on 127.0.0.1 and sign with a third
implementation, Authlib's core signer (``authlib.oauth1.ClientAuth``), or with
oauthlib's client, never with flask_oauth1_async: a failure here is a bug in
the fake provider. They cover the protocol (the whole dance with every
signature method and placement, the refusals oauthlib's default checks make,
the authorize page), the API answers the suite relies on, and the public
controls (canned answers, callback confirmation, the clock, consumers, tokens,
records, connection counters). ``tests/test_testing_helpers.py`` covers
``login()`` and the pytest plugin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from authlib.oauth1 import ClientAuth
from oauthlib.oauth1 import Client as OAuthlibClient

from flask_oauth1_async.testing import FakeProvider
from tests.support.fake import last
from tests.support.keys import RSA_PRIVATE, RSA_PUBLIC
from tests.support.views import query_of

CALLBACK = "http://127.0.0.1:9/callback?from=test"
FORM = "application/x-www-form-urlencoded"


# ------------------------------------------------------------------ helpers


@dataclass
class Peer:
    """A running fake provider and an HTTP client that trusts it."""

    fake: FakeProvider
    http: httpx.Client

    def api(self, path: str) -> str:
        return self.fake.api_base_url + path


def signed(
    http: httpx.Client,
    auth: ClientAuth,
    method: str,
    url: str,
    *,
    data: dict[str, str] | list[tuple[str, str]] | None = None,
) -> httpx.Response:
    """Sign a request with Authlib's ``ClientAuth`` and send it with httpx."""
    headers: dict[str, str] = {}
    body: str | bytes = b""
    if data is not None:
        body = urlencode(data)
        headers["Content-Type"] = FORM
    uri, headers, body = auth.prepare(method, url, headers, body)
    return http.request(method, uri, headers=headers, content=body)


def form(response: httpx.Response) -> dict[str, str]:
    """Decode a form-encoded response body."""
    return dict(parse_qsl(response.text, keep_blank_values=True))


@dataclass
class Credentials:
    """How a test consumer signs."""

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


def credentials_for(fake: FakeProvider, method: str) -> Credentials:
    if method == "RSA-SHA1":
        return Credentials(fake.add_consumer(rsa_public_key=RSA_PUBLIC), method, rsa_key=RSA_PRIVATE)
    return Credentials(fake.client_id, method, secret=fake.client_secret)


def token_auth(creds: Credentials, token: dict[str, str], signature_type: str = "HEADER") -> ClientAuth:
    return creds.auth(signature_type, token=token["oauth_token"], token_secret=token["oauth_token_secret"])


def obtain_request_token(
    peer: Peer, creds: Credentials, signature_type: str = "HEADER", callback: str = CALLBACK
) -> dict[str, str]:
    auth = creds.auth(signature_type, redirect_uri=callback)
    response = signed(peer.http, auth, "POST", peer.fake.request_token_url)
    assert response.status_code == 200, response.text
    return form(response)


def authorize(peer: Peer, oauth_token: str, user: str = "alice") -> dict[str, str]:
    """Play the user's consent; returns the callback's query parameters."""
    response = peer.http.get(peer.fake.authorize_url, params={"oauth_token": oauth_token, "user": user})
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"])


def exchange(peer: Peer, creds: Credentials, temporary: dict[str, str], verifier: str) -> httpx.Response:
    auth = creds.auth(token=temporary["oauth_token"], token_secret=temporary["oauth_token_secret"], verifier=verifier)
    return signed(peer.http, auth, "POST", peer.fake.access_token_url)


def full_dance(peer: Peer, creds: Credentials, user: str = "alice") -> dict[str, str]:
    """request token -> authorize -> access token; returns the access token response."""
    temporary = obtain_request_token(peer, creds)
    response = exchange(peer, creds, temporary, authorize(peer, temporary["oauth_token"], user)["oauth_verifier"])
    assert response.status_code == 200, response.text
    return form(response)


def _peer(fake: FakeProvider) -> Iterator[Peer]:
    with httpx.Client(trust_env=False, timeout=10, verify=fake.ssl_context or True) as http:
        yield Peer(fake, http)


@pytest.fixture
def peer(provider: FakeProvider) -> Iterator[Peer]:
    """The suite's plain-HTTP fake provider (reset, with the suite's routes)."""
    yield from _peer(provider)


@pytest.fixture(params=["http", "https"])
def any_peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    fake: FakeProvider = request.getfixturevalue("provider" if request.param == "http" else "provider_tls")
    assert fake.url.startswith(request.param + "://")
    yield from _peer(fake)


# ---------------------------------------------------- the full OAuth 1.0a dance


@pytest.mark.parametrize("signature_type", ["HEADER", "QUERY", "BODY"])
@pytest.mark.parametrize("method", ["HMAC-SHA1", "RSA-SHA1", "PLAINTEXT"])
def test_full_dance(any_peer: Peer, method: str, signature_type: str) -> None:
    peer, fake = any_peer, any_peer.fake
    creds = credentials_for(fake, method)

    temporary = obtain_request_token(peer, creds, signature_type)
    assert temporary["oauth_callback_confirmed"] == "true"
    assert fake.token_secret(temporary["oauth_token"]) == temporary["oauth_token_secret"]

    callback = authorize(peer, temporary["oauth_token"])
    assert callback["oauth_token"] == temporary["oauth_token"]
    assert callback["from"] == "test"  # the callback's own query survives
    assert callback["oauth_verifier"]

    auth = creds.auth(
        signature_type,
        token=temporary["oauth_token"],
        token_secret=temporary["oauth_token_secret"],
        verifier=callback["oauth_verifier"],
    )
    response = signed(peer.http, auth, "POST", fake.access_token_url)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == FORM
    token = form(response)
    assert token["screen_name"] == "alice"
    assert token["user_id"] == fake.users["alice"]["user_id"]
    assert token["oauth_token"] != temporary["oauth_token"]
    assert fake.token_secret(temporary["oauth_token"]) is None  # single use
    assert fake.user_of(token["oauth_token"]) == "alice"

    auth = token_auth(creds, token, signature_type)
    if signature_type == "BODY":  # protocol parameters need a form body
        api = signed(peer.http, auth, "POST", peer.api("echo"), data={"a": "b c"})
        assert api.status_code == 200, api.text
        assert api.json()["form"] == {"a": "b c"}
    else:
        api = signed(peer.http, auth, "GET", peer.api("me?page=2&q=x%20y"))
        assert api.status_code == 200, api.text
        assert api.json()["args"] == {"page": "2", "q": "x y"}
    assert api.json()["user"] == "alice"

    where = fake.received()[-1]
    assert (where.valid, where.signature_method, where.consumer_key) == (True, method, creds.client_id)
    if signature_type == "HEADER":
        assert (where.authorization or "").startswith("OAuth ")
    elif signature_type == "QUERY":
        assert "oauth_signature=" in urlsplit(where.url).query
        assert where.authorization is None
    else:
        assert "oauth_signature=" in where.body
        assert where.authorization is None


def test_hmac_sha256_is_verified(peer: Peer) -> None:
    """The provider also verifies HMAC-SHA256 (not part of RFC 5849)."""
    from authlib.oauth1.rfc5849.signature import generate_signature_base_string
    from authlib.oauth1.rfc5849.util import escape

    def sign_hmac_sha256(client: ClientAuth, req: Any) -> str:
        key = f"{escape(client.client_secret or '')}&{escape(client.token_secret or '')}"
        text = generate_signature_base_string(req)
        return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()).decode()

    class SHA256Auth(ClientAuth):  # type: ignore[misc]
        SIGNATURE_METHODS = {**ClientAuth.SIGNATURE_METHODS, "HMAC-SHA256": sign_hmac_sha256}

    token = peer.fake.issue_token("carol")
    auth = SHA256Auth(
        peer.fake.client_id,
        peer.fake.client_secret,
        token=token["oauth_token"],
        token_secret=token["oauth_token_secret"],
        signature_method="HMAC-SHA256",
    )
    assert signed(peer.http, auth, "GET", peer.api("me")).json()["user"] == "carol"
    auth.client_secret = "wrong"
    assert signed(peer.http, auth, "GET", peer.api("me")).status_code == 401


# ---------------------------------------------------------------- refusals


def test_replayed_request_is_rejected(peer: Peer) -> None:
    token = peer.fake.issue_token("alice")
    auth = token_auth(credentials_for(peer.fake, "HMAC-SHA1"), token)
    uri, headers, _ = auth.prepare("GET", peer.api("me"), {}, b"")
    first = peer.http.get(uri, headers=headers)
    second = peer.http.get(uri, headers=headers)
    assert first.status_code == 200
    assert second.status_code == 401
    assert [c.valid for c in peer.fake.calls] == [True, False]  # the same signature, its nonce already used


def test_replayed_request_token_call_is_rejected(peer: Peer) -> None:
    auth = credentials_for(peer.fake, "HMAC-SHA1").auth(redirect_uri=CALLBACK)
    uri, headers, _ = auth.prepare("POST", peer.fake.request_token_url, {}, b"")
    assert peer.http.post(uri, headers=headers).status_code == 200
    replay = peer.http.post(uri, headers=headers)
    assert replay.status_code == 401
    assert [c.status for c in peer.fake.received("request_token")] == [200, 401]


def test_bad_signatures_are_rejected(peer: Peer) -> None:
    fake = peer.fake
    token = fake.issue_token("alice")
    me = peer.api("me")

    def call(**kwargs: Any) -> httpx.Response:
        options: dict[str, Any] = {
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "token": token["oauth_token"],
            "token_secret": token["oauth_token_secret"],
        }
        options.update(kwargs)
        return signed(peer.http, ClientAuth(**options), "GET", me)

    assert call().status_code == 200
    assert call(client_secret="not-the-secret").status_code == 401
    assert call(token_secret="not-the-token-secret").status_code == 401
    assert call(client_id="nobodyknowsthisconsumer").status_code == 401
    assert call(token="nobodyknowsthistoken00000").status_code == 401
    # an RSA consumer cannot use HMAC (it has no shared secret)
    rsa_consumer = fake.add_consumer(rsa_public_key=RSA_PUBLIC)
    rsa_token = fake.issue_token("alice", consumer=rsa_consumer)
    wrong_method = call(
        client_id=rsa_consumer, token=rsa_token["oauth_token"], token_secret=rsa_token["oauth_token_secret"]
    )
    assert wrong_method.status_code == 401
    rsa_signed = call(
        client_id=rsa_consumer,
        token=rsa_token["oauth_token"],
        token_secret=rsa_token["oauth_token_secret"],
        signature_method="RSA-SHA1",
        rsa_key=RSA_PRIVATE,
    )
    assert rsa_signed.status_code == 200  # the right method for that consumer
    # a token is bound to the consumer it was issued to
    assert call(client_id=rsa_consumer, signature_method="RSA-SHA1", rsa_key=RSA_PRIVATE).status_code == 401
    assert fake.received("api", "me")[-1].valid is False

    # tampering with a signed request: change a signed query parameter
    auth = ClientAuth(
        fake.client_id, fake.client_secret, token=token["oauth_token"], token_secret=token["oauth_token_secret"]
    )
    uri, headers, _ = auth.prepare("GET", me + "?amount=1", {}, b"")
    tampered = peer.http.get(uri.replace("amount=1", "amount=9"), headers=headers)
    assert tampered.status_code == 401
    # a signature method the provider does not support
    uri, headers, _ = auth.prepare("GET", me, {}, b"")
    headers["Authorization"] = headers["Authorization"].replace("HMAC-SHA1", "HMAC-MD5")
    assert peer.http.get(uri, headers=headers).status_code == 401
    uri, headers, _ = (
        credentials_for(fake, "HMAC-SHA1").auth(redirect_uri=CALLBACK).prepare("POST", fake.request_token_url, {}, b"")
    )
    headers["Authorization"] = headers["Authorization"].replace("HMAC-SHA1", "HMAC-MD5")
    unsupported = peer.http.post(uri, headers=headers)
    assert unsupported.status_code == 400
    assert form(unsupported)["error"] == "invalid_signature_method"
    # no OAuth at all
    bare = peer.http.get(me)
    assert bare.status_code == 401
    assert bare.json()["error"] == "this API needs a signed request"
    assert [c.signed for c in fake.calls][-1] is False


def test_stale_timestamp_is_rejected(peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    import authlib.oauth1.rfc5849.client_auth as client_auth

    token = peer.fake.issue_token("alice")
    creds = credentials_for(peer.fake, "HMAC-SHA1")
    monkeypatch.setattr(client_auth, "generate_timestamp", lambda: str(int(time.time()) - 3600))
    stale = signed(peer.http, creds.auth(redirect_uri=CALLBACK), "POST", peer.fake.request_token_url)
    assert stale.status_code == 400
    assert "Timestamp" in form(stale)["error_description"]
    assert signed(peer.http, token_auth(creds, token), "GET", peer.api("me")).status_code == 401


def test_request_token_requires_callback(peer: Peer) -> None:
    auth = credentials_for(peer.fake, "HMAC-SHA1").auth()
    response = signed(peer.http, auth, "POST", peer.fake.request_token_url)
    assert response.status_code == 400
    assert form(response) == {"error": "invalid_request", "error_description": "Missing callback URI."}


def test_request_token_is_single_use(peer: Peer) -> None:
    creds = credentials_for(peer.fake, "HMAC-SHA1")
    temporary = obtain_request_token(peer, creds)
    verifier = authorize(peer, temporary["oauth_token"])["oauth_verifier"]
    assert exchange(peer, creds, temporary, verifier).status_code == 200
    assert exchange(peer, creds, temporary, verifier).status_code == 401
    assert [c.status for c in peer.fake.received("access_token")] == [200, 401]


def test_wrong_verifier_is_refused_and_the_right_one_still_works(peer: Peer) -> None:
    """oauthlib refuses a wrong verifier without consuming the request token."""
    creds = credentials_for(peer.fake, "HMAC-SHA1")
    temporary = obtain_request_token(peer, creds)
    verifier = authorize(peer, temporary["oauth_token"])["oauth_verifier"]
    assert exchange(peer, creds, temporary, "wrongwrongwrongwrongwrong").status_code == 401
    assert peer.fake.token_secret(temporary["oauth_token"]) is not None
    assert exchange(peer, creds, temporary, verifier).status_code == 200


# ------------------------------------------------------------------ the authorize page


def test_authorize_deny_twitter_style(peer: Peer) -> None:
    temporary = obtain_request_token(peer, credentials_for(peer.fake, "HMAC-SHA1"))
    response = peer.http.get(peer.fake.authorize_url, params={"oauth_token": temporary["oauth_token"], "deny": "1"})
    assert response.status_code == 302
    assert query_of(response.headers["Location"]) == {"from": "test", "denied": temporary["oauth_token"]}
    assert peer.fake.token_secret(temporary["oauth_token"]) is None


def test_authorize_deny_with_other_callback_parameters(peer: Peer) -> None:
    peer.fake.deny_next({"error": "access_denied"})
    temporary = obtain_request_token(peer, credentials_for(peer.fake, "HMAC-SHA1"))
    response = peer.http.get(peer.fake.authorize_url, params={"oauth_token": temporary["oauth_token"], "user": "bob"})
    assert response.status_code == 302  # the scripted decision wins over the user's
    assert query_of(response.headers["Location"]) == {"from": "test", "error": "access_denied"}


def test_authorize_html_form_and_post(peer: Peer) -> None:
    temporary = obtain_request_token(peer, credentials_for(peer.fake, "HMAC-SHA1"))
    page = peer.http.get(peer.fake.authorize_url, params={"oauth_token": temporary["oauth_token"]})
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'name="user"' in page.text
    assert 'value="approve"' in page.text
    assert 'value="deny"' in page.text
    assert temporary["oauth_token"] in page.text

    approved = peer.http.post(
        peer.fake.authorize_url, data={"oauth_token": temporary["oauth_token"], "user": "dave", "action": "approve"}
    )
    assert approved.status_code == 302
    assert query_of(approved.headers["Location"])["oauth_verifier"]


def test_authorize_unknown_token(peer: Peer) -> None:
    response = peer.http.get(peer.fake.authorize_url, params={"oauth_token": "nope", "user": "alice"})
    assert response.status_code == 400
    assert "unknown or used request token" in response.text


def test_oob_callback_shows_the_verifier(peer: Peer) -> None:
    creds = credentials_for(peer.fake, "HMAC-SHA1")
    temporary = obtain_request_token(peer, creds, callback="oob")
    response = peer.http.get(peer.fake.authorize_url, params={"oauth_token": temporary["oauth_token"], "user": "erin"})
    assert response.status_code == 200
    assert form(response)["oauth_token"] == temporary["oauth_token"]
    assert form(response)["oauth_verifier"]
    denied = obtain_request_token(peer, creds, callback="oob")
    refused = peer.http.get(peer.fake.authorize_url, params={"oauth_token": denied["oauth_token"], "deny": "1"})
    assert (refused.status_code, refused.text) == (200, "fake provider: access denied")


def test_callback_query_is_kept(peer: Peer) -> None:
    """oauthlib adds the verifier to the callback's own query (a bare ``flag`` gets its ``=``)."""
    fake = peer.fake
    client = OAuthlibClient(
        fake.client_id, client_secret=fake.client_secret, callback_uri="http://127.0.0.1:9/cb?flag&next=%2Fa"
    )
    uri, headers, _ = client.sign(fake.request_token_url, http_method="POST")
    temporary = form(peer.http.post(uri, headers=headers))
    location = peer.http.get(fake.authorize_url, params={"oauth_token": temporary["oauth_token"], "user": "alice"})
    assert location.headers["Location"].startswith("http://127.0.0.1:9/cb?flag=&next=%2Fa&oauth_token=")


PERCENT_CALLBACK = "http://127.0.0.1:9/cb?next=%2Fhome&x=a%20b"


def test_percent_in_the_callback_follows_rfc_5849(peer: Peer) -> None:
    """oauthlib decodes ``oauth_*`` values once (RFC 5849); Authlib's signer decodes them twice.

    An RFC-correct signature over an ``oauth_callback`` that contains ``%`` is
    accepted, Authlib's own signature of it is refused (stock Authlib's
    server makes the same mistake, see tests/interop/test_stock_authlib.py).
    """
    fake = peer.fake
    rfc = OAuthlibClient(fake.client_id, client_secret=fake.client_secret, callback_uri=PERCENT_CALLBACK)
    uri, headers, _ = rfc.sign(fake.request_token_url, http_method="POST")
    assert peer.http.post(uri, headers=headers).status_code == 200
    authlib_auth = ClientAuth(fake.client_id, fake.client_secret, redirect_uri=PERCENT_CALLBACK)
    uri, headers, _ = authlib_auth.prepare("POST", fake.request_token_url, {}, b"")
    assert peer.http.post(uri, headers=headers).status_code == 401


# --------------------------------------------------------- bodies & resources


def test_form_body_is_signed_json_body_is_not(peer: Peer) -> None:
    token = peer.fake.issue_token("alice")
    auth = token_auth(credentials_for(peer.fake, "HMAC-SHA1"), token)
    echo = peer.api("echo")

    # JSON: the signature ignores the body, so changing it keeps the request valid
    uri, headers, _ = auth.prepare("POST", echo, {"Content-Type": "application/json"}, b"")
    changed = peer.http.post(uri, headers=headers, content=json.dumps({"n": 2}))
    assert changed.status_code == 200
    assert changed.json()["json"] == {"n": 2}
    assert changed.json()["raw"] == '{"n": 2}'

    # form: the body parameters are signed, so changing them breaks the signature
    uri, headers, body = auth.prepare("POST", echo, {"Content-Type": FORM}, "n=1&n=2")
    repeated = peer.http.post(uri, headers=headers, content=body)
    assert repeated.json()["form"] == {"n": "1"}  # the suite's echo shows the first value...
    assert repeated.json()["raw"] == "n=1&n=2"  # ...of the two that were signed and verified
    uri, headers, body = auth.prepare("POST", echo, {"Content-Type": FORM}, "n=1")
    tampered = peer.http.post(uri, headers=headers, content="n=2")
    assert tampered.status_code == 401

    # other methods with a form body are signed too
    for method in ("PUT", "PATCH", "DELETE"):
        response = signed(peer.http, auth, method, echo, data={"k": "v"})
        assert response.status_code == 200, (method, response.text)
        assert response.json()["method"] == method
        assert response.json()["form"] == {"k": "v"}


def test_resource_variants(peer: Peer) -> None:
    token = peer.fake.issue_token("zoé")
    auth = token_auth(credentials_for(peer.fake, "HMAC-SHA1"), token)

    def get(path: str) -> httpx.Response:
        return signed(peer.http, auth, "GET", peer.api(path))

    xml = get("xml")
    assert xml.headers["Content-Type"].startswith("application/xml")
    assert "<name>zoé</name>" in xml.text
    assert get("form").headers["Content-Type"] == FORM
    assert form(get("form")) == {"user": "zoé", "status": "ok"}
    text = get("text")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert text.text == "hello zoé"
    assert get("status/503").status_code == 503
    default = get("path/caf%C3%A9/x%2Fy")  # no route: the default answer
    assert (default.json()["path"], default.json()["screen_name"]) == ("path/café/x/y", "zoé")
    assert get("me?q=caf%C3%A9&w=it%27s").json()["args"] == {"q": "café", "w": "it's"}
    slow = get("slow?ms=50")
    assert slow.json()["slept_ms"] == 50
    assert slow.json()["user"] == "zoé"


def test_public_endpoint_reports_authorization_header(peer: Peer) -> None:
    assert peer.http.get(peer.api("public")).json()["authorization"] is False
    auth = credentials_for(peer.fake, "HMAC-SHA1").auth()
    assert signed(peer.http, auth, "GET", peer.api("public")).json()["authorization"] is True


def test_runtime_consumer_and_revocation(peer: Peer) -> None:
    fake = peer.fake
    key = fake.add_consumer("s&cret =%")
    token = fake.issue_token("frank", consumer=key)
    auth = ClientAuth(key, "s&cret =%", token=token["oauth_token"], token_secret=token["oauth_token_secret"])
    assert signed(peer.http, auth, "GET", peer.api("me")).json()["client_id"] == key
    assert fake.revoke("frank") == 1
    revoked = signed(peer.http, auth, "GET", peer.api("me"))
    assert revoked.status_code == 401
    assert fake.user_of(token["oauth_token"]) is None
    with pytest.raises(ValueError, match="20 to 30 letters and digits"):
        fake.add_consumer("x", key="client-two")
    with pytest.raises(ValueError, match="a secret, an RSA public key, or both"):
        fake.add_consumer()
    with pytest.raises(ValueError, match="unknown consumer"):
        fake.issue_token("alice", consumer="nobodyknowsthisconsumer")


def test_realms_the_provider_has(peer: Peer) -> None:
    """oauthlib refuses a request token for a realm the provider does not list (the suite's lists "photos")."""
    assert peer.fake.realms == ("photos",)
    creds = credentials_for(peer.fake, "HMAC-SHA1")
    granted = signed(peer.http, creds.auth(redirect_uri=CALLBACK, realm="photos"), "POST", peer.fake.request_token_url)
    assert granted.status_code == 200, granted.text
    refused = signed(peer.http, creds.auth(redirect_uri=CALLBACK, realm="music"), "POST", peer.fake.request_token_url)
    assert refused.status_code == 400
    assert "music" in form(refused)["error_description"]


# ------------------------------------------------------- scripted behaviour


def test_callback_confirmed_switch(peer: Peer) -> None:
    creds = credentials_for(peer.fake, "HMAC-SHA1")
    peer.fake.set_callback_confirmed(False)
    assert obtain_request_token(peer, creds)["oauth_callback_confirmed"] == "false"
    peer.fake.set_callback_confirmed(None)
    assert "oauth_callback_confirmed" not in obtain_request_token(peer, creds)
    peer.fake.reset()
    assert obtain_request_token(peer, creds)["oauth_callback_confirmed"] == "true"


@pytest.mark.parametrize("endpoint", ["request_token", "access_token"])
def test_canned_answers_of_the_token_endpoints(peer: Peer, endpoint: str) -> None:
    fake = peer.fake
    creds = credentials_for(fake, "HMAC-SHA1")
    temporary = obtain_request_token(peer, creds)
    verifier = authorize(peer, temporary["oauth_token"])["oauth_verifier"]

    def call() -> httpx.Response:
        if endpoint == "request_token":
            return signed(peer.http, creds.auth(redirect_uri=CALLBACK), "POST", fake.request_token_url)
        return exchange(peer, creds, temporary, verifier)

    fake.fail_next(endpoint, 500)
    error = call()
    assert error.status_code == 500
    assert error.text == f"fake provider: scripted 500 from {endpoint}"
    assert error.headers["Content-Type"].startswith("text/plain")

    fake.answer_next(endpoint, "<html>oops</html>")
    html = call()
    assert html.status_code == 200
    assert html.text == "<html>oops</html>"
    assert html.headers["Content-Type"].startswith("text/html")

    fake.answer_next(endpoint, "maintenance", status=503, content_type="text/plain", headers={"Retry-After": "7"})
    plain = call()
    assert (plain.status_code, plain.text, plain.headers["Content-Type"]) == (503, "maintenance", "text/plain")
    assert plain.headers["Retry-After"] == "7"

    fake.answer_next(endpoint, "oauth_problem=busy", status=429, times=2)
    assert [call().status_code for _ in range(2)] == [429, 429]

    # canned answers consume nothing: the request token is still there, and the real flow works afterwards
    assert fake.token_secret(temporary["oauth_token"]) == temporary["oauth_token_secret"]
    real = call()
    assert real.status_code == 200, real.text
    assert ("screen_name" in form(real)) == (endpoint == "access_token")
    statuses = [c.status for c in fake.received(endpoint)]
    assert statuses[-6:] == [500, 200, 503, 429, 429, 200]


def test_canned_answers_until_reset(peer: Peer) -> None:
    creds = credentials_for(peer.fake, "HMAC-SHA1")
    peer.fake.fail_next("request_token", 503, times=None)
    auth = creds.auth(redirect_uri=CALLBACK)
    assert [signed(peer.http, auth, "POST", peer.fake.request_token_url).status_code for _ in range(3)] == [503] * 3
    peer.fake.reset()
    assert signed(peer.http, auth, "POST", peer.fake.request_token_url).status_code == 200
    with pytest.raises(ValueError, match="at least 1"):
        peer.fake.answer_next("request_token", times=0)


def test_an_api_failure_still_checks_the_signature(peer: Peer) -> None:
    token = peer.fake.issue_token("alice")
    auth = token_auth(credentials_for(peer.fake, "HMAC-SHA1"), token)
    peer.fake.fail_next("api", 429, times=2, headers={"Retry-After": "0"})
    statuses = [signed(peer.http, auth, "GET", peer.api("me")).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    calls = peer.fake.received("api", "me")
    assert [(c.status, c.valid) for c in calls] == [(429, True), (429, True), (200, True)]
    assert calls[0].status == 429
    uri, headers, _ = auth.prepare("GET", peer.api("me"), {}, b"")
    peer.fake.fail_next("api", 429)
    assert peer.http.get(uri, headers=headers).status_code == 429
    assert peer.http.get(uri, headers=headers).status_code == 401  # its nonce was used by the refused call


def test_clock_offset_refuses_with_the_acceptable_timestamps(peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    import authlib.oauth1.rfc5849.client_auth as client_auth

    fake = peer.fake
    creds = credentials_for(fake, "HMAC-SHA1")
    token = fake.issue_token("alice")
    fake.set_clock_offset(3600)  # the provider's clock is an hour ahead
    refused = signed(peer.http, creds.auth(redirect_uri=CALLBACK), "POST", fake.request_token_url)
    assert refused.status_code == 401
    answer = form(refused)
    assert answer["oauth_problem"] == "timestamp_refused"
    low, high = (int(part) for part in answer["oauth_acceptable_timestamps"].split("-"))
    assert high - low == 1200
    assert low <= int(time.time()) + 3600 <= high  # a window of oauthlib's ten minutes around its clock
    api = signed(peer.http, token_auth(creds, token), "GET", peer.api("me"))
    assert (api.status_code, form(api)["oauth_problem"]) == (401, "timestamp_refused")

    # A client that follows the provider's clock is accepted, although oauthlib's own window is the real clock's.
    monkeypatch.setattr(client_auth, "generate_timestamp", lambda: str(int(time.time()) + 3600))
    assert signed(peer.http, creds.auth(redirect_uri=CALLBACK), "POST", fake.request_token_url).status_code == 200
    assert signed(peer.http, token_auth(creds, token), "GET", peer.api("me")).status_code == 200
    fake.reset()  # back to the real clock: that timestamp is an hour in the future now
    stale = signed(peer.http, creds.auth(redirect_uri=CALLBACK), "POST", fake.request_token_url)
    assert stale.status_code == 400
    assert "Timestamp" in form(stale)["error_description"]


def test_received_records_and_reset(peer: Peer) -> None:
    fake = peer.fake
    full_dance(peer, credentials_for(fake, "HMAC-SHA1"))
    assert [c.endpoint for c in fake.received()] == ["request_token", "authorize", "access_token"]
    assert len(fake.received("request_token")) == 1
    assert len(fake.received("api", "never")) == 0
    exchange_call = last(fake, "access_token")
    assert exchange_call.path == "/oauth/access_token"
    assert exchange_call.url == fake.access_token_url
    assert exchange_call.user == "alice"
    assert exchange_call.consumer_key == fake.client_id
    assert exchange_call.headers["Host"] == urlsplit(fake.url).netloc
    with pytest.raises(ValueError, match="unknown endpoint"):
        fake.received("nope")
    fake.reset()
    assert fake.received() == []
    assert fake.calls == []
    assert fake.token_requests == []


def test_prefix_routes(peer: Peer) -> None:
    fake = peer.fake
    token = fake.issue_token("alice")
    auth = token_auth(credentials_for(fake, "HMAC-SHA1"), token)
    fake.respond("v2/*", {"from": "v2/*"})
    fake.respond("v2/users/*", {"from": "v2/users/*"})
    fake.respond("v2/users/me", {"from": "exact"})
    fake.respond("v2/*", {"from": "v2/* POST"}, method="POST")

    def answer(method: str, path: str) -> Any:
        return signed(peer.http, auth, method, peer.api(path)).json()["from"]

    assert answer("GET", "v2/users/me") == "exact"
    assert answer("GET", "v2/users/42") == "v2/users/*"
    assert answer("GET", "v2/tweets") == "v2/*"
    assert answer("POST", "v2/tweets") == "v2/* POST"
    assert "from" not in signed(peer.http, auth, "GET", peer.api("v3")).json()  # no route: the default answer


def test_non_json_routes_need_a_content_type(peer: Peer) -> None:
    with pytest.raises(ValueError, match="content_type"):
        peer.fake.respond("raw", body="<x/>")


# ----------------------------------------------------------- connections


def test_keep_alive_uses_one_connection(any_peer: Peer) -> None:
    fake = any_peer.fake
    token = fake.issue_token("alice")
    auth = token_auth(credentials_for(fake, "HMAC-SHA1"), token)
    for _ in range(20):
        assert any_peer.http.get(any_peer.api("public")).status_code == 200
    for _ in range(20):
        assert signed(any_peer.http, auth, "GET", any_peer.api("me")).status_code == 200
    assert fake.connections == 1
    assert len({c.connection for c in fake.calls}) == 1
    assert len(fake.calls) == 40
    with httpx.Client(trust_env=False, verify=fake.ssl_context or True) as other:
        assert other.get(any_peer.api("public")).status_code == 200
    assert fake.connections == 2
    assert fake.calls[-1].connection != fake.calls[0].connection
    fake.reset_counters()
    assert fake.connections == 0
    assert len(fake.calls) == 41  # the records stay


def test_max_in_flight_measures_overlap(peer: Peer) -> None:
    fake = peer.fake
    token = fake.issue_token("alice")
    assert fake.max_in_flight == 0
    creds = credentials_for(fake, "HMAC-SHA1")

    def slow_call(_: int) -> int:
        return signed(peer.http, token_auth(creds, token), "GET", peer.api("slow?ms=300")).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(slow_call, range(5)))
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 5
    assert fake.max_in_flight >= 5  # counted overlap; wall time is not asserted
    print(f"[fake provider] 5 x 300 ms in parallel took {elapsed:.2f} s (not asserted)")
    assert fake.in_flight == 0

    fake.reset_counters()
    for _ in range(3):
        peer.http.get(peer.api("public"))
    assert fake.max_in_flight == 1  # sequential calls never overlap


# ----------------------------------------------------------- the extra


@pytest.mark.parametrize("missing", ["trustme", "oauthlib"])
def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name in list(sys.modules):
        if name == missing or name.startswith(missing + "."):
            monkeypatch.setitem(sys.modules, name, None)  # "import" now raises ImportError
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(ImportError, match=r'pip install "flask_oauth1_async\[testing\]"') as info:
        FakeProvider()
    assert missing in str(info.value)
    if missing == "trustme":  # plain HTTP needs no certificate authority
        FakeProvider(tls=False)
