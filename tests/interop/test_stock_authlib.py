"""Our client against Authlib's stock Flask OAuth 1 provider, used as shipped.

The provider below is ``authlib.integrations.flask_oauth1.AuthorizationServer``
and ``ResourceProtector`` exactly as Authlib ships them: nothing is
subclassed or patched. This file only supplies what they ask the
application for: a client lookup, the temporary-credential and token
storage hooks, a nonce check and a token lookup. The signature methods
offered are chosen with Authlib's own ``OAUTH1_SUPPORTED_SIGNATURE_METHODS``
config key (its default is HMAC-SHA1 alone); Authlib's server implements
HMAC-SHA1, RSA-SHA1 and PLAINTEXT, so those three run, in all three
placements (header, query, form body), each in a ``def`` and an ``async def``
view, with the whole dance and the signed calls of :mod:`tests.interop._client`.
Plain HTTP is fine: Authlib accepts ``http://`` for loopback hosts.

Known bugs of stock Authlib (1.9.10), kept out of the payloads here rather than
worked around in our output (NOTES.md section 9):

* it signs werkzeug's ``request.url``, an IRI in which ``%24``, ``%27``,
  ``%5B``... are decoded again, and its ``url_decode`` then refuses any
  character outside ``A-Za-z0-9_.-=&;:%+~,*@!()/?``: a query with non-ASCII
  characters, ``'``, ``$``, ``[`` or ``]`` makes ``OAuth1Request`` raise
  ``ValueError``, a 500. The GET here uses :data:`STOCK_QUERY` (spaces,
  ``+``, ``/``, ``?``, ``&``, ``=`` and the reserved characters Authlib
  lets through) instead of ``ODD_QUERY``; ``test_authlib_bug_query_characters``
  pins the bug so we notice when Authlib fixes it;
* it decodes ``oauth_*`` values twice, so a callback URL containing ``%`` is
  refused (401): the callbacks here have none;
  ``test_authlib_bug_percent_in_oauth_values`` pins it;
* it collapses repeated form keys (``to_dict(flat=True)``), so a form with a
  repeated key is refused (401): the forms here have distinct keys;
  ``test_authlib_bug_repeated_form_keys`` pins it;
* its resource protector puts the text fields of a multipart body into the
  base string, which RFC 5849 (section 3.4.1.3) leaves out, so a multipart
  upload signed by the RFC is refused (401):
  ``test_authlib_bug_multipart_fields_in_the_signature`` pins it.

In each of those, our requests follow RFC 5849 (what oauthlib's endpoints, the
fake provider, and most servers accept): each pinning test sends the same
request to the fake provider too, which accepts it.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from authlib.integrations.flask_oauth1 import AuthorizationServer, ResourceProtector, current_credential
from authlib.oauth1 import ClientAuth, ClientMixin, TemporaryCredential
from authlib.oauth1.rfc5849.models import TokenCredentialMixin
from flask import Flask, Response, jsonify, request

from flask_oauth1_async import OAuth, ProviderHTTPError
from flask_oauth1_async.testing import FakeProvider
from tests.interop._client import ODD_QUERY, calls_for, make_client_app
from tests.support.browser import Browser
from tests.support.fake import last, register_settings
from tests.support.keys import RSA_PRIVATE, RSA_PUBLIC
from tests.support.servers import ServerThread
from tests.support.views import PREFIX, VIEW_KINDS

METHODS = ["HMAC-SHA1", "RSA-SHA1", "PLAINTEXT"]
PLACEMENTS = ["header", "query", "body"]
#: the query of the signed GET: what stock Authlib can read (see the module docstring).
STOCK_QUERY = {"q": "a b+c/d?e&f=g", "r": "!*();:@,~"}


class Consumer(ClientMixin):  # type: ignore[misc]
    """A registered consumer, as Authlib's ``ClientMixin`` asks for it."""

    def __init__(self, client_id: str, secret: str | None, public_key: str | None) -> None:
        self.client_id = client_id
        self.secret = secret
        self.public_key = public_key

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_client_secret(self) -> str:
        return self.secret or ""

    def get_rsa_public_key(self) -> str | None:
        return self.public_key


class Token(TokenCredentialMixin):  # type: ignore[misc]
    def __init__(self, client_id: str, token: str, secret: str, user: str) -> None:
        self.client_id = client_id
        self.token = token
        self.secret = secret
        self.user = user

    def get_oauth_token(self) -> str:
        return self.token

    def get_oauth_token_secret(self) -> str:
        return self.secret


