"""A fake OAuth 1.0a provider for the tests of apps that use flask_oauth1_async.

:class:`FakeProvider` is a real HTTP server on 127.0.0.1. Its protocol work
is done by oauthlib's provider endpoints (``RequestTokenEndpoint``,
``AuthorizationEndpoint``, ``AccessTokenEndpoint``, ``ResourceEndpoint``)
with a storage-only ``RequestValidator``: none of oauthlib's checks are
switched off, so every signature, timestamp, nonce (each one is accepted
once), key format and token binding is verified the way a strict provider
would. It serves HTTPS with a throw-away certificate authority made by
``trustme`` (oauthlib refuses plain HTTP by default);
:meth:`FakeProvider.register_kwargs` and :meth:`FakeProvider.config` hand
the app an SSL context that trusts it. Connections are kept alive, as a real
provider's are.

What a test can script:

* who approves the next authorization (:meth:`FakeProvider.approve_next`) or
  that the user clicks "Deny" (:meth:`FakeProvider.deny_next`);
* canned answers instead of an endpoint's work: errors
  (:meth:`FakeProvider.fail_next`, with ``Retry-After`` for a rate limit) and
  any body at all (:meth:`FakeProvider.answer_next`);
* a request-token answer without ``oauth_callback_confirmed``
  (:meth:`FakeProvider.set_callback_confirmed`);
* a provider clock that is off (:meth:`FakeProvider.set_clock_offset`);
* latency per endpoint (:meth:`FakeProvider.slow_down`);
* what an API path answers (:meth:`FakeProvider.respond`);
* more consumers, RSA ones too (:meth:`FakeProvider.add_consumer`), and access
  tokens without a login (:meth:`FakeProvider.issue_token`).

Every request the provider sees is recorded as a :class:`ProviderCall`:
:attr:`FakeProvider.calls` holds the API calls, :attr:`FakeProvider.token_requests`
the calls to the token endpoints and the authorize page, and
:meth:`FakeProvider.received` any of them by endpoint and path.

The code lives in rooms of its own: ``_validator`` (storage and the oauthlib
validator), ``_controls`` (the script and the records), ``_app`` (the Flask
app), ``_ca`` (TLS) and ``_server`` (the keep-alive HTTP server).
"""

from __future__ import annotations

import importlib
import ssl
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from . import _controls
from ._app import add_query, build_app
from ._controls import FORM, Answer, Decision, ProviderCall, Route, Script, check_endpoint
from ._server import ServerThread
from ._validator import Consumer, Storage, new_key

__all__ = ["ENDPOINTS", "FakeProvider", "ProviderCall"]

#: The endpoint names used by :meth:`FakeProvider.fail_next`, :meth:`FakeProvider.answer_next`,
#: :meth:`FakeProvider.slow_down`, :meth:`FakeProvider.received` and :attr:`ProviderCall.endpoint`.
ENDPOINTS = _controls.ENDPOINTS

_HOST = "127.0.0.1"
_INSTALL_HINT = 'pip install "flask_oauth1_async[testing]"'


