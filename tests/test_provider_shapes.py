"""Provider shapes still in use, each against a local provider that behaves as documented.

Signatures are checked by oauthlib, not by us: consumer-only calls by its
``SignatureOnlyEndpoint`` with a validator that keeps every default check
(nonce format, timestamp window, key format, TLS), and the shapes oauthlib's
endpoints do not model (a multipart body whose text fields are signed, as
Flickr's upload API wants) by a base string built with oauthlib's own
``signature`` helpers. The provider runs over HTTPS on 127.0.0.1, because
oauthlib refuses plain HTTP by default.

Shapes covered, each in a ``def`` and an ``async def`` view:

* consumer-only ("two-legged") signing: WooCommerce (query signing over
  HTTP), LTI 1.1 launches, Jira and Schoology two-legged calls; with an empty
  ``oauth_token`` where a provider wants one present;
* ``oauth_body_hash`` for JSON bodies (LTI 1.1 outcomes, Mastercard);
* multipart uploads with signed text fields (Flickr);
* E*TRADE's authorize URL (``?key=<consumer key>&token=<request token>``);
* legacy OAuth 1.0 providers that send no ``oauth_verifier`` (TripIt);
* redirects re-signed hop by hop, never signed for another host.

Two behaviours every provider may show run against the suite's fake provider
(:class:`flask_oauth1_async.testing.FakeProvider`, ``provider`` of
``tests/conftest.py``) and its controls instead:

* clock skew (``set_clock_offset``): a timestamp offset, and the error that
  explains a refusal;
* rate limits (``fail_next`` with ``Retry-After``): the typed error, and the
  opt-in retry policy signing every attempt with a fresh nonce.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from flask import Flask, Response, jsonify, request
from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849 import signature as oauthlib_signature

from flask_oauth1_async import (
    OAuth,
    ProviderHTTPError,
    RateLimitedError,
    RetryPolicy,
)
from flask_oauth1_async.testing import FakeProvider
from tests.support.fake import register_settings
from tests.support.insecure import warns_insecure
from tests.support.servers import ServerThread, TLSMaterial, make_tls
from tests.support.views import PREFIX, VIEW_KINDS

CONSUMER_KEY = "shapesConsumerKey2024abc"  # oauthlib's default format: 20-30 letters and digits
CONSUMER_SECRET = "shapesConsumerSecret"


class TwoLeggedValidator(RequestValidator):
    """oauthlib's validator with only the storage it needs: one consumer, a nonce set."""

    def __init__(self, nonces: set[tuple[str, str]]) -> None:
        super().__init__()
        self._nonces = nonces
        self._lock = threading.Lock()

    @property
    def dummy_client(self) -> str:
        return "dummyClientKeyForTiming1"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == CONSUMER_KEY

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return CONSUMER_SECRET

    def validate_timestamp_and_nonce(self, client_key: str, timestamp: str, nonce: str, request: Any, **_: Any) -> bool:
        with self._lock:
            if (timestamp, nonce) in self._nonces:
                return False
            self._nonces.add((timestamp, nonce))
            return True


@dataclass
class ShapesState:
    """What the shapes provider saw."""

    nonces: set[tuple[str, str]] = field(default_factory=set)
    seen: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Secrets:
    """The two attributes oauthlib's signing helpers read from a client."""

    client_secret: str
    resource_owner_secret: str


def _raw_uri() -> str:
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return f"{request.scheme}://{request.host}{target}"


def _oauth_fields() -> dict[str, str]:
    header = request.headers.get("Authorization")
    headers = {"Authorization": header} if header else {}
    fields = dict(oauthlib_signature.collect_parameters(headers=headers, exclude_oauth_signature=False))
    fields.update((k, v) for k, v in request.args.items() if k.startswith("oauth_"))
    return fields


