"""The remote-app layer: :class:`RemoteApp`, the only code that touches Flask's request.

It reads :data:`flask.request`, :data:`flask.session` and :data:`flask.g`,
turns them into the plain inputs of the protocol steps (:mod:`.flows`),
drives the steps with the sync or async driver, and builds the redirect
response. Each call exists in a dual, a ``_sync`` and an ``_async`` form.

The verbs (``get``... in their three forms) are written out one by one: a
method made by a factory would reach ``help()``, Sphinx and editors as an
attribute rather than a method with its own parameters and docstring, and
its exact types for ``mypy --strict`` would have to be declared again by
hand anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urljoin, urlsplit, urlunsplit

from flask import current_app, g, has_request_context, redirect, request, session
from werkzeug.wrappers import Response as WerkzeugResponse

from . import flows, signals
from ._binding import BindingSource, RemoteBinding
from ._dual import DualRedirect, DualResponse, DualToken, dual
from ._effects import Flow
from ._http import httpx
from ._urls import redact_url
from .errors import AccessDeniedError, ConfigurationError, OAuth1Error
from .tokens import OAuth1Token, TokenLike, TokenSlot

__all__ = ["MAX_NEXT_URL", "RemoteApp", "safe_next_url"]

_G_SLOTS = "_flask_oauth1_async_tokens"
_G_NEXT = "_flask_oauth1_async_next"
#: Longest "next" URL kept with a pending login (it lives in the session cookie).
MAX_NEXT_URL = 512


def safe_next_url(value: str | None) -> str | None:
    """Return *value* if it is a safe place to send the user after a login, else None.

    Safe means a path on this site: it starts with a single ``/`` (not
    ``//`` or ``/\\``, which browsers treat as another host), has no scheme,
    host, control character or backslash, and is at most
    :data:`MAX_NEXT_URL` characters. An absolute URL is accepted only for
    the current request's own origin, and is reduced to its path. Call it
    inside a request.
    """
    if not value or len(value) > MAX_NEXT_URL:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        origin = urlsplit(request.host_url)
        if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
            return None
        value = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if not value.startswith("/") or value.startswith("//"):
        return None
    return value


_Kw = Any


def _outside_request(what: str) -> RuntimeError:
    return RuntimeError(
        f"{what} needs the current request (its session and query): call it inside a view (or a test_request_context)"
    )


def _slot(name: str) -> TokenSlot:
    slots: dict[str, TokenSlot] = g.setdefault(_G_SLOTS, {})
    slot = slots.get(name)
    if slot is None:
        slot = slots.setdefault(name, TokenSlot())
    return slot


def _require_secret_key() -> None:
    if not current_app.secret_key:
        raise ConfigurationError(
            "the Flask app has no SECRET_KEY; the OAuth 1 login keeps its temporary credentials in the "
            "session, which needs one (set app.secret_key or app.config['SECRET_KEY'])"
        )


class RemoteApp:
    """One OAuth 1.0a provider, as registered with :meth:`OAuth.register`.

    Every call exists in three forms:

    * ``name()`` - *dual*: inside a running event loop (an ``async def``
      view) it returns an awaitable; anywhere else it blocks and returns the
      result;
    * ``name_sync()`` - always blocks and returns the result;
    * ``name_async()`` - always a coroutine.

    The object is shared by all apps of the registry; the settings and HTTP
    clients used are those of the current Flask app.
    """

    __slots__ = ("_registry", "name")

    def __init__(self, registry: BindingSource, name: str) -> None:
        self._registry = registry
        #: The registered name, e.g. ``"twitter"``.
        self.name = name

    def __repr__(self) -> str:
        return f"<RemoteApp {self.name!r}>"

    def _binding(self) -> RemoteBinding:
        return self._registry._binding(self.name)

    def _setting(self, key: str) -> Any:
        value = self._registry._settings_preview(self.name).get(key)
        return MappingProxyType(dict(value)) if isinstance(value, Mapping) else value

    # -- settings (read-only; resolved for the current app when there is one) --

    @property
    def client_id(self) -> str | None:
        """The consumer key."""
        return cast("str | None", self._setting("client_id"))

    @property
    def client_secret(self) -> str | None:
        """The consumer secret (kept out of every ``repr`` and message)."""
        return cast("str | None", self._setting("client_secret"))

    @property
    def request_token_url(self) -> str | None:
        """The temporary-credential endpoint."""
        return cast("str | None", self._setting("request_token_url"))

    @property
    def request_token_params(self) -> Mapping[str, Any] | None:
        """Extra parameters sent to the request-token endpoint."""
        return cast("Mapping[str, Any] | None", self._setting("request_token_params"))

    @property
    def access_token_url(self) -> str | None:
        """The token-credential endpoint."""
        return cast("str | None", self._setting("access_token_url"))

    @property
    def access_token_params(self) -> Mapping[str, Any] | None:
        """Extra parameters sent to the access-token endpoint."""
        return cast("Mapping[str, Any] | None", self._setting("access_token_params"))

    @property
    def authorize_url(self) -> str | None:
        """Where the browser is sent to authorize."""
        return cast("str | None", self._setting("authorize_url"))

    @property
    def authorize_params(self) -> Mapping[str, Any] | None:
        """Extra query parameters of the authorize URL."""
        return cast("Mapping[str, Any] | None", self._setting("authorize_params"))

    @property
    def api_base_url(self) -> str | None:
        """The base of relative resource URLs."""
        return cast("str | None", self._setting("api_base_url"))

    @property
    def client_kwargs(self) -> Mapping[str, Any] | None:
        """httpx client options and OAuth 1 options."""
        return cast("Mapping[str, Any] | None", self._setting("client_kwargs"))

    @property
    def token(self) -> OAuth1Token | None:
        """This request's token for this remote, if one is known yet.

        Set by :meth:`authorize_access_token` or by an assignment, and found
        by a first signed call through ``fetch_token``. It lives on
        :data:`flask.g`, so it never outlives the request or leaks to another
        user (as in Authlib, where the same property exists).
        """
        if not has_request_context():
            return None
        slots: dict[str, TokenSlot] = g.get(_G_SLOTS) or {}
        slot = slots.get(self.name)
        return slot.value if slot is not None else None

    @token.setter
    def token(self, value: TokenLike | None) -> None:
        if not has_request_context():
            raise RuntimeError("a remote app's token lives on flask.g: set it inside a request")
        if value is None:
            _slot(self.name).clear()
        else:
            _slot(self.name).set(value)

    def _label(self, method: str) -> str:
        return f"oauth.{self.name}.{method}"

    # -- authorize_redirect --------------------------------------------------

    def authorize_redirect_sync(
        self, redirect_uri: str | None = None, *, next_url: str | None = None, **kwargs: _Kw
    ) -> WerkzeugResponse:
        """Fetch a request token and return a redirect to the provider's authorize page.

        *redirect_uri* is the callback URL (absolute, or relative to the
        current request); without it ``oob`` is sent. *next_url* is where to
        send the user after the login (see :meth:`redirect_to_next`): it is
        kept with the pending login, never sent to the provider, and dropped
        unless :func:`safe_next_url` accepts it. Extra keywords are added to
        the authorize URL's query and win over ``authorize_params``.

        The redirect is **302 Found** on every supported Flask, whatever
        :func:`flask.redirect` defaults to (303 from Flask 3.2): the most
        widely accepted code for the browser's GET to an authorize page.
        """
        binding, flow = self._start_login(redirect_uri, next_url, kwargs)
        return self._started(cast(str, binding.run_sync(flow)))

    async def authorize_redirect_async(
        self, redirect_uri: str | None = None, *, next_url: str | None = None, **kwargs: _Kw
    ) -> WerkzeugResponse:
        """Awaitable form of :meth:`authorize_redirect_sync`."""
        binding, flow = self._start_login(redirect_uri, next_url, kwargs)
        return self._started(cast(str, await binding.run_async(flow)))

    def _started(self, url: str) -> WerkzeugResponse:
        signals.login_started.send(current_app._get_current_object(), remote=self.name, authorize_url=url)  # type: ignore[attr-defined]
        return redirect(url, code=302)  # explicit: Flask 3.2's default is 303

    def _start_login(
        self, redirect_uri: str | None, next_url: str | None, kwargs: dict[str, Any]
    ) -> tuple[RemoteBinding, Flow[str]]:
        # Everything that can fail without the network fails here, before
        # the signed request-token call.
        if not has_request_context():
            raise _outside_request("authorize_redirect()")
        binding = self._binding()
        _require_secret_key()  # the flow checks its URLs itself, before its first request
        callback = urljoin(request.url, redirect_uri) if redirect_uri else "oob"
        flow = flows.start_login(
            binding.settings, binding.signer, binding.store, session, callback, kwargs, safe_next_url(next_url)
        )
        return binding, flow

    def authorize_redirect(
        self, redirect_uri: str | None = None, *, next_url: str | None = None, **kwargs: _Kw
    ) -> DualRedirect:
        """Dual form of :meth:`authorize_redirect_sync` (await it in async views)."""
        return cast(
            DualRedirect,
            dual(
                self._label("authorize_redirect"),
                "authorize_redirect_sync",
                lambda: self.authorize_redirect_sync(redirect_uri, next_url=next_url, **kwargs),
                lambda: self.authorize_redirect_async(redirect_uri, next_url=next_url, **kwargs),
            ),
        )

    # -- authorize_access_token ----------------------------------------------

    def authorize_access_token_sync(self, **kwargs: _Kw) -> OAuth1Token:
        """Handle the callback: check it, consume the request token, fetch the access token.

        Returns the token (with the provider's extra fields, such as
        ``screen_name``) and makes it this request's token for later calls.
        Extra keywords are sent to the access-token endpoint, over
        ``access_token_params``. Raises an :class:`~.errors.AuthorizationError`
        for a bad callback (denied, unknown/expired/replayed token, no
        verifier) and a :class:`~.errors.ProviderError` for a bad answer.
        """
        binding, flow = self._finish_login(kwargs)
        try:
            login = cast(flows.Login, binding.run_sync(flow))
        except OAuth1Error as exc:
            self._failed(exc)
            raise
        return self._remember(login)

    async def authorize_access_token_async(self, **kwargs: _Kw) -> OAuth1Token:
        """Awaitable form of :meth:`authorize_access_token_sync`."""
        binding, flow = self._finish_login(kwargs)
        try:
            login = cast(flows.Login, await binding.run_async(flow))
        except OAuth1Error as exc:
            self._failed(exc)
            raise
        return self._remember(login)

    def _finish_login(self, kwargs: dict[str, Any]) -> tuple[RemoteBinding, Flow[flows.Login]]:
        if not has_request_context():
            raise _outside_request("authorize_access_token()")
        binding = self._binding()
        flow = flows.finish_login(binding.settings, binding.signer, binding.store, session, request.args, kwargs)
        return binding, flow

    def _remember(self, login: flows.Login) -> OAuth1Token:
        _slot(self.name).set(login.token)
        g.setdefault(_G_NEXT, {})[self.name] = login.next_url
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        signals.login_completed.send(app, remote=self.name, token=login.token)
        return login.token

    def _failed(self, error: OAuth1Error) -> None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        signal = signals.login_denied if isinstance(error, AccessDeniedError) else signals.login_failed
        signal.send(app, remote=self.name, error=error)

    @property
    def next_url(self) -> str | None:
        """The safe "next" URL of the login this request completed, or None."""
        if not has_request_context():
            return None
        stored: dict[str, str | None] = g.get(_G_NEXT) or {}
        return stored.get(self.name)

    def redirect_to_next(self, default: str = "/") -> WerkzeugResponse:
        """A redirect to :attr:`next_url` (after :meth:`authorize_access_token`), or to *default*.

        The answer is **302 Found** on every supported Flask (Flask 3.2's
        ``redirect()`` defaults to 303), like :meth:`authorize_redirect_sync`.
        """
        return redirect(self.next_url or default, code=302)

    def authorize_access_token(self, **kwargs: _Kw) -> DualToken:
        """Dual form of :meth:`authorize_access_token_sync` (await it in async views)."""
        return cast(
            DualToken,
            dual(
                self._label("authorize_access_token"),
                "authorize_access_token_sync",
                lambda: self.authorize_access_token_sync(**kwargs),
                lambda: self.authorize_access_token_async(**kwargs),
            ),
        )

    # -- request ---------------------------------------------------------------

    def request_sync(
        self, method: str, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Send a signed request and return the :class:`httpx.Response`.

        A relative *url* is joined to ``api_base_url``. The token is *token*
        if given, else this request's token (``fetch_token`` is called at most
        once per request and remote). ``withhold_token=True`` sends the
        request unsigned. Other keywords go to httpx (``params``, ``data``,
        ``json``, ``content``, ``files``, ``headers``, ``cookies``,
        ``timeout``, ``extensions``, ``follow_redirects``), except the
        package's own (``consumer_only``, ``body_hash``, ``retry``,
        ``sign_multipart_fields``, ``deadline``: see docs/configuration.rst).
        A signed call to an origin that is not the remote's own nor in
        ``allowed_origins`` raises :class:`~.errors.OriginNotAllowedError`.
        Network failures raise :class:`~.errors.TransportError` (a call past
        its deadline :class:`~.errors.RequestTimeoutError`); HTTP errors do
        not raise (use ``raise_for_status()``).
        """
        binding, flow = self._call(method, url, token, withhold_token, kwargs)
        return self._answered(cast(httpx.Response, binding.run_sync(flow)))

    async def request_async(
        self, method: str, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable form of :meth:`request_sync`."""
        binding, flow = self._call(method, url, token, withhold_token, kwargs)
        return self._answered(cast(httpx.Response, await binding.run_async(flow)))

    def _answered(self, response: httpx.Response) -> httpx.Response:
        if signals.api_call.receivers and has_request_context():
            signals.api_call.send(
                current_app._get_current_object(),  # type: ignore[attr-defined]
                remote=self.name,
                method=response.request.method,
                url=redact_url(response.request.url),
                status_code=response.status_code,
            )
        return response

    def _call(
        self, method: str, url: str, token: TokenLike | None, withhold_token: bool, kwargs: dict[str, Any]
    ) -> tuple[RemoteBinding, Flow[httpx.Response]]:
        binding = self._binding()
        fetch, args = binding.token_fetcher()
        flow = flows.call_resource(
            binding.settings,
            binding.signer,
            method,
            url,
            token=token,
            withhold_token=withhold_token,
            slot=_slot(self.name) if has_request_context() else None,
            fetch=fetch,
            fetch_args=args,
            kwargs=kwargs,
        )
        return binding, flow

    def request(
        self, method: str, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual form of :meth:`request_sync` (await it in async views)."""
        return cast(
            DualResponse,
            dual(
                self._label("request"),
                "request_sync",
                lambda: self.request_sync(method, url, token, withhold_token, **kwargs),
                lambda: self.request_async(method, url, token, withhold_token, **kwargs),
            ),
        )

    def _verb(
        self, method: str, url: str, token: TokenLike | None, withhold_token: bool, kwargs: dict[str, Any]
    ) -> Any:
        label = method.lower()
        return dual(
            self._label(label),
            f"{label}_sync",
            lambda: self.request_sync(method, url, token, withhold_token, **kwargs),
            lambda: self.request_async(method, url, token, withhold_token, **kwargs),
        )

    def get(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed GET; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("GET", url, token, withhold_token, kwargs))

    def post(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed POST; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("POST", url, token, withhold_token, kwargs))

    def put(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed PUT; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("PUT", url, token, withhold_token, kwargs))

    def patch(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed PATCH; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("PATCH", url, token, withhold_token, kwargs))

    def delete(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> DualResponse:
        """Dual signed DELETE; see :meth:`request_sync`."""
        return cast(DualResponse, self._verb("DELETE", url, token, withhold_token, kwargs))

    def get_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed GET; see :meth:`request_sync`."""
        return self.request_sync("GET", url, token, withhold_token, **kwargs)

    def post_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed POST; see :meth:`request_sync`."""
        return self.request_sync("POST", url, token, withhold_token, **kwargs)

    def put_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed PUT; see :meth:`request_sync`."""
        return self.request_sync("PUT", url, token, withhold_token, **kwargs)

    def patch_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed PATCH; see :meth:`request_sync`."""
        return self.request_sync("PATCH", url, token, withhold_token, **kwargs)

    def delete_sync(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Blocking signed DELETE; see :meth:`request_sync`."""
        return self.request_sync("DELETE", url, token, withhold_token, **kwargs)

    async def get_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed GET; see :meth:`request_sync`."""
        return await self.request_async("GET", url, token, withhold_token, **kwargs)

    async def post_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed POST; see :meth:`request_sync`."""
        return await self.request_async("POST", url, token, withhold_token, **kwargs)

    async def put_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed PUT; see :meth:`request_sync`."""
        return await self.request_async("PUT", url, token, withhold_token, **kwargs)

    async def patch_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed PATCH; see :meth:`request_sync`."""
        return await self.request_async("PATCH", url, token, withhold_token, **kwargs)

    async def delete_async(
        self, url: str, token: TokenLike | None = None, withhold_token: bool = False, **kwargs: _Kw
    ) -> httpx.Response:
        """Awaitable signed DELETE; see :meth:`request_sync`."""
        return await self.request_async("DELETE", url, token, withhold_token, **kwargs)
