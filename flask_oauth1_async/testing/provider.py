"""A fake OAuth 1.0a provider for the tests of apps that use flask_oauth1_async.

:class:`FakeProvider` is a real HTTP server on 127.0.0.1. Its protocol work
is done by oauthlib's provider endpoints (``RequestTokenEndpoint``,
``AuthorizationEndpoint``, ``AccessTokenEndpoint``, ``ResourceEndpoint``)
with a storage-only ``RequestValidator``: none of oauthlib's checks are
switched off, so every signature, timestamp, nonce (each one is accepted
once), key format and token binding is verified the way a strict provider
would. It serves HTTPS with a throw-away certificate authority made by
``trustme`` (oauthlib refuses plain HTTP by default); :meth:`FakeProvider.register_kwargs`
and :meth:`FakeProvider.config` hand the app an SSL context that trusts it.

What a test can script:

* who approves the next authorization (:meth:`FakeProvider.approve_next`) or
  that the user clicks "Deny" (:meth:`FakeProvider.deny_next`);
* failures: the next *n* answers of an endpoint replaced by an HTTP error
  (:meth:`FakeProvider.fail_next`);
* latency per endpoint (:meth:`FakeProvider.slow_down`);
* what an API path answers (:meth:`FakeProvider.respond`).

Every request the provider sees is recorded: :attr:`FakeProvider.calls` holds
the API calls (method, path, signed or not, valid or not, with which token
and for which test user), :attr:`FakeProvider.token_requests` the calls to
the token endpoints.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import ssl
import string
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["ENDPOINTS", "FakeProvider", "ProviderCall"]

#: The endpoint names used by :meth:`FakeProvider.fail_next`, :meth:`FakeProvider.slow_down`
#: and :attr:`ProviderCall.endpoint`.
ENDPOINTS = ("request_token", "authorize", "access_token", "api")

_KEY_CHARS = string.ascii_letters + string.digits
_HOST = "127.0.0.1"


def _new_key(length: int = 24) -> str:
    # oauthlib's default validator accepts keys and tokens of 20 to 30 letters and digits.
    return "".join(secrets.choice(_KEY_CHARS) for _ in range(length))


@dataclass(frozen=True)
class ProviderCall:
    """One request that reached the fake provider.

    ``signed`` says whether it carried an OAuth signature at all (in the
    ``Authorization`` header, the query or a form body); ``valid`` whether
    oauthlib accepted that signature, nonce, timestamp and token. ``token`` is
    the ``oauth_token`` it was sent with (None for unsigned or consumer-only
    calls) and ``user`` the test user that token belongs to.
    """

    endpoint: str
    method: str
    #: The path below the API base (``"account/verify_credentials.json"``) for API
    #: calls, the URL path for the others.
    path: str
    #: The query parameters, in order, OAuth parameters included.
    query: tuple[tuple[str, str], ...]
    signed: bool
    valid: bool
    token: str | None
    user: str | None
    status: int
    signature_method: str | None = None
    body: str = ""
    content_type: str | None = None

    @property
    def args(self) -> dict[str, str]:
        """The query parameters without the ``oauth_*`` ones, as a dict."""
        return {k: v for k, v in self.query if not k.startswith("oauth_")}

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class _Failure:
    status: int
    body: str
    remaining: int


@dataclass
class _Route:
    status: int
    payload: Any
    handler: Callable[[ProviderCall], Any] | None
    headers: Mapping[str, str]


@dataclass
class _State:
    consumers: dict[str, str] = field(default_factory=dict)
    #: request token -> {"client", "secret", "callback", "verifier", "user", "created"}
    request_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: access token -> {"client", "secret", "user"}
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonces: set[tuple[str, str, str, str]] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)


def _make_validator(state: _State, enforce_ssl: bool) -> Any:
    """A RequestValidator that only stores things; every policy stays oauthlib's default."""
    from oauthlib.oauth1 import RequestValidator

    class Storage(RequestValidator):  # type: ignore[misc]
        # oauthlib wants "dummy" values of a valid format to keep the timing of
        # answers for unknown keys the same as for known ones.
        dummy_client = "fakeproviderdummyclient"
        dummy_request_token = "fakeproviderdummyrequest"  # noqa: S105 - not a secret
        dummy_access_token = "fakeproviderdummyaccess"  # noqa: S105 - not a secret

        @property
        def enforce_ssl(self) -> bool:
            return enforce_ssl

        def validate_client_key(self, client_key: str, req: Any) -> bool:
            with state.lock:
                return client_key in state.consumers

        def get_client_secret(self, client_key: str, req: Any) -> str:
            with state.lock:
                return state.consumers.get(client_key, "fakeproviderdummysecret")

        def get_default_realms(self, client_key: str, req: Any) -> list[str]:
            return []

        def validate_requested_realms(self, client_key: str, realms: list[str], req: Any) -> bool:
            return True

        def get_realms(self, token: str, req: Any) -> list[str]:
            return []

        def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
            return True

        def verify_realms(self, token: str, realms: list[str], req: Any) -> bool:
            return True

        def validate_redirect_uri(self, client_key: str, redirect_uri: str, req: Any) -> bool:
            return True

        def get_redirect_uri(self, token: str, req: Any) -> str:
            with state.lock:
                return str(state.request_tokens[token]["callback"])

        def save_request_token(self, token: dict[str, str], req: Any) -> None:
            with state.lock:
                state.request_tokens[token["oauth_token"]] = {
                    "client": req.client_key,
                    "secret": token["oauth_token_secret"],
                    "callback": req.redirect_uri,
                    "verifier": None,
                    "user": None,
                    "created": time.monotonic(),
                }

        def verify_request_token(self, token: str, req: Any) -> bool:
            with state.lock:
                return token in state.request_tokens

        def validate_request_token(self, client_key: str, token: str, req: Any) -> bool:
            with state.lock:
                record = state.request_tokens.get(token)
                return record is not None and record["client"] == client_key

        def get_request_token_secret(self, client_key: str, token: str, req: Any) -> str:
            with state.lock:
                record = state.request_tokens.get(token)
                return str(record["secret"]) if record else "fakeproviderdummysecret"

        def save_verifier(self, token: str, verifier: dict[str, str], req: Any) -> None:
            with state.lock:
                state.request_tokens[token]["verifier"] = verifier["oauth_verifier"]

        def validate_verifier(self, client_key: str, token: str, verifier: str, req: Any) -> bool:
            with state.lock:
                record = state.request_tokens.get(token)
                if record is None or not record["verifier"]:
                    return False
                req.fake_user = record["user"]
                return secrets.compare_digest(str(record["verifier"]), verifier)

        def invalidate_request_token(self, client_key: str, request_token: str, req: Any) -> None:
            with state.lock:
                state.request_tokens.pop(request_token, None)

        def save_access_token(self, token: dict[str, str], req: Any) -> None:
            with state.lock:
                state.access_tokens[token["oauth_token"]] = {
                    "client": req.client_key,
                    "secret": token["oauth_token_secret"],
                    "user": getattr(req, "fake_user", None),
                }

        def validate_access_token(self, client_key: str, token: str, req: Any) -> bool:
            with state.lock:
                record = state.access_tokens.get(token)
                return record is not None and record["client"] == client_key

        def get_access_token_secret(self, client_key: str, token: str, req: Any) -> str:
            with state.lock:
                record = state.access_tokens.get(token)
                return str(record["secret"]) if record else "fakeproviderdummysecret"

        def validate_timestamp_and_nonce(
            self,
            client_key: str,
            timestamp: str,
            nonce: str,
            req: Any,
            request_token: str | None = None,
            access_token: str | None = None,
        ) -> bool:
            entry = (client_key, timestamp, nonce, request_token or access_token or "")
            with state.lock:
                if entry in state.nonces:
                    return False
                state.nonces.add(entry)
                return True

    return Storage()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