@dataclass
class Storage:
    consumers: dict[str, Consumer] = field(default_factory=dict)
    temporary: dict[str, TemporaryCredential] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    nonces: set[tuple[str, str | None, str | None, str | None]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_consumer(self, secret: str | None, public_key: str | None = None) -> str:
        client_id = "c" + secrets.token_hex(8)
        with self.lock:
            self.consumers[client_id] = Consumer(client_id, secret, public_key)
        return client_id

    # -- the callbacks Authlib's server and protector require ---------------

    def query_client(self, client_id: str) -> Consumer | None:
        with self.lock:
            return self.consumers.get(client_id)

    def exists_nonce(self, nonce: str, timestamp: str | None, client_id: str | None, token: str | None) -> bool:
        entry = (nonce, timestamp, client_id, token)
        with self.lock:
            if entry in self.nonces:
                return True
            self.nonces.add(entry)
            return False

    def create_temporary_credential(self, token: dict[str, str], client_id: str, redirect_uri: str) -> Any:
        credential = TemporaryCredential(token, client_id=client_id, oauth_callback=redirect_uri)
        with self.lock:
            self.temporary[token["oauth_token"]] = credential
        return credential

    def get_temporary_credential(self, oauth_token: str) -> Any:
        with self.lock:
            return self.temporary.get(oauth_token)

    def delete_temporary_credential(self, oauth_token: str) -> None:
        with self.lock:
            self.temporary.pop(oauth_token, None)

    def create_authorization_verifier(self, credential: Any, user: str, verifier: str) -> None:
        credential["user_id"] = user
        credential["oauth_verifier"] = verifier

    def create_token_credential(self, token: dict[str, str], temporary: Any) -> Token:
        issued = Token(
            temporary.get_client_id(), token["oauth_token"], token["oauth_token_secret"], temporary["user_id"]
        )
        with self.lock:
            self.tokens[issued.token] = issued
        return issued

    def query_token(self, client_id: str, oauth_token: str) -> Token | None:
        with self.lock:
            found = self.tokens.get(oauth_token)
        return found if found is not None and found.client_id == client_id else None


def create_stock_provider() -> tuple[Flask, Storage]:
    storage = Storage()
    app = Flask("stock-authlib-provider")
    app.config["OAUTH1_SUPPORTED_SIGNATURE_METHODS"] = METHODS
    server = AuthorizationServer(app, query_client=storage.query_client)
    for hook in (
        "exists_nonce",
        "create_temporary_credential",
        "get_temporary_credential",
        "delete_temporary_credential",
        "create_authorization_verifier",
        "create_token_credential",
    ):
        server.register_hook(hook, getattr(storage, hook))
    require_oauth = ResourceProtector(
        app, query_client=storage.query_client, query_token=storage.query_token, exists_nonce=storage.exists_nonce
    )

    @app.post("/request_token")
    def request_token() -> Response:
        return server.create_temporary_credentials_response()  # type: ignore[no-any-return]

    @app.get("/authorize")
    def authorize() -> Response:
        user = request.args.get("user")
        if not user:
            return Response("consent needed: add ?user=NAME", status=400)
        return server.create_authorization_response(grant_user=user)  # type: ignore[no-any-return]

    @app.post("/access_token")
    def access_token() -> Response:
        return server.create_token_response()  # type: ignore[no-any-return]

    @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @require_oauth()
    def api(rest: str) -> Response:
        return jsonify(
            path=rest,
            method=request.method,
            user=current_credential.user,
            args=list(request.args.items(multi=True)),
            form=list(request.form.items(multi=True)),
            body=request.get_data(as_text=True) if not request.form else None,
        )

    return app, storage


@pytest.fixture(scope="module")
def stock_server() -> Iterator[tuple[ServerThread, Storage]]:
    app, storage = create_stock_provider()
    with ServerThread(app, name="stock-authlib") as server:
        yield server, storage


def _register(server: ServerThread, storage: Storage, method: str, placement: str) -> dict[str, Any]:
    is_rsa = method == "RSA-SHA1"
    secret = None if is_rsa else secrets.token_urlsafe(18)
    client_id = storage.add_consumer(secret, RSA_PUBLIC if is_rsa else None)
    client_kwargs: dict[str, Any] = {"signature_method": method, "signature_type": placement}
    if is_rsa:
        client_kwargs["rsa_key"] = RSA_PRIVATE
    return {
        "client_id": client_id,
        "client_secret": secret,
        "request_token_url": server.url + "/request_token",
        "authorize_url": server.url + "/authorize",
        "access_token_url": server.url + "/access_token",
        "api_base_url": server.url + "/",
        "client_kwargs": client_kwargs,
    }


@pytest.mark.parametrize("view", VIEW_KINDS)
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", METHODS)
def test_dance_and_calls(stock_server: tuple[ServerThread, Storage], method: str, placement: str, view: str) -> None:
    server, storage = stock_server
    app, oauth = make_client_app(_register(server, storage, method, placement), placement, STOCK_QUERY)
    with ServerThread(app, name="stock-authlib-client") as client, Browser() as browser:
        try:
            login = browser.login_via(client.url + PREFIX[view] + "/login", user="alice")
            assert login.response.status_code == 200, login.response.text
            token = login.response.json()
            assert token["oauth_token"] in storage.tokens
            calls = browser.get(
                client.url + PREFIX[view] + "/calls",
                params={"t": token["oauth_token"], "s": token["oauth_token_secret"]},
            )
            assert calls.status_code == 200, calls.text
            results = calls.json()
        finally:
            oauth.close()
    expected = calls_for(placement, STOCK_QUERY)
    assert [r["method"] for r in results] == [m for m, _ in expected]
    for result, (_, kwargs) in zip(results, expected, strict=True):
        assert result["status"] == 200, result
        body = result["body"]
        assert body["user"] == "alice"
        if "params" in kwargs:
            got = {k: v for k, v in body["args"] if not k.startswith("oauth_")}
            assert got == kwargs["params"]
        if "data" in kwargs:
            got = {k: v for k, v in body["form"] if not k.startswith("oauth_")}
            assert got == kwargs["data"]
        if "json" in kwargs:
            assert json.loads(body["body"]) == kwargs["json"]


@pytest.mark.parametrize("odd", ["'", "$", "[]", "é"])
def test_authlib_bug_query_characters(stock_server: tuple[ServerThread, Storage], odd: str) -> None:
    """Pins stock Authlib's bug: an RFC-correct signed GET whose query has *odd* in it gets a 500.

    oauthlib's endpoints accept the same requests (tests/interop/test_oauthlib_provider.py
    sends ODD_QUERY). When this starts answering 200, Authlib has fixed it: use ODD_QUERY above.
    """
    assert set(odd) <= set("".join(ODD_QUERY.values()))  # each probe is a character ODD_QUERY carries
    server, storage = stock_server
    client_id = storage.add_consumer("s3cret")
    token = "t" + secrets.token_hex(8)
    with storage.lock:
        storage.tokens[token] = Token(client_id, token, "toksecret", "alice")
    app = Flask("bug-probe")
    app.secret_key = "x"
    oauth = OAuth(app)
    oauth.register("peer", client_id=client_id, client_secret="s3cret", api_base_url=server.url + "/")
    tok = {"oauth_token": token, "oauth_token_secret": "toksecret"}
    try:
        with app.test_request_context():
            handled = oauth.peer.get_sync("api/x", token=tok, params=STOCK_QUERY)
            refused = oauth.peer.get_sync("api/x", token=tok, params={"q": f"a{odd}b"})
    finally:
        oauth.close()
    assert handled.status_code == 200, handled.text
    # The bug needs Werkzeug's request.url to decode %24, %27, %5B and %5D (newer
    # Werkzeug does; 2.0 keeps them encoded, and then stock Authlib accepts them).
    assert refused.status_code == (500 if _werkzeug_decodes(odd) else 200), refused.text


@contextmanager
def _probe(server: ServerThread, storage: Storage) -> Iterator[tuple[Flask, OAuth, dict[str, str]]]:
    """A client app with the remote ``peer`` at the stock provider, and an access token it issued."""
    client_id = storage.add_consumer("s3cret")
    token = "t" + secrets.token_hex(8)
    with storage.lock:
        storage.tokens[token] = Token(client_id, token, "toksecret", "alice")
    app = Flask("bug-probe")
    app.secret_key = "x"
    oauth = OAuth(app)
    oauth.register(
        "peer",
        client_id=client_id,
        client_secret="s3cret",
        request_token_url=server.url + "/request_token",
        authorize_url=server.url + "/authorize",
        access_token_url=server.url + "/access_token",
        api_base_url=server.url + "/",
    )
    try:
        yield app, oauth, {"oauth_token": token, "oauth_token_secret": "toksecret"}
    finally:
        oauth.close()


PERCENT_CALLBACK = "http://127.0.0.1:9/cb?next=%2Fhome&x=a%20b"


def test_authlib_bug_percent_in_oauth_values(
    stock_server: tuple[ServerThread, Storage], provider: FakeProvider
) -> None:
    """Pins stock Authlib's bug: it decodes ``oauth_*`` values twice when it builds the base string.

    RFC 5849 section 3.4.1.3.1 decodes each parameter once. Our request for a
    request token whose ``oauth_callback`` contains ``%`` is signed that way:
    stock Authlib refuses it (401), while Authlib's own signer, which makes the
    same double decoding, is accepted. oauthlib (the fake provider) accepts
    ours. When the first assertion fails, Authlib has fixed it.
    """
    server, storage = stock_server
    with _probe(server, storage) as (app, oauth, _):
        with app.test_request_context("/login"), pytest.raises(ProviderHTTPError) as refused:
            oauth.peer.authorize_redirect_sync(PERCENT_CALLBACK)
        assert refused.value.status_code == 401
        consumer = oauth.peer.client_id
        assert consumer is not None
    authlib_signed = ClientAuth(consumer, "s3cret", redirect_uri=PERCENT_CALLBACK)
    uri, headers, _ = authlib_signed.prepare("POST", server.url + "/request_token", {}, b"")
    with httpx.Client(trust_env=False, timeout=10) as http:
        assert http.post(uri, headers=headers).status_code == 200
    with _fake_remote(provider) as (app, oauth):
        with app.test_request_context("/login"):
            accepted = oauth.fake.authorize_redirect_sync(PERCENT_CALLBACK)
        assert accepted.status_code == 302
    assert last(provider, "request_token").valid


def test_authlib_bug_repeated_form_keys(stock_server: tuple[ServerThread, Storage], provider: FakeProvider) -> None:
    """Pins stock Authlib's bug: it signs ``request.form.to_dict(flat=True)``, one value per key.

    RFC 5849 section 3.4.1.3 signs every parameter, repeated keys included:
    our form POST with ``a=1&a=2`` is refused by stock Authlib (401) and
    accepted by oauthlib (the fake provider).
    """
    server, storage = stock_server
    with _probe(server, storage) as (app, oauth, tok), app.test_request_context():
        assert oauth.peer.post_sync("api/x", token=tok, data={"a": "solo"}).status_code == 200
        refused = oauth.peer.post_sync("api/x", token=tok, data={"a": ["1", "2"]})
    assert refused.status_code == 401, refused.text
    with _fake_remote(provider) as (app, oauth), app.test_request_context():
        accepted = oauth.fake.post_sync("echo", token=provider.issue_token(), data={"a": ["1", "2"]})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["raw"] == "a=1&a=2"


def test_authlib_bug_multipart_fields_in_the_signature(
    stock_server: tuple[ServerThread, Storage], provider: FakeProvider
) -> None:
    """Pins stock Authlib's bug: its resource protector signs the text fields of a multipart body.

    RFC 5849 section 3.4.1.3 signs a body only when it is
    ``application/x-www-form-urlencoded``; our multipart upload is signed that
    way: stock Authlib refuses it (401), oauthlib (the fake provider) accepts it.
    """
    upload: dict[str, Any] = {"data": {"title": "a photo"}, "files": {"photo": ("p.jpg", b"\xff" * 16)}}
    server, storage = stock_server
    with _probe(server, storage) as (app, oauth, tok), app.test_request_context():
        refused = oauth.peer.post_sync("api/x", token=tok, **upload)
    assert refused.status_code == 401, refused.text
    with _fake_remote(provider) as (app, oauth), app.test_request_context():
        accepted = oauth.fake.post_sync("echo", token=provider.issue_token(), **upload)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["content_type"].startswith("multipart/form-data")


@contextmanager
def _fake_remote(provider: FakeProvider) -> Iterator[tuple[Flask, OAuth]]:
    app = Flask("fake-probe")
    app.secret_key = "x"
    oauth = OAuth(app)
    oauth.register("fake", **register_settings(provider))
    try:
        yield app, oauth
    finally:
        oauth.close()


def test_loopback_http_is_secure_without_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why plain HTTP works here: Authlib needs ``AUTHLIB_INSECURE_TRANSPORT`` only for non-loopback hosts."""
    from authlib.common.security import is_secure_transport

    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    assert is_secure_transport("http://127.0.0.1:5000/x")
    assert is_secure_transport("http://localhost:5000/x")
    assert not is_secure_transport("http://provider.example/x")
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    assert is_secure_transport("http://provider.example/x")


def _werkzeug_decodes(odd: str) -> bool:
    """Whether this Werkzeug's ``request.url`` shows *odd* decoded (what trips Authlib's url_decode)."""
    from urllib.parse import quote

    probe = Flask("werkzeug-probe")
    with probe.test_request_context("/x?q=" + quote(f"a{odd}b", safe="")):
        from flask import request

        return f"a{odd}b" in request.url