def _require(module: str, purpose: str) -> None:
    """Import *module* now, so that a missing extra is reported when the provider is made."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"FakeProvider needs {module} ({purpose}), which is not installed: {_INSTALL_HINT}") from exc


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
    *realms* are the realms the provider has (none by default): oauthlib
    refuses a request token for a ``realm`` it does not list.

    Raises ImportError, naming the ``testing`` extra, when oauthlib (or, for
    HTTPS, trustme) is not installed.
    """

    def __init__(
        self,
        users: tuple[str, ...] | list[str] = ("alice", "bob"),
        *,
        default_user: str | None = None,
        tls: bool = True,
        port: int = 0,
        realms: tuple[str, ...] | list[str] = (),
    ) -> None:
        _require("oauthlib.oauth1", "its provider endpoints verify every request")
        if tls:
            _require("trustme", "the certificate authority of its HTTPS")
        if not users:
            raise ValueError("a FakeProvider needs at least one test user")
        self.client_id = new_key()
        self.client_secret = new_key(28)
        self.users: dict[str, dict[str, Any]] = {}
        for name in users:
            self.add_user(name)
        self.default_user = default_user if default_user is not None else next(iter(self.users))
        self.tls = tls
        self.realms = tuple(realms)
        self._port = port
        self._storage = Storage()
        self._storage.consumers[self.client_id] = Consumer(self.client_secret)
        self._script = Script()
        self._server: ServerThread | None = None
        self._client_context: ssl.SSLContext | None = None

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
            from ._ca import tls_contexts

            server_context, self._client_context = tls_contexts(_HOST, "localhost")
        server = ServerThread(build_app(self), port=self._port, ssl_context=server_context, name="fake-oauth1-provider")
        server.name = f"fake-oauth1-provider:{server.port}"
        self._server = server.start()
        _running.add(self)
        return self

    def close(self) -> None:
        """Stop the server, close its connections and wait for its threads (idempotent)."""
        server, self._server = self._server, None
        _running.discard(self)
        if server is not None:
            server.stop()

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

    def _running_server(self) -> ServerThread:
        if self._server is None:
            raise RuntimeError("the FakeProvider is not started: use 'with FakeProvider() as fake:' or start()")
        return self._server

    @property
    def url(self) -> str:
        """The provider's origin, such as ``https://127.0.0.1:54321``."""
        return self._running_server().url

    @property
    def port(self) -> int:
        """The TCP port the provider listens on."""
        return self._running_server().port

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
        self._running_server()
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

    # ---------------------------------------------------------------- users, consumers, tokens

    def add_user(self, name: str, **profile: Any) -> dict[str, Any]:
        """Add (or replace) the test user *name*; *profile* adds or overrides fields."""
        if not name or not name.isidentifier():
            raise ValueError(f"test user names must be identifiers, not {name!r}")
        record = {"user_id": str(1000 + len(self.users) + 1), "screen_name": name, "name": name.title()}
        record.update(profile)
        self.users[name] = record
        return record

    def add_consumer(
        self, secret: str | None = None, *, rsa_public_key: str | None = None, key: str | None = None
    ) -> str:
        """Register another consumer and return its key (the ``client_id`` of an app that uses it).

        Give its shared *secret* (HMAC-* and PLAINTEXT signatures), the PEM
        *rsa_public_key* that verifies its RSA-* signatures, or both. *key*
        chooses the key, which must fit oauthlib's format (20 to 30 letters
        and digits); a random one is made otherwise. Tokens are bound to the
        consumer they were issued to.
        """
        if secret is None and rsa_public_key is None:
            raise ValueError("a consumer needs a secret, an RSA public key, or both")
        if key is None:
            key = new_key()
        elif not (20 <= len(key) <= 30 and key.isascii() and key.isalnum()):
            raise ValueError(f"consumer keys are 20 to 30 letters and digits (oauthlib's format), not {key!r}")
        with self._storage.lock:
            self._storage.consumers[key] = Consumer(secret, rsa_public_key)
        return key

    def issue_token(self, user: str | None = None, *, consumer: str | None = None) -> dict[str, str]:
        """An access token for *user* (default: :attr:`default_user`), without a login.

        Returns ``{"oauth_token": ..., "oauth_token_secret": ...}``, issued to
        *consumer* (default: :attr:`client_id`); the API accepts it at once.
        """
        name = user or self.default_user
        if name not in self.users:
            raise ValueError(f"unknown test user {name!r}; known: {', '.join(self.users)}")
        client = consumer or self.client_id
        with self._storage.lock:
            if client not in self._storage.consumers:
                raise ValueError(f"unknown consumer {client!r}")
        return self._storage.issue_access_token(client, name)

    def token_secret(self, token: str) -> str | None:
        """The secret of a live request token or access token (None when unknown, used or revoked)."""
        with self._storage.lock:
            record = self._storage.request_tokens.get(token) or self._storage.access_tokens.get(token)
            return None if record is None else str(record["secret"])

    # ---------------------------------------------------------------- scripting

    def approve_next(self, user: str | None = None) -> None:
        """The next authorization is approved as *user* (default: :attr:`default_user`)."""
        name = user or self.default_user
        if name not in self.users:
            raise ValueError(f"unknown test user {name!r}; known: {', '.join(self.users)}")
        with self._script.lock:
            self._script.decisions.append(Decision(approve=True, user=name))

    def deny_next(self, callback_params: Mapping[str, str] | None = None) -> None:
        """The next authorization is denied: the callback gets ``?denied=<request token>``.

        That is how Twitter/X reports a denial. *callback_params* replaces
        it, for providers that say it otherwise (for example
        ``{"error": "access_denied"}``).
        """
        params = dict(callback_params) if callback_params is not None else None
        with self._script.lock:
            self._script.decisions.append(Decision(approve=False, callback_params=params))

    def answer_next(
        self,
        endpoint: str,
        body: str = "",
        *,
        status: int = 200,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int | None = 1,
    ) -> None:
        """The next *times* requests to *endpoint* get this answer instead of the endpoint's work.

        Nothing is checked, created or consumed by those requests (an API
        call's signature is still checked and recorded). *content_type*
        defaults to ``text/html`` for a body that starts with ``<`` and to
        ``application/x-www-form-urlencoded`` otherwise, which is how a token
        endpoint answers; *headers* are added. ``times=None`` answers so until
        :meth:`reset`. Canned answers queue up: each is used *times* times, then
        the next.
        """
        check_endpoint(endpoint)
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: until reset())")
        if content_type is None:
            content_type = "text/html; charset=utf-8" if body.lstrip().startswith("<") else FORM
        answer = Answer(status, body, content_type, dict(headers or {}), times)
        with self._script.lock:
            self._script.answers[endpoint].append(answer)

    def fail_next(
        self,
        endpoint: str,
        status: int = 500,
        *,
        times: int | None = 1,
        body: str | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The next *times* requests to *endpoint* answer *status* instead of doing their work.

        The body is a short ``text/plain`` line naming the scripted status
        unless *body* (and *content_type*) say otherwise. For a rate limit,
        ``fake.fail_next("api", 429, headers={"Retry-After": "7"})``.
        ``times=None`` fails every request until :meth:`reset`.
        """
        if body is None:
            body = f"fake provider: scripted {status} from {endpoint}"
            content_type = content_type or "text/plain; charset=utf-8"
        self.answer_next(endpoint, body, status=status, content_type=content_type, headers=headers, times=times)

    def set_callback_confirmed(self, value: bool | None) -> None:
        """What request-token answers say in ``oauth_callback_confirmed``.

        True sends ``true`` (the default, RFC 5849), False sends ``false``
        and None leaves the field out, as OAuth 1.0 providers (before 1.0a)
        did. :meth:`reset` brings back the default.
        """
        with self._script.lock:
            self._script.callback_confirmed = value

    def set_clock_offset(self, seconds: int) -> None:
        """Run the provider's clock *seconds* ahead of the real one (behind when negative).

        A request whose ``oauth_timestamp`` is more than oauthlib's ten
        minutes away from that clock is refused with HTTP 401 and
        ``oauth_problem=timestamp_refused&oauth_acceptable_timestamps=<from>-<to>``
        (the OAuth Problem Reporting extension), the way providers tell a
        client its clock is off. 0 (the default, and after :meth:`reset`)
        leaves the check to oauthlib.
        """
        with self._script.lock:
            self._script.clock_offset = int(seconds)

    def slow_down(self, seconds: float, endpoint: str | None = None) -> None:
        """Wait *seconds* before answering *endpoint* (every endpoint when None); 0 removes it."""
        if endpoint is not None:
            check_endpoint(endpoint)
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self._script.lock:
            self._script.latency[endpoint or "*"] = seconds

    def respond(
        self,
        path: str,
        json: Any = None,
        *,
        status: int = 200,
        method: str | None = None,
        handler: Callable[[ProviderCall], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
        content_type: str | None = None,
    ) -> None:
        """Set what the API answers at *path* (relative to :attr:`api_base_url`).

        A *path* that ends with ``*`` answers every path that starts with what
        comes before it (``"statuses/*"``; ``"*"`` for the whole API); an
        exact route wins over such a prefix route, a longer prefix over a
        shorter one. The answer is *json* with *status*, or what *handler* returns when
        called with the :class:`ProviderCall` (a JSON-able value, or a
        ``(value, status)`` pair). For an answer that is not JSON, give its
        *content_type* and a *body* (``str`` or ``bytes``), or a *handler*
        that returns the body. *method* limits the route to one HTTP method.
        Without a route, a path answers the signed-in test user's profile
        plus ``path`` and ``method``. Only calls with a valid signature reach
        a route, unless the path is :meth:`public`.
        """
        if body is not None and content_type is None:
            raise ValueError("a non-JSON body needs its content_type")
        route = Route(status, body if body is not None else json, handler, dict(headers or {}), content_type)
        with self._script.lock:
            self._script.routes[(method.upper() if method else None, path.lstrip("/"))] = route

    def public(self, path: str) -> None:
        """Let unsigned calls to *path* through (the default answers 401 to them)."""
        with self._script.lock:
            self._script.public.add(path.lstrip("/"))

    def reset(self) -> None:
        """Forget recorded calls and everything scripted, and zero the counters (tokens stay valid)."""
        self._script.reset()
        self.reset_counters()

    def revoke(self, user: str | None = None) -> int:
        """Invalidate the access tokens of *user* (all users when None); returns how many."""
        with self._storage.lock:
            tokens = self._storage.access_tokens
            doomed = [k for k, v in tokens.items() if user is None or v["user"] == user]
            for key in doomed:
                del tokens[key]
        return len(doomed)

    # ---------------------------------------------------------------- what happened

    @property
    def calls(self) -> list[ProviderCall]:
        """The API calls received so far, oldest first (a copy)."""
        return [c for c in self._script.recorded() if c.endpoint == "api"]

    @property
    def token_requests(self) -> list[ProviderCall]:
        """The requests to the request-token, authorize and access-token endpoints (a copy)."""
        return [c for c in self._script.recorded() if c.endpoint != "api"]

    def received(self, endpoint: str | None = None, path: str | None = None) -> list[ProviderCall]:
        """The requests received so far, oldest first, of *endpoint* (and at *path*) or all of them.

        *path* is relative to the API base for ``"api"``
        (``fake.received("api", "me")``); failed, refused and canned requests
        are in the list too, with their ``status``.
        """
        if endpoint is not None:
            check_endpoint(endpoint)
        found = self._script.recorded()
        if endpoint is not None:
            found = [c for c in found if c.endpoint == endpoint]
        if path is not None:
            found = [c for c in found if c.path == path]
        return found

    def access_tokens(self, user: str | None = None) -> list[str]:
        """The access tokens issued and still valid, for *user* or for everyone."""
        with self._storage.lock:
            return [k for k, v in self._storage.access_tokens.items() if user is None or v["user"] == user]

    def user_of(self, token: str) -> str | None:
        """The test user an access token belongs to (None when unknown or revoked)."""
        with self._storage.lock:
            record = self._storage.access_tokens.get(token)
            return None if record is None else record["user"]

    @property
    def connections(self) -> int:
        """TCP connections accepted since :meth:`start` (or :meth:`reset_counters`).

        The provider keeps connections alive, so an app that pools its
        connections opens one and sends many requests on it.
        """
        return self._running_server().connections

    @property
    def in_flight(self) -> int:
        """Requests being answered right now."""
        return self._running_server().in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests answered at the same moment since :meth:`start` (or :meth:`reset_counters`)."""
        return self._running_server().in_flight_max

    def reset_counters(self) -> None:
        """Zero :attr:`connections` and :attr:`max_in_flight` (records and scripts stay)."""
        if self._server is not None:
            self._server.reset_counters()

    # ---------------------------------------------------------------- used by login()

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
            answer = client.get(add_query(url, params))
        return answer.status_code, answer.headers.get("location"), answer.text