def create_shapes_provider() -> tuple[Flask, ShapesState]:
    """A provider with one route per shape; every signature is checked with oauthlib."""
    state = ShapesState()
    endpoint = SignatureOnlyEndpoint(TwoLeggedValidator(state.nonces))
    app = Flask("shapes-provider")

    def verified() -> tuple[bool, dict[str, str]]:
        body = request.get_data(as_text=True)
        ok, _ = endpoint.validate_request(_raw_uri(), request.method, body, dict(request.headers))
        fields = _oauth_fields()
        state.seen.append({"path": request.path, "ok": ok, "oauth": fields})
        return ok, fields

    @app.route("/two-legged/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    def two_legged(rest: str) -> Response:
        ok, fields = verified()
        if not ok:
            return Response("oauth_problem=signature_invalid", status=401)
        return jsonify(path=rest, has_token="oauth_token" in fields, token=fields.get("oauth_token"))

    @app.post("/outcomes")
    def outcomes() -> Response:  # LTI 1.1 outcomes: a JSON/XML body with oauth_body_hash
        ok, fields = verified()
        expected = base64.b64encode(hashlib.sha1(request.get_data()).digest()).decode()  # noqa: S324 - the spec's hash
        if not ok or fields.get("oauth_body_hash") != expected:
            return Response("oauth_problem=signature_invalid", status=401)
        return jsonify(body_hash=fields["oauth_body_hash"])

    @app.post("/upload")
    def upload() -> Response:  # Flickr: the text fields of a multipart body are signed
        fields = _oauth_fields()
        params = [(k, v) for k, v in fields.items() if k != "oauth_signature"]
        params += list(request.form.items(multi=True))
        base = oauthlib_signature.signature_base_string(
            "POST",
            oauthlib_signature.base_string_uri(_raw_uri()),
            oauthlib_signature.normalize_parameters(params),
        )
        expected = oauthlib_signature.sign_hmac_sha1_with_client(base, _Secrets(CONSUMER_SECRET, ""))
        ok = unquote(fields.get("oauth_signature", "")) == expected
        state.seen.append({"path": request.path, "ok": ok, "oauth": fields})
        if not ok:
            return Response("oauth_problem=signature_invalid", status=401)
        return jsonify(title=request.form["title"], photo=len(request.files["photo"].read()))

    @app.get("/hop/<int:left>")
    def hop(left: int) -> Response:
        ok, _ = verified()
        if not ok:
            return Response("oauth_problem=signature_invalid", status=401)
        if left == 0:
            return jsonify(arrived=True)
        return Response(status=302, headers={"Location": f"/hop/{left - 1}"})

    @app.get("/away")
    def away() -> Response:
        ok, _ = verified()
        return Response(status=302 if ok else 401, headers={"Location": request.args["to"]})

    @app.post("/etrade/request_token")
    def etrade_request_token() -> Response:
        return Response("oauth_token=etrade%2Frt&oauth_token_secret=rs&oauth_callback_confirmed=true")

    @app.post("/legacy/request_token")
    def legacy_request_token() -> Response:  # OAuth 1.0: no oauth_callback_confirmed
        return Response("oauth_token=legacyrt&oauth_token_secret=legacyrs")

    @app.post("/legacy/access_token")
    def legacy_access_token() -> Response:
        fields = _oauth_fields()
        params = [(k, v) for k, v in fields.items() if k != "oauth_signature"]
        base = oauthlib_signature.signature_base_string(
            "POST",
            oauthlib_signature.base_string_uri(_raw_uri()),
            oauthlib_signature.normalize_parameters(params),
        )
        expected = oauthlib_signature.sign_hmac_sha1_with_client(base, _Secrets(CONSUMER_SECRET, "legacyrs"))
        state.seen.append({"path": request.path, "oauth": fields})
        if unquote(fields.get("oauth_signature", "")) != expected or fields.get("oauth_token") != "legacyrt":
            return Response("oauth_problem=signature_invalid", status=401)
        return Response("oauth_token=at&oauth_token_secret=as&user=tripper")

    return app, state


@dataclass
class Shapes:
    server: ServerThread
    state: ShapesState
    tls: TLSMaterial

    @property
    def url(self) -> str:
        return self.server.url

    def register(self, oauth: OAuth, name: str = "shape", **settings: Any) -> Any:
        client_kwargs = {"verify": self.tls.client_context, **settings.pop("client_kwargs", {})}
        return oauth.register(
            name,
            client_id=CONSUMER_KEY,
            client_secret=CONSUMER_SECRET,
            api_base_url=self.url,
            client_kwargs=client_kwargs,
            **settings,
        )


@pytest.fixture(scope="module")
def _shapes_server() -> Iterator[Shapes]:
    app, state = create_shapes_provider()
    with make_tls() as tls, ServerThread(app, ssl_context=tls.server_context, name="shapes") as server:
        yield Shapes(server, state, tls)


@pytest.fixture
def shapes(_shapes_server: Shapes) -> Shapes:
    state = _shapes_server.state
    state.seen.clear()
    return _shapes_server


_registries: list[OAuth] = []


@pytest.fixture(autouse=True)
def _close_registries() -> Iterator[None]:
    yield
    while _registries:
        _registries.pop().close()


def _app(**oauth_kwargs: Any) -> tuple[Flask, OAuth]:
    app = Flask("shapes-client")
    app.secret_key = "shapes-test-key"
    oauth = OAuth(app, **oauth_kwargs)
    _registries.append(oauth)
    return app, oauth


def _call(app: Flask, kind: str, call: Any) -> Any:
    """Run *call(remote-call-kind)* inside a real request of *app*, in a def or an async def view."""
    box: dict[str, Any] = {}

    if kind == "sync":

        @app.get("/run")
        def run_sync() -> str:
            box["result"] = call("sync")
            return "ok"

    else:

        @app.get("/run")
        async def run_async() -> str:
            box["result"] = await call("async")
            return "ok"

    response = app.test_client().get("/run")
    assert response.status_code == 200, response.get_data(as_text=True)
    return box["result"]


def _method(remote: Any, verb: str, kind: str) -> Any:
    return getattr(remote, f"{verb}_{kind}")


# ------------------------------------------------------------------ consumer-only signing


@pytest.mark.parametrize("placement", ["header", "query"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_consumer_only_signing_is_accepted_by_oauthlib(kind: str, placement: str, shapes: Shapes) -> None:
    app, oauth = _app()
    with warns_insecure(placement == "query", match="signature_type='query'"):
        remote = shapes.register(oauth, consumer_only=True, client_kwargs={"signature_type": placement})
    response = _call(app, kind, lambda k: _method(remote, "get", k)("/two-legged/products", params={"q": "a b"}))
    assert response.status_code == 200, response.text
    assert response.json() == {"path": "products", "has_token": False, "token": None}


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_consumer_only_per_call_with_an_empty_token(kind: str, shapes: Shapes) -> None:
    # No fetch_token and no token: the call is still signed, with oauth_token="" present.
    app, oauth = _app()
    remote = shapes.register(oauth)
    response = _call(app, kind, lambda k: _method(remote, "post", k)("/two-legged/grade", consumer_only="empty"))
    assert response.status_code == 200, response.text
    assert response.json()["has_token"] is True
    assert response.json()["token"] == ""


# ------------------------------------------------------------------ oauth_body_hash


@pytest.mark.parametrize("per", ["remote", "call"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_body_hash_for_json_bodies(kind: str, per: str, shapes: Shapes) -> None:
    app, oauth = _app()
    if per == "remote":
        remote = shapes.register(oauth, consumer_only=True, client_kwargs={"body_hash": True})
        extra: dict[str, Any] = {}
    else:
        remote = shapes.register(oauth, consumer_only=True)
        extra = {"body_hash": True}
    payload = {"score": 0.9, "comment": "très bien"}
    response = _call(app, kind, lambda k: _method(remote, "post", k)("/outcomes", json=payload, **extra))
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------ multipart uploads (Flickr)


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_multipart_text_fields_are_signed_on_request(kind: str, shapes: Shapes) -> None:
    app, oauth = _app()
    remote = shapes.register(oauth, consumer_only=True)

    def upload(k: str, **extra: Any) -> Any:
        return _method(remote, "post", k)(
            "/upload",
            data={"title": "Holiday snap", "is_public": "0"},
            files={"photo": ("a.jpg", b"\xff" * 64)},
            **extra,
        )

    refused = _call(app, kind, lambda k: upload(k))
    assert refused.status_code == 401  # by default a multipart body is not signed (RFC 5849 3.4.1.3)
    app2, oauth2 = _app()
    remote = shapes.register(oauth2, consumer_only=True)
    accepted = _call(app2, kind, lambda k: upload(k, sign_multipart_fields=True))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"title": "Holiday snap", "photo": 64}


# ------------------------------------------------------------------ E*TRADE's authorize URL


def test_authorize_url_parameter_names(shapes: Shapes) -> None:
    app, oauth = _app()
    remote = shapes.register(
        oauth,
        request_token_url=shapes.url + "/etrade/request_token",
        access_token_url=shapes.url + "/etrade/access_token",
        authorize_url="https://us.etrade.test/e/t/etws/authorize",
        authorize_token_param="token",
        authorize_consumer_key_param="key",
    )
    with app.test_request_context("/login"):
        response = remote.authorize_redirect_sync("/callback")
    location = urlsplit(response.headers["Location"])
    assert dict(parse_qsl(location.query)) == {"key": CONSUMER_KEY, "token": "etrade/rt"}


# ------------------------------------------------------------------ legacy OAuth 1.0 (no verifier)


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_legacy_provider_without_a_verifier(kind: str, shapes: Shapes) -> None:
    app, oauth = _app()
    remote = shapes.register(
        oauth,
        request_token_url=shapes.url + "/legacy/request_token",
        access_token_url=shapes.url + "/legacy/access_token",
        authorize_url=shapes.url + "/legacy/authorize",
        require_callback_confirmed=False,
    )

    @app.get("/s/login")
    def s_login() -> Any:
        return remote.authorize_redirect_sync(PREFIX[kind] + "/callback")

    @app.get("/s/callback")
    def s_callback() -> Any:
        return dict(remote.authorize_access_token_sync())

    @app.get("/a/callback")
    async def a_callback() -> Any:
        return dict(await remote.authorize_access_token_async())

    client = app.test_client()
    assert client.get("/s/login").status_code == 302
    response = client.get(PREFIX[kind] + "/callback?oauth_token=legacyrt")  # TripIt-style: no oauth_verifier
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["user"] == "tripper"
    (exchange,) = [s for s in shapes.state.seen if s["path"] == "/legacy/access_token"]
    assert "oauth_verifier" not in exchange["oauth"]


# ------------------------------------------------------------------ redirects


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_redirects_are_re_signed_per_hop(kind: str, shapes: Shapes) -> None:
    app, oauth = _app()
    remote = shapes.register(oauth, consumer_only=True)
    response = _call(app, kind, lambda k: _method(remote, "get", k)("/hop/3", follow_redirects=True))
    assert response.status_code == 200, response.text
    assert response.json() == {"arrived": True}
    hops = [s for s in shapes.state.seen if s["path"].startswith("/hop/")]
    assert [s["path"] for s in hops] == ["/hop/3", "/hop/2", "/hop/1", "/hop/0"]
    assert all(s["ok"] for s in hops)  # oauthlib accepted every hop: a resent nonce would be refused
    assert len({s["oauth"]["oauth_nonce"] for s in hops}) == 4


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_redirect_to_another_host_is_never_signed(kind: str, shapes: Shapes) -> None:
    seen: list[dict[str, str]] = []
    other = Flask("other-host")

    @other.get("/landing")
    def landing() -> Response:
        seen.append(dict(request.headers))
        return jsonify(landed=True, query=request.query_string.decode())

    app, oauth = _app()
    remote = shapes.register(oauth, consumer_only=True, client_kwargs={"signature_type": "header"})
    with ServerThread(other, name="other-host") as server:
        target = server.url.replace("127.0.0.1", "localhost") + "/landing"
        response = _call(
            app, kind, lambda k: _method(remote, "get", k)("/away", params={"to": target}, follow_redirects=True)
        )
    assert response.json()["landed"] is True
    assert "Authorization" not in seen[0]
    assert "oauth_" not in response.json()["query"]


# ------------------------------------------------------------------ clock skew (the fake provider's clock)


def _at_fake(provider: FakeProvider, oauth: OAuth, name: str = "fake", **settings: Any) -> Any:
    """Register *name* at the suite's fake provider (:class:`flask_oauth1_async.testing.FakeProvider`)."""
    return oauth.register(name, **register_settings(provider, **settings))


def test_timestamp_refusal_explains_the_offset(provider: FakeProvider) -> None:
    provider.set_clock_offset(3600)  # the provider's clock is an hour ahead
    app, oauth = _app()
    remote = _at_fake(provider, oauth)
    with app.test_request_context("/s/login"), pytest.raises(ProviderHTTPError) as info:
        remote.authorize_redirect_sync("/s/callback")
    assert info.value.oauth_problem == "timestamp_refused"
    assert "timestamp_offset" in str(info.value)
    assert "oauth_timestamp%3D" in info.value.base_string  # the base string we signed, for comparison
    suggested = int(str(info.value).split("'timestamp_offset': ")[1].split("}")[0])
    assert abs(suggested - 3600) <= 5

    app2, oauth2 = _app()
    remote = _at_fake(provider, oauth2, client_kwargs={"timestamp_offset": suggested})
    with app2.test_request_context("/s/login"):
        assert remote.authorize_redirect_sync("/s/callback").status_code == 302
    assert [c.status for c in provider.received("request_token")] == [401, 200]


# ------------------------------------------------------------------ rate limits (the fake provider's 429s)


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_token_endpoint_rate_limit_is_typed_and_answered_503(kind: str, provider: FakeProvider) -> None:
    provider.fail_next("request_token", 429, body="too many", headers={"Retry-After": "7"})
    app, oauth = _app()
    remote = _at_fake(provider, oauth)
    caught: list[BaseException] = []

    @app.get("/s/login")
    def s_login() -> Any:
        try:
            return remote.authorize_redirect_sync("/s/callback")
        except RateLimitedError as exc:
            caught.append(exc)
            raise

    @app.get("/a/login")
    async def a_login() -> Any:
        try:
            return await remote.authorize_redirect_async("/a/callback")
        except RateLimitedError as exc:
            caught.append(exc)
            raise

    response = app.test_client().get(PREFIX[kind] + "/login")
    assert response.status_code == 503  # the default handler, not a 500
    assert response.headers["Retry-After"] == "7"
    (exc,) = caught
    assert isinstance(exc, ProviderHTTPError)
    assert exc.status_code == 429
    assert exc.retry_after == 7.0


_NONCE = re.compile(r'oauth_nonce="([^"]+)"')


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_retry_policy_re_signs_every_attempt(kind: str, provider: FakeProvider) -> None:
    provider.fail_next("api", 429, times=2, headers={"Retry-After": "0"})
    token = provider.issue_token("alice")
    app, oauth = _app()
    remote = _at_fake(provider, oauth, retry=RetryPolicy(attempts=3, max_wait=2.0))
    response = _call(app, kind, lambda k: _method(remote, "get", k)("limited", token=token))
    assert response.status_code == 200, response.text
    attempts = provider.received("api", "limited")
    assert [c.status for c in attempts] == [429, 429, 200]
    assert all(c.valid for c in attempts)  # oauthlib accepted every attempt: a resent nonce would be refused
    assert len({_NONCE.findall(c.authorization or "")[0] for c in attempts}) == 3


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_retry_policy_gives_up_within_its_budget(kind: str, provider: FakeProvider) -> None:
    # more than the policy may wait: answer at once
    provider.fail_next("api", 429, times=5, headers={"Retry-After": "30"})
    token = provider.issue_token("alice")
    app, oauth = _app()
    remote = _at_fake(provider, oauth, retry=RetryPolicy(attempts=3, max_wait=1.0))
    response = _call(app, kind, lambda k: _method(remote, "get", k)("limited", token=token))
    assert response.status_code == 429
    # One attempt only: the policy waits only before a retry, so it never slept the 30 s asked for.
    assert len(provider.received("api", "limited")) == 1
    # The decision itself, without a clock: 30 s is over the 1 s budget.
    assert RetryPolicy(attempts=3, max_wait=1.0).delay("GET", 429, {"retry-after": "30"}, 1, 0.0) is None


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_no_retry_for_non_idempotent_calls(kind: str, provider: FakeProvider) -> None:
    provider.fail_next("api", 429, headers={"Retry-After": "0"})
    token = provider.issue_token("alice")
    app, oauth = _app()
    remote = _at_fake(provider, oauth, retry=RetryPolicy())
    response = _call(app, kind, lambda k: _method(remote, "get", k)("limited", token=token, retry=None))
    assert response.status_code == 429  # retry=None turns the remote's policy off for one call
    assert len(provider.received("api", "limited")) == 1
