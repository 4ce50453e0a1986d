"""Every preset of :mod:`flask_oauth1_async.providers` against a local fake of its provider.

Each fake is a real HTTP server on 127.0.0.1 (:class:`tests.support.servers.ServerThread`)
serving the preset's documented endpoint paths, with the provider's
documented quirks: E*TRADE's ``key``/``token`` authorize parameters and
``oauth_callback=oob``, Trello's ``name``/``scope``/``expiration``, SmugMug's
``Access``/``Permissions``, NetSuite's HMAC-SHA256 with the account realm,
WooCommerce's one-legged query signing over plain HTTP, Jira's RSA-SHA1,
Discogs' required ``User-Agent``, and so on. The preset's URLs are rewritten
to the fake's origin (:func:`rebase`), paths kept. Signatures, timestamps
and nonces are checked by the fake with oauthlib's ``signature`` helpers,
never with our own signer. The client side is a Flask app driven by
``app.test_client()``, with ``def`` and ``async def`` views; the consumer key
and secret come from the app config, as they would in production.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth1.rfc5849 import signature as oauthlib_signature

from flask_oauth1_async import OAuth, providers
from tests.support.insecure import warns_insecure
from tests.support.servers import ServerThread
from tests.support.views import PREFIX, VIEW_KINDS

CONSUMER_KEY = "presetConsumerKey01"
CONSUMER_SECRET = "preset consumer/secret&1"  # reserved characters on purpose
_URL_KEYS = ("request_token_url", "authorize_url", "access_token_url", "api_base_url")

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PRIVATE = _RSA.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
RSA_PUBLIC = (
    _RSA.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)


def rebase(preset: dict[str, Any], origin: str) -> dict[str, Any]:
    """A copy of *preset* whose URLs point to *origin* (scheme://host:port), paths and queries kept."""
    moved = providers.merge(preset)
    for key in _URL_KEYS:
        if key in moved:
            parts = urlsplit(moved[key])
            moved[key] = origin + parts.path + (f"?{parts.query}" if parts.query else "")
    return moved


# ----------------------------------------------------------------------------- the fake


@dataclass
class Profile:
    """What one provider documents, as the fake enforces it."""

    signature_method: str = "HMAC-SHA1"
    placement: str = "header"  # where the resource calls' oauth_* parameters must be
    realm: str | None = None
    request_method: str = "POST"
    access_method: str = "POST"
    token_param: str = "oauth_token"
    key_param: str | None = None
    authorize_required: dict[str, str] = field(default_factory=dict)
    callback_confirmed: str = "true"
    oob_only: bool = False  # E*TRADE: oauth_callback must be "oob"; redirects to the registered callback
    token_extras: dict[str, str] = field(default_factory=dict)
    required_headers: dict[str, str] = field(default_factory=dict)
    consumer_only: bool = False
    multipart_signed: bool = False  # Flickr uploads: the text fields of a multipart body are signed
    min_nonce: int = 6


@dataclass
class FakeState:
    profile: Profile
    paths: dict[str, str]
    registered_callback: str = "http://localhost/s/callback"
    request_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonces: set[tuple[str, str, str]] = field(default_factory=set)
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _raw_uri() -> str:
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return f"{request.scheme}://{request.host}{target}"


def _refuse(problem: str, status: int = 401) -> Response:
    return Response(f"oauth_problem={problem}", status=status, content_type="application/x-www-form-urlencoded")


def _verify(state: FakeState, token_secret: str | None) -> tuple[str | None, dict[str, str], str]:
    """Check the request's signature with oauthlib: (problem or None, oauth fields, placement)."""
    profile = state.profile
    raw = _raw_uri()
    header = request.headers.get("Authorization", "")
    headers = {"Authorization": header} if header else {}
    form = request.get_data(as_text=True) if request.mimetype == "application/x-www-form-urlencoded" else None
    query = urlsplit(raw).query
    everything = oauthlib_signature.collect_parameters(
        uri_query=query, body=form, headers=headers, exclude_oauth_signature=False, with_realm=True
    )
    fields = {k: v for k, v in everything if k.startswith("oauth_") or k == "realm"}
    placement = (
        "header" if header.startswith("OAuth ") else "query" if "oauth_signature" in dict(parse_qsl(query)) else "body"
    )
    params = oauthlib_signature.collect_parameters(uri_query=query, body=form, headers=headers)
    if profile.multipart_signed and request.mimetype == "multipart/form-data":
        params += list(request.form.items(multi=True))
    state.seen.append({"path": request.path, "method": request.method, "oauth": fields, "placement": placement})
    if fields.get("oauth_consumer_key") != CONSUMER_KEY:
        return "consumer_key_unknown", fields, placement
    if fields.get("oauth_signature_method") != profile.signature_method:
        return "signature_method_rejected", fields, placement
    if profile.realm is not None and fields.get("realm") != profile.realm:
        return "realm_missing", fields, placement
    stamp = fields.get("oauth_timestamp", "")
    if not stamp.isdigit() or abs(int(stamp) - time.time()) > 300:
        return "timestamp_refused", fields, placement
    nonce = fields.get("oauth_nonce", "")
    with state.lock:
        key = (stamp, nonce, fields.get("oauth_token", ""))
        if len(nonce) < profile.min_nonce or key in state.nonces:
            return "nonce_used", fields, placement
        state.nonces.add(key)
    checked = OAuthlibRequest(raw, request.method)
    checked.params = params
    checked.signature = fields.get("oauth_signature", "")
    method = profile.signature_method
    if method == "RSA-SHA1":
        ok = oauthlib_signature.verify_rsa_sha1(checked, RSA_PUBLIC)
    elif method == "HMAC-SHA256":
        ok = oauthlib_signature.verify_hmac_sha256(checked, CONSUMER_SECRET, token_secret)
    else:
        ok = oauthlib_signature.verify_hmac_sha1(checked, CONSUMER_SECRET, token_secret)
    return (None if ok else "signature_invalid"), fields, placement


def create_fake(preset: dict[str, Any], profile: Profile) -> tuple[Flask, FakeState]:
    """A provider at the preset's endpoint paths behaving as *profile* documents."""
    paths = {key: urlsplit(preset[key]).path for key in _URL_KEYS if key in preset}
    state = FakeState(profile, paths)
    app = Flask("fake-provider")

    def request_token() -> Response:
        if request.method != profile.request_method:
            return Response("wrong method", status=405)
        problem, fields, _ = _verify(state, None)
        if problem:
            return _refuse(problem)
        callback = fields.get("oauth_callback")
        if not callback or (profile.oob_only and callback != "oob"):
            return _refuse("parameter_rejected", 400)
        token, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with state.lock:
            state.request_tokens[token] = {"secret": secret, "callback": callback, "verifier": None}
        body = {
            "oauth_token": token,
            "oauth_token_secret": secret,
            "oauth_callback_confirmed": profile.callback_confirmed,
        }
        return Response(urlencode(body), content_type="application/x-www-form-urlencoded")

    def authorize() -> Response:
        token = request.args.get(profile.token_param, "")
        if profile.key_param is not None and request.args.get(profile.key_param) != CONSUMER_KEY:
            return Response("consumer key missing from the authorize URL", status=400)
        for name, value in profile.authorize_required.items():
            if request.args.get(name) != value:
                return Response(f"authorize parameter {name} missing or wrong", status=400)
        with state.lock:
            record = state.request_tokens.get(token)
            if record is None:
                return Response("unknown request token", status=400)
            callback = state.registered_callback if record["callback"] == "oob" else record["callback"]
            if request.args.get("deny"):
                back = {"denied": token}
            else:
                record["verifier"] = secrets.token_urlsafe(12)
                record["user"] = request.args.get("user", "nobody")
                back = {"oauth_token": token, "oauth_verifier": record["verifier"]}
        joiner = "&" if "?" in callback else "?"
        return Response(status=302, headers={"Location": callback + joiner + urlencode(back)})

    def access_token() -> Response:
        if request.method != profile.access_method:
            return Response("wrong method", status=405)
        header = request.headers.get("Authorization", "")
        claimed = dict(oauthlib_signature.collect_parameters(headers={"Authorization": header})).get("oauth_token", "")
        with state.lock:
            record = state.request_tokens.get(claimed)
        if record is None:
            return _refuse("token_rejected")
        problem, fields, _ = _verify(state, record["secret"])
        if problem:
            return _refuse(problem)
        if record["verifier"] is None or fields.get("oauth_verifier") != record["verifier"]:
            return _refuse("verifier_invalid")
        token, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with state.lock:
            del state.request_tokens[claimed]
            state.access_tokens[token] = {"secret": secret, "user": record["user"]}
        body = {"oauth_token": token, "oauth_token_secret": secret, **profile.token_extras}
        return Response(urlencode(body), content_type="application/x-www-form-urlencoded")

    def resource(path: str) -> Response:
        for name, value in profile.required_headers.items():
            if request.headers.get(name) != value:
                return Response(f"header {name} missing", status=403)
        header = request.headers.get("Authorization")
        params = oauthlib_signature.collect_parameters(
            uri_query=urlsplit(_raw_uri()).query, headers={"Authorization": header} if header else None
        )
        token = dict(params).get("oauth_token")
        user = None
        if profile.consumer_only:
            if token is not None:
                return _refuse("token_not_expected")
            secret = None
        else:
            with state.lock:
                record = state.access_tokens.get(token or "")
            if record is None:
                return _refuse("token_rejected")
            secret, user = record["secret"], record["user"]
        problem, fields, placement = _verify(state, secret)
        if problem:
            return _refuse(problem)
        if placement != profile.placement:
            return _refuse("parameter_rejected", 400)
        return jsonify(
            path=path,
            method=request.method,
            user=user,
            placement=placement,
            realm=fields.get("realm"),
            args=[[k, v] for k, v in request.args.items(multi=True) if not k.startswith("oauth_")],
            form=[[k, v] for k, v in request.form.items(multi=True) if not k.startswith("oauth_")],
            json=request.get_json(silent=True),
            files=sorted(request.files),
        )

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dispatch(path: str) -> Response:
        here = request.path
        if here == paths.get("request_token_url"):
            return request_token()
        if here == paths.get("authorize_url"):
            return authorize()
        if here == paths.get("access_token_url"):
            return access_token()
        if here.startswith(paths.get("api_base_url", "/")):
            return resource(here[len(paths.get("api_base_url", "/")) :])
        return Response("not found", status=404)

    return app, state


# ----------------------------------------------------------------------------- the client app


def make_client(name: str, preset: dict[str, Any], calls: list[tuple[str, str, dict[str, Any]]], oob: bool) -> Flask:
    app = Flask(f"client-{name}")
    app.secret_key = "preset-tests"
    app.config[f"{name.upper()}_CLIENT_ID"] = CONSUMER_KEY
    app.config[f"{name.upper()}_CLIENT_SECRET"] = CONSUMER_SECRET
    oauth = OAuth(app)
    providers.register(oauth, name, preset)
    remote = oauth.create_client(name)
    app.extensions["test_oauth"] = oauth

    def callback_url(endpoint: str) -> str | None:
        return None if oob else f"http://localhost/{endpoint}"

    @app.get("/s/login")
    def s_login() -> Any:
        return remote.authorize_redirect(callback_url("s/callback"))

    @app.get("/a/login")
    async def a_login() -> Any:
        return await remote.authorize_redirect(callback_url("a/callback"))

    @app.get("/s/callback")
    def s_callback() -> Any:
        return jsonify(dict(remote.authorize_access_token()))

    @app.get("/a/callback")
    async def a_callback() -> Any:
        return jsonify(dict(await remote.authorize_access_token()))

    def token_arg() -> dict[str, str] | None:
        if "t" not in request.args:
            return None
        return {"oauth_token": request.args["t"], "oauth_token_secret": request.args["s"]}

    def summary(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return {"status": response.status_code, "body": body}

    @app.get("/s/call")
    def s_call() -> Any:
        tok = token_arg()
        extra = {} if tok is None else {"token": tok}
        return jsonify([summary(remote.request(m, url, **extra, **kw)) for m, url, kw in calls])

    @app.get("/a/call")
    async def a_call() -> Any:
        tok = token_arg()
        extra = {} if tok is None else {"token": tok}
        return jsonify([summary(await remote.request(m, url, **extra, **kw)) for m, url, kw in calls])

    return app


# ----------------------------------------------------------------------------- the cases


@dataclass
class Case:
    name: str
    preset: Callable[[], dict[str, Any]]
    profile: Profile
    calls: list[tuple[str, str, dict[str, Any]]]
    login: bool = True
    oob: bool = False
    authorize_extra: dict[str, str] = field(default_factory=dict)


_FORM = {"body": "a b+c & d", "type": "text"}
CASES = [
    Case(
        "twitter",
        lambda: providers.TWITTER,
        Profile(token_extras={"user_id": "12", "screen_name": "alice_x"}),
        [
            ("GET", "users/me", {"params": {"user.fields": "created_at,description"}}),
            ("POST", "tweets", {"json": {"text": "hi there"}}),
        ],
    ),
    Case(
        "trello",
        lambda: providers.merge(providers.TRELLO, authorize_params={"name": "Preset Tests"}),
        Profile(authorize_required={"name": "Preset Tests", "scope": "read", "expiration": "30days"}),
        [
            ("GET", "members/me/boards", {"params": {"fields": "name,url"}}),
            ("PUT", "cards/1", {"data": {"name": "new name"}}),
        ],
    ),
    Case(
        "flickr",
        lambda: providers.FLICKR,
        Profile(request_method="GET", access_method="GET", authorize_required={"perms": "read"}, multipart_signed=True),
        [
            ("GET", "rest", {"params": {"method": "flickr.test.login", "format": "json", "nojsoncallback": "1"}}),
            (
                "POST",
                "upload/",
                {
                    "data": {"title": "a photo", "is_public": "0"},
                    "files": {"photo": ("p.jpg", b"\xff\xd8jpeg")},
                    "sign_multipart_fields": True,
                },
            ),
        ],
    ),
    Case(
        "garmin",
        lambda: providers.GARMIN,
        Profile(),
        [
            (
                "GET",
                "dailies",
                {"params": {"uploadStartTimeInSeconds": "1700000000", "uploadEndTimeInSeconds": "1700086400"}},
            )
        ],
    ),
    Case(
        "jira",
        lambda: providers.jira("https://jira.example.com/jira/", RSA_PRIVATE),
        Profile(signature_method="RSA-SHA1"),
        [
            ("GET", "myself", {}),
            ("POST", "issue", {"json": {"fields": {"summary": "a b"}}}),
            ("DELETE", "issue/X-1", {}),
        ],
    ),
    Case(
        "etrade",
        lambda: providers.etrade(sandbox=True),
        Profile(
            request_method="GET",
            access_method="GET",
            token_param="token",
            key_param="key",
            callback_confirmed="false",
            oob_only=True,
        ),
        [("GET", "accounts/list", {}), ("GET", "market/quote/AAPL,MSFT", {"params": {"detailFlag": "ALL"}})],
        oob=True,
    ),
    Case(
        "tumblr",
        lambda: providers.TUMBLR,
        Profile(),
        [("GET", "user/info", {}), ("POST", "blog/me.tumblr.com/post", {"data": _FORM})],
    ),
    Case(
        "smugmug",
        lambda: providers.merge(providers.SMUGMUG, authorize_params={"Access": "Full", "Permissions": "Modify"}),
        Profile(
            authorize_required={"Access": "Full", "Permissions": "Modify"},
            required_headers={"Accept": "application/json"},
        ),
        [("GET", "!authuser", {}), ("PATCH", "album/abc", {"json": {"Title": "Trip 2024"}})],
    ),
    Case(
        "discogs",
        lambda: providers.discogs("PresetTests/1.0 +http://127.0.0.1"),
        Profile(request_method="GET", required_headers={"User-Agent": "PresetTests/1.0 +http://127.0.0.1"}),
        [
            ("GET", "oauth/identity", {}),
            ("GET", "database/search", {"params": {"q": "Nirvana Nevermind", "type": "release"}}),
        ],
    ),
    Case(
        "netsuite",
        lambda: providers.netsuite("1234567_SB1"),
        Profile(signature_method="HMAC-SHA256", realm="1234567_SB1"),
        [
            ("GET", "record/v1/customer", {"params": {"limit": "5", "q": 'companyName START_WITH "A"'}}),
            ("POST", "record/v1/customer", {"json": {"companyName": "Acme & Sons"}}),
        ],
    ),
    Case(
        "woocommerce",
        lambda: providers.woocommerce("http://shop.example.com/"),
        Profile(signature_method="HMAC-SHA256", placement="query", consumer_only=True),
        [
            ("GET", "products", {"params": {"per_page": "5", "search": "blue shirt"}}),
            ("POST", "products", {"json": {"name": "Blue shirt", "regular_price": "9.99"}}),
            ("PUT", "products/7", {"json": {"stock_quantity": 3}}),
            ("DELETE", "products/7", {"params": {"force": "true"}}),
        ],
        login=False,
    ),
]


@pytest.fixture
def fake_for() -> Iterator[Callable[[Case], tuple[dict[str, Any], FakeState]]]:
    servers: list[ServerThread] = []

    def start(case: Case) -> tuple[dict[str, Any], FakeState]:
        original = case.preset()
        # the fake serves the preset's own paths; the client is pointed at it
        fake_app, state = create_fake(original, case.profile)
        server = ServerThread(fake_app, name=f"fake-{case.name}").start()
        servers.append(server)
        return rebase(original, server.url), state

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("view", VIEW_KINDS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_preset_against_its_fake(
    case: Case, view: str, fake_for: Callable[[Case], tuple[dict[str, Any], FakeState]]
) -> None:
    preset, state = fake_for(case)
    prefix = PREFIX[view]
    with warns_insecure(case.profile.placement == "query", match="signature_type='query'"):
        app = make_client(case.name, preset, case.calls, oob=case.oob)
    state.registered_callback = f"http://localhost{prefix}/callback"
    query: dict[str, str] = {}
    try:
        with app.test_client() as client:
            if case.login:
                start = client.get(f"{prefix}/login")
                assert start.status_code == 302, start.get_data(as_text=True)
                authorize = start.headers["Location"]
                assert authorize.startswith(preset["authorize_url"])
                consent = httpx.get(authorize + "&user=alice", follow_redirects=False, trust_env=False)
                assert consent.status_code == 302, consent.text
                back = urlsplit(consent.headers["Location"])
                assert back.path == f"{prefix}/callback"
                finished = client.get(f"{back.path}?{back.query}")
                assert finished.status_code == 200, finished.get_data(as_text=True)
                token = finished.get_json()
                for key, value in case.profile.token_extras.items():
                    assert token[key] == value
                query = {"t": token["oauth_token"], "s": token["oauth_token_secret"]}
            calls = client.get(f"{prefix}/call", query_string=query)
            assert calls.status_code == 200, calls.get_data(as_text=True)
            results = calls.get_json()
    finally:
        app.extensions["test_oauth"].close()
    assert len(results) == len(case.calls)
    for result, (method, _, kwargs) in zip(results, case.calls, strict=True):
        assert result["status"] == 200, result
        body = result["body"]
        assert body["method"] == method
        assert body["placement"] == case.profile.placement
        assert body["user"] == (None if case.profile.consumer_only else "alice")
        assert body["realm"] == case.profile.realm
        if "params" in kwargs:
            assert dict(body["args"]) == kwargs["params"]
        if "json" in kwargs:
            assert body["json"] == kwargs["json"]
        if "data" in kwargs:
            assert dict(body["form"]) == kwargs["data"]
        if "files" in kwargs:
            assert body["files"] == sorted(kwargs["files"])
    # the fake saw exactly our signing choices on every signed request
    assert {s["oauth"]["oauth_signature_method"] for s in state.seen} == {case.profile.signature_method}


def test_authorize_url_parameters_as_documented(fake_for: Callable[[Case], tuple[dict[str, Any], FakeState]]) -> None:
    """E*TRADE: ``?key=<consumer key>&token=<request token>`` and no ``oauth_token``; oob callback."""
    case = next(c for c in CASES if c.name == "etrade")
    preset, state = fake_for(case)
    app = make_client("etrade", preset, [], oob=True)
    try:
        with app.test_client() as client:
            start = client.get("/s/login")
    finally:
        app.extensions["test_oauth"].close()
    params = dict(parse_qsl(urlsplit(start.headers["Location"]).query))
    assert set(params) == {"key", "token"}
    assert params["key"] == CONSUMER_KEY
    assert state.seen[0]["oauth"]["oauth_callback"] == "oob"
    assert state.seen[0]["method"] == "GET"


def test_twitter_denial_is_a_403(fake_for: Callable[[Case], tuple[dict[str, Any], FakeState]]) -> None:
    case = CASES[0]
    preset, _ = fake_for(case)
    app = make_client("twitter", preset, [], oob=False)
    try:
        with app.test_client() as client:
            start = client.get("/s/login")
            consent = httpx.get(start.headers["Location"] + "&deny=1", follow_redirects=False, trust_env=False)
            back = urlsplit(consent.headers["Location"])
            assert "denied" in dict(parse_qsl(back.query))
            denied = client.get(f"{back.path}?{back.query}")
    finally:
        app.extensions["test_oauth"].close()
    assert denied.status_code == 403


def test_unsigned_multipart_upload_is_refused_by_the_flickr_fake(
    fake_for: Callable[[Case], tuple[dict[str, Any], FakeState]],
) -> None:
    """The Flickr fake really checks the multipart text fields: without the opt-in the signature fails."""
    case = next(c for c in CASES if c.name == "flickr")
    preset, state = fake_for(case)
    with state.lock:
        state.access_tokens["tok"] = {"secret": "sec", "user": "alice"}
    upload = ("POST", "upload/", {"data": {"title": "a photo"}, "files": {"photo": ("p.jpg", b"x")}})
    app = make_client("flickr", preset, [upload], oob=False)
    try:
        with app.test_client() as client:
            results = client.get("/s/call", query_string={"t": "tok", "s": "sec"}).get_json()
    finally:
        app.extensions["test_oauth"].close()
    assert results[0]["status"] == 401
    assert "signature_invalid" in results[0]["body"]


# ----------------------------------------------------------------------------- precedence and shapes


def test_config_wins_over_preset_and_keywords() -> None:
    app = Flask("precedence")
    app.config.update(
        TRELLO_CLIENT_ID="from-config",
        TRELLO_AUTHORIZE_PARAMS={"scope": "read,write"},
        TRELLO_API_BASE_URL="https://api.trello.example/1/",
    )
    oauth = OAuth(app)
    providers.register(oauth, "trello", providers.TRELLO, authorize_params={"name": "Mine", "scope": "account"})
    with app.app_context():
        assert oauth.trello.client_id == "from-config"
        assert dict(oauth.trello.authorize_params or {}) == {
            "scope": "read,write",
            "expiration": "30days",
            "name": "Mine",
        }
        assert oauth.trello.api_base_url == "https://api.trello.example/1/"
        assert oauth.trello.request_token_url == providers.TRELLO["request_token_url"]
    # the preset itself is never changed
    assert providers.TRELLO["authorize_params"] == {"scope": "read", "expiration": "30days"}


def test_plain_keywords_beat_config_as_documented() -> None:
    app = Flask("plain")
    app.config.update(TUMBLR_API_BASE_URL="https://elsewhere.example/", TUMBLR_CLIENT_ID="cid")
    oauth = OAuth(app)
    oauth.register("tumblr", **providers.TUMBLR)
    oauth.register("tumblr2", overwrite=True, **providers.TUMBLR)
    app.config["TUMBLR2_API_BASE_URL"] = "https://elsewhere.example/"
    with app.app_context():
        assert oauth.tumblr.api_base_url == providers.TUMBLR["api_base_url"]
        assert oauth.tumblr.client_id == "cid"  # the config fills in what the preset leaves out
        assert oauth.tumblr2.api_base_url == "https://elsewhere.example/"


def test_merge_combines_dicts_and_headers() -> None:
    merged = providers.merge(
        providers.discogs("A/1"), client_kwargs={"headers": {"X-Extra": "1"}, "timeout": 5.0}, api_base_url="https://x/"
    )
    assert merged["client_kwargs"] == {"headers": {"User-Agent": "A/1", "X-Extra": "1"}, "timeout": 5.0}
    assert merged["api_base_url"] == "https://x/"


def test_function_presets_check_their_arguments() -> None:
    ns = providers.netsuite("1234567-sb1")
    assert ns["client_kwargs"]["realm"] == "1234567_SB1"
    assert ns["request_token_url"] == "https://1234567-sb1.restlets.api.netsuite.com/rest/requesttoken"
    assert ns["authorize_url"] == "https://1234567-sb1.app.netsuite.com/app/login/secure/authorizetoken.nl"
    assert providers.etrade()["api_base_url"] == "https://api.etrade.com/v1/"
    assert providers.etrade(sandbox=True)["access_token_url"] == "https://apisb.etrade.com/oauth/access_token"
    assert (
        providers.woocommerce("https://shop.example/store/")["api_base_url"]
        == "https://shop.example/store/wp-json/wc/v3/"
    )
    assert providers.jira("https://jira.example", RSA_PRIVATE)["api_base_url"] == "https://jira.example/rest/api/2/"
    with pytest.raises(ValueError, match="PEM"):
        providers.jira("https://jira.example", "not a key")
    with pytest.raises(ValueError, match="absolute"):
        providers.woocommerce("shop.example")
    with pytest.raises(ValueError, match="User-Agent"):
        providers.discogs(" ")
    with pytest.raises(ValueError, match="account id"):
        providers.netsuite("12/34")