_shared_ca: Any = None
_shared_ca_lock = threading.Lock()


def _certificate_authority() -> Any:
    """One throw-away CA per process (making one costs a few milliseconds)."""
    global _shared_ca
    with _shared_ca_lock:
        if _shared_ca is None:
            import trustme

            _shared_ca = trustme.CA(organization_name="flask_oauth1_async fake provider")
        return _shared_ca


_running: weakref.WeakSet[FakeProvider] = weakref.WeakSet()


def _provider_for(url: str) -> FakeProvider | None:
    """The running fake provider that serves *url*, if any."""
    for fake in list(_running):
        if fake.started and url.startswith(fake.url + "/"):
            return fake
    return None


class FakeProvider:
    """A real OAuth 1.0a provider on 127.0.0.1 for tests (see the module docstring).

    Use it as a context manager (or call :meth:`start` and :meth:`close`)::

        with FakeProvider() as fake:
            app.config.update(fake.config("TWITTER"))
            ...

    *users* are the names of the test users (``"alice"`` and ``"bob"`` by
    default); each gets a profile with ``user_id`` and ``screen_name``, sent
    with the access token the way Twitter/X does and answered by the API.
    *default_user* approves when nothing else was scripted. *tls* False
    serves plain HTTP; oauthlib refuses that unless its ``enforce_ssl`` check
    is turned off, which is then the only default this provider changes.
    """

    def __init__(
        self,
        users: tuple[str, ...] | list[str] = ("alice", "bob"),
        *,
        default_user: str | None = None,
        tls: bool = True,
        port: int = 0,
    ) -> None:
        if not users:
            raise ValueError("a FakeProvider needs at least one test user")
        self.client_id = _new_key()
        self.client_secret = _new_key(28)
        self.users: dict[str, dict[str, Any]] = {}
        for name in users:
            self.add_user(name)
        self.default_user = default_user if default_user is not None else next(iter(self.users))
        self.tls = tls
        self._port = port
        self._state = _State()
        self._state.consumers[self.client_id] = self.client_secret
        self._decisions: deque[tuple[str, str | None]] = deque()
        self._failures: dict[str, deque[_Failure]] = {name: deque() for name in ENDPOINTS}
        self._latency: dict[str, float] = {}
        self._routes: dict[tuple[str | None, str], _Route] = {}
        self._public: set[str] = set()
        self._calls: list[ProviderCall] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._client_context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- life cycle

    @property
    def started(self) -> bool:
        return self._server is not None

    def start(self) -> FakeProvider:
        """Start serving (idempotent); returns self."""
        if self._server is not None:
            return self
        server_context: ssl.SSLContext | None = None
        if self.tls:
            ca = _certificate_authority()
            server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert(_HOST, "localhost").configure_cert(server_context)
            client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            ca.configure_trust(client_context)
            self._client_context = client_context
        server = make_server(
            _HOST,
            self._port,
            self._build_app(),
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=server_context,
        )
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.name = f"fake-oauth1-provider:{server.server_port}"
        thread.start()
        self._server, self._thread = server, thread
        _running.add(self)
        return self

    def close(self) -> None:
        """Stop the server and wait for its thread (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        _running.discard(self)
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(10)

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.url if self.started else "not started"
        return f"<FakeProvider {where} users={sorted(self.users)}>"

    # ---------------------------------------------------------------- URLs and settings

    @property
    def url(self) -> str:
        """The provider's origin, such as ``https://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the FakeProvider is not started: use 'with FakeProvider() as fake:' or start()")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{_HOST}:{self._server.server_port}"

    @property
    def request_token_url(self) -> str:
        return self.url + "/oauth/request_token"

    @property
    def authorize_url(self) -> str:
        return self.url + "/oauth/authorize"

    @property
    def access_token_url(self) -> str:
        return self.url + "/oauth/access_token"

    @property
    def api_base_url(self) -> str:
        return self.url + "/api/"

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """An SSL context that trusts this provider's certificate (None over plain HTTP)."""
        self.url  # noqa: B018 - raises when not started
        return self._client_context

    def client_kwargs(self) -> dict[str, Any]:
        """httpx client settings needed to reach the provider (``verify``)."""
        context = self.ssl_context
        return {"verify": context} if context is not None else {}

    def register_kwargs(self) -> dict[str, Any]:
        """Keywords for ``oauth.register(name, **fake.register_kwargs())``."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "request_token_url": self.request_token_url,
            "authorize_url": self.authorize_url,
            "access_token_url": self.access_token_url,
            "api_base_url": self.api_base_url,
            "client_kwargs": self.client_kwargs(),
        }

    def config(self, prefix: str) -> dict[str, Any]:
        """The same settings as Flask config keys: ``app.config.update(fake.config("TWITTER"))``."""
        head = prefix.upper().rstrip("_")
        return {f"{head}_{key.upper()}": value for key, value in self.register_kwargs().items()}

    # ---------------------------------------------------------------- users and scripting

    def add_user(self, name: str, **profile: Any) -> dict[str, Any]:
        """Add (or replace) the test user *name*; *profile* adds or overrides fields."""
        if not name or not name.isidentifier():
            raise ValueError(f"test user names must be identifiers, not {name!r}")
        record = {"user_id": str(1000 + len(self.users) + 1), "screen_name": name, "name": name.title()}
        record.update(profile)
        self.users[name] = record
        return record

    def approve_next(self, user: str | None = None) -> None:
        """The next authorization is approved as *user* (default: :attr:`default_user`)."""
        name = user or self.default_user
        if name not in self.users:
            raise ValueError(f"unknown test user {name!r}; known: {', '.join(self.users)}")
        with self._lock:
            self._decisions.append(("approve", name))

    def deny_next(self) -> None:
        """The next authorization is denied: the callback gets ``?denied=<request token>``."""
        with self._lock:
            self._decisions.append(("deny", None))

    def fail_next(self, endpoint: str, status: int = 500, *, times: int = 1, body: str | None = None) -> None:
        """The next *times* requests to *endpoint* answer *status* instead of doing their work."""
        self._check_endpoint(endpoint)
        if times < 1:
            raise ValueError("times must be at least 1")
        text = body if body is not None else f"fake provider: scripted {status} from {endpoint}"
        with self._lock:
            self._failures[endpoint].append(_Failure(status, text, times))

    def slow_down(self, seconds: float, endpoint: str | None = None) -> None:
        """Wait *seconds* before answering *endpoint* (every endpoint when None); 0 removes it."""
        if endpoint is not None:
            self._check_endpoint(endpoint)
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self._lock:
            self._latency[endpoint or "*"] = seconds

    def respond(
        self,
        path: str,
        json: Any = None,
        *,
        status: int = 200,
        method: str | None = None,
        handler: Callable[[ProviderCall], Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Set what the API answers at *path* (relative to :attr:`api_base_url`).

        The answer is *json* with *status*, or what *handler* returns when
        called with the :class:`ProviderCall` (a JSON-able value, or a
        ``(value, status)`` pair). *method* limits it to one HTTP method.
        Without a route, a path answers the signed-in test user's profile
        plus ``path`` and ``method``. Only calls with a valid signature reach
        a route, unless the path is :meth:`public`.
        """
        with self._lock:
            self._routes[(method.upper() if method else None, path.lstrip("/"))] = _Route(
                status, json, handler, dict(headers or {})
            )

    def public(self, path: str) -> None:
        """Let unsigned calls to *path* through (the default answers 401 to them)."""
        with self._lock:
            self._public.add(path.lstrip("/"))

    def reset(self) -> None:
        """Forget recorded calls and scripted decisions, failures, latency and routes (tokens stay valid)."""
        with self._lock:
            self._calls.clear()
            self._decisions.clear()
            for queue in self._failures.values():
                queue.clear()
            self._latency.clear()
            self._routes.clear()
            self._public.clear()

    def revoke(self, user: str | None = None) -> int:
        """Invalidate the access tokens of *user* (all users when None); returns how many."""
        with self._state.lock:
            doomed = [k for k, v in self._state.access_tokens.items() if user is None or v["user"] == user]
            for key in doomed:
                del self._state.access_tokens[key]
        return len(doomed)

    # ---------------------------------------------------------------- what happened

    @property
    def calls(self) -> list[ProviderCall]:
        """The API calls received so far, oldest first (a copy)."""
        with self._lock:
            return [c for c in self._calls if c.endpoint == "api"]

    @property
    def token_requests(self) -> list[ProviderCall]:
        """The requests to the request-token, authorize and access-token endpoints (a copy)."""
        with self._lock:
            return [c for c in self._calls if c.endpoint != "api"]

    def access_tokens(self, user: str | None = None) -> list[str]:
        """The access tokens issued and still valid, for *user* or for everyone."""
        with self._state.lock:
            return [k for k, v in self._state.access_tokens.items() if user is None or v["user"] == user]

    def user_of(self, token: str) -> str | None:
        """The test user an access token belongs to (None when unknown or revoked)."""
        with self._state.lock:
            record = self._state.access_tokens.get(token)
            return None if record is None else record["user"]

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _check_endpoint(endpoint: str) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; choose one of {', '.join(ENDPOINTS)}")

    def _next_decision(self) -> tuple[str, str | None] | None:
        with self._lock:
            return self._decisions.popleft() if self._decisions else None

    def _before(self, endpoint: str) -> _Failure | None:
        """Apply latency, and take the next scripted failure of *endpoint*, if any."""
        with self._lock:
            delay = self._latency.get(endpoint, self._latency.get("*", 0.0))
            queue = self._failures[endpoint]
            failure = queue[0] if queue else None
            if failure is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    queue.popleft()
        if delay:
            time.sleep(delay)
        return failure

    def _record(self, call: ProviderCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _build_app(self) -> Flask:
        from oauthlib.oauth1 import (
            AccessTokenEndpoint,
            AuthorizationEndpoint,
            OAuth1Error,
            RequestTokenEndpoint,
            ResourceEndpoint,
        )

        validator = _make_validator(self._state, enforce_ssl=self.tls)
        request_endpoint = RequestTokenEndpoint(validator)
        authorization_endpoint = AuthorizationEndpoint(validator)
        access_endpoint = AccessTokenEndpoint(validator)
        resource_endpoint = ResourceEndpoint(validator)
        app = Flask("flask_oauth1_async.testing.provider")
        fake = self

        def wire() -> tuple[str, str, str, dict[str, str]]:
            # oauthlib checks the signature against the URI exactly as sent.
            target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
            uri = f"{request.scheme}://{request.host}{target}"
            return uri, request.method, request.get_data(as_text=True), dict(request.headers)

        def record(endpoint: str, path: str, status: int, **extra: Any) -> None:
            oauth = _oauth_params()
            fake._record(
                ProviderCall(
                    endpoint=endpoint,
                    method=request.method,
                    path=path,
                    query=tuple(request.args.items(multi=True)),
                    signed="oauth_signature" in oauth,
                    valid=extra.pop("valid", False),
                    token=oauth.get("oauth_token"),
                    user=extra.pop("user", None),
                    status=status,
                    signature_method=oauth.get("oauth_signature_method"),
                    body=request.get_data(as_text=True),
                    content_type=request.content_type,
                )
            )

        def token_endpoint(endpoint: str, create: Callable[..., tuple[dict[str, str], str | None, int]]) -> Response:
            failure = fake._before(endpoint)
            if failure is not None:
                record(endpoint, request.path, failure.status)
                return Response(failure.body, status=failure.status, mimetype="text/plain")
            headers, body, status = create(*wire())
            user = None
            if endpoint == "access_token" and status == 200 and body:
                # Add the test user's profile, the way Twitter/X sends user_id and screen_name.
                fields: dict[str, str] = dict(parse_qsl(body))
                user = fake.user_of(fields.get("oauth_token", ""))
                if user is not None:
                    known: dict[str, Any] = fake.users.get(user) or {}
                    profile: dict[str, str] = {k: str(known[k]) for k in ("user_id", "screen_name") if k in known}
                    merged: dict[str, str] = {**fields, **profile}
                    body = urlencode(merged)
            record(endpoint, request.path, status, valid=status == 200, user=user)
            return Response(body or "", status=status, headers=headers)

        @app.post("/oauth/request_token")
        @app.get("/oauth/request_token")
        def request_token() -> Response:
            return token_endpoint("request_token", request_endpoint.create_request_token_response)

        @app.post("/oauth/access_token")
        @app.get("/oauth/access_token")
        def access_token() -> Response:
            return token_endpoint("access_token", access_endpoint.create_access_token_response)

        @app.route("/oauth/authorize", methods=["GET", "POST"])
        def authorize() -> Response:
            failure = fake._before("authorize")
            if failure is not None:
                record("authorize", request.path, failure.status)
                return Response(failure.body, status=failure.status, mimetype="text/plain")
            token = request.values.get("oauth_token", "")
            with fake._state.lock:
                pending = fake._state.request_tokens.get(token)
                callback = None if pending is None else str(pending["callback"])
            if pending is None or callback is None:
                record("authorize", request.path, 400)
                return Response("fake provider: unknown or used request token", status=400, mimetype="text/plain")
            decision = fake._next_decision()
            if decision is None:
                if request.values.get("deny") or request.values.get("action") == "deny":
                    decision = ("deny", None)
                elif request.values.get("user") or request.values.get("action") == "approve":
                    decision = ("approve", request.values.get("user") or fake.default_user)
            if decision is None:
                record("authorize", request.path, 200)
                return Response(fake._consent_page(token), mimetype="text/html")
            kind, user = decision
            if kind == "deny":
                with fake._state.lock:
                    fake._state.request_tokens.pop(token, None)
                record("authorize", request.path, 302)
                return _redirect(_add_query(callback, {"denied": token}))
            if user not in fake.users:
                record("authorize", request.path, 400)
                return Response(f"fake provider: unknown test user {user!r}", status=400, mimetype="text/plain")
            with fake._state.lock:
                pending["user"] = user
            uri = f"{request.scheme}://{request.host}{request.path}?{urlencode({'oauth_token': token})}"
            try:
                headers, body, status = authorization_endpoint.create_authorization_response(uri, "GET", "", {})
            except OAuth1Error as exc:
                record("authorize", request.path, exc.status_code)
                return Response(exc.urlencoded, status=exc.status_code, mimetype="application/x-www-form-urlencoded")
            record("authorize", request.path, status, valid=True, user=user)
            return Response(body or "", status=status, headers=headers)

        @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        def api(rest: str) -> Response:
            failure = fake._before("api")
            if failure is not None:
                record("api", rest, failure.status)
                return Response(failure.body, status=failure.status, mimetype="text/plain")
            oauth = _oauth_params()
            valid, user = False, None
            if "oauth_signature" in oauth:
                try:
                    valid, _ = resource_endpoint.validate_protected_resource_request(*wire())
                except OAuth1Error:
                    valid = False
                if valid:
                    user = fake.user_of(oauth.get("oauth_token", ""))
            if not valid and rest not in fake._public:
                record("api", rest, 401)
                reason = "invalid signature or token" if oauth else "this API needs a signed request"
                return Response(json.dumps({"error": reason}), status=401, mimetype="application/json")
            with fake._lock:
                route = fake._routes.get((request.method, rest)) or fake._routes.get((None, rest))
            status, payload, headers = 200, None, {}
            call = ProviderCall(
                endpoint="api",
                method=request.method,
                path=rest,
                query=tuple(request.args.items(multi=True)),
                signed="oauth_signature" in oauth,
                valid=valid,
                token=oauth.get("oauth_token"),
                user=user,
                status=0,
                signature_method=oauth.get("oauth_signature_method"),
                body=request.get_data(as_text=True),
                content_type=request.content_type,
            )
            if route is None:
                payload = {**(fake.users.get(user, {}) if user else {}), "path": rest, "method": request.method}
            else:
                status, payload, headers = route.status, route.payload, dict(route.headers)
                if route.handler is not None:
                    answer = route.handler(call)
                    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], int):
                        payload, status = answer
                    else:
                        payload = answer
            fake._record(_replace_status(call, status))
            return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)

        return app

    def _consent_page(self, token: str) -> str:
        options = "".join(f'<option value="{escape(name)}">{escape(name)}</option>' for name in self.users)
        return (
            "<!doctype html><title>Fake provider: authorize</title>"
            "<h1>An application wants to use your account</h1>"
            '<form method="post">'
            f'<input type="hidden" name="oauth_token" value="{escape(token)}">'
            f'<label>Sign in as <select name="user">{options}</select></label> '
            '<button name="action" value="approve">Authorize</button> '
            '<button name="action" value="deny">Deny</button>'
            "</form>"
        )

    def _authorize(self, url: str, *, user: str | None, deny: bool, timeout: float) -> tuple[int, str | None, str]:
        """Visit the authorize *url* like a browser would; returns (status, Location, body)."""
        from .._http import httpx

        params: dict[str, str] = {}
        if deny:
            params["action"] = "deny"
        elif user is not None:
            params["user"] = user
        else:
            params["action"] = "approve"
        verify: ssl.SSLContext | bool = self._client_context if self._client_context is not None else True
        with httpx.Client(verify=verify, timeout=timeout, follow_redirects=False) as client:
            answer = client.get(_add_query(url, params))
        return answer.status_code, answer.headers.get("location"), answer.text


def _oauth_params() -> dict[str, str]:
    """The ``oauth_*`` parameters of the current request, wherever they were sent."""
    found: dict[str, str] = {}
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "oauth ":
        from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

        try:
            found.update(dict(parse_authorization_header(header)))
        except (ValueError, TypeError):
            found["oauth_signature"] = "?"
    pairs = list(request.args.items(multi=True))
    if request.mimetype == "application/x-www-form-urlencoded":
        # Parse the body from the cached bytes: touching request.form would consume it.
        pairs += parse_qsl(request.get_data(as_text=True), keep_blank_values=True)
    for key, value in pairs:
        if key.startswith("oauth_"):
            found.setdefault(key, value)
    found.pop("realm", None)
    return found


def _add_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return parts._replace(query=urlencode(query)).geturl()


def _redirect(location: str) -> Response:
    return Response("", status=302, headers={"Location": location})


def _replace_status(call: ProviderCall, status: int) -> ProviderCall:
    return dataclasses.replace(call, status=status)
