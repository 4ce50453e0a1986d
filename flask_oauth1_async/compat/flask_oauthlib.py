"""Flask-OAuthlib's OAuth 1 client API, running on :mod:`flask_oauth1_async`.

Flask-OAuthlib 0.9.6 (its last release) no longer imports on current Flask and
oauthlib. An application written for it keeps working after one change::

    from flask_oauthlib.client import OAuth                   # before
    from flask_oauth1_async.compat.flask_oauthlib import OAuth  # after

Everything here is an adapter over the core registry: :class:`OAuth` owns a
:class:`flask_oauth1_async.OAuth` (:attr:`OAuth.native`) and every
:class:`OAuthRemoteApp` is a registered core
:class:`~flask_oauth1_async.RemoteApp` (:attr:`OAuthRemoteApp.native`). The
core signs, pools connections, stores the request token and calls the token
getter; this module maps Flask-OAuthlib's names, arguments, return values and
errors onto it. Every call that talks to the provider also has ``_sync`` and
``_async`` forms, so views can move to ``async def`` one at a time.

The parameters, the behaviour changes and what is not supported are listed
once, in the migration guide (``docs/migrating-flask-oauthlib.rst``). The
verbs are written out one by one, for the reason given in
:mod:`flask_oauth1_async.remote`.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable, Generator, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from asgiref.sync import iscoroutinefunction
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask import json as flask_json
from werkzeug.http import parse_options_header
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import registry as _core
from .._dual import DualRedirect, DualToken, dual
from .._http import httpx
from ..errors import (
    SECRET_FIELD_NAMES,
    AccessDeniedError,
    AuthorizationError,
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    MissingTokenError,
    OAuth1Error,
    ProviderError,
    ProviderHTTPError,
)
from ..signing import SIGNATURE_METHODS
from ..tokens import OAuth1Token, TokenLike

# Flask-OAuthlib imported oauthlib.oauth1 itself, so its apps could write
# ``oauthlib.oauth1.SIGNATURE_RSA`` after a bare ``import oauthlib``. That keeps
# working wherever oauthlib is installed (the optional "flask_oauthlib" extra).
try:
    import oauthlib.oauth1  # noqa: F401 - imported for that side effect only
except ImportError:  # pragma: no cover - exercised in a subprocess without oauthlib
    #: Whether oauthlib is installed (and ``oauthlib.oauth1`` imported).
    HAVE_OAUTHLIB = False
else:
    HAVE_OAUTHLIB = True

__all__ = [
    "HAVE_OAUTHLIB",
    "DualOAuthResponse",
    "OAuth",
    "OAuthException",
    "OAuthRemoteApp",
    "OAuthResponse",
    "PreRequestHook",
    "encode_request_data",
    "parse_response",
]

_F = TypeVar("_F", bound=Callable[..., Any])

#: The type of :attr:`OAuthRemoteApp.pre_request`: ``(uri, headers, body) -> (uri, headers, body)``.
PreRequestHook = Callable[[str, dict[str, str], Any], tuple[str, dict[str, str], Any]]

_FORM = "application/x-www-form-urlencoded"
_JSON_TYPES = frozenset({"application/json", "text/javascript"})
_XML_TYPES = frozenset({"application/xml", "text/xml"})

#: ``oauthlib.oauth1.Client`` keywords that configure signing, by their core ``client_kwargs`` name.
_SIGNING_KEYS = frozenset({"realm", "signature_method", "signature_type", "rsa_key"})
#: ``oauthlib.oauth1.Client`` keywords that have no meaning in a remote app's configuration.
_OAUTHLIB_ONLY_KEYS = frozenset(
    {
        "client_key",
        "client_secret",
        "resource_owner_key",
        "resource_owner_secret",
        "verifier",
        "nonce",
        "timestamp",
        "decoding",
    }
)
#: ``request_token_params`` keys Flask-OAuthlib accepted but never used.
_IGNORED_KEYS = frozenset({"encoding"})
_SIGNATURE_TYPES = {"AUTH_HEADER": "header", "QUERY": "query", "BODY": "body"}

# ---------------------------------------------------------------------- errors


class OAuthException(OAuth1Error, RuntimeError):
    """Flask-OAuthlib's error, raised when a step of the OAuth dance fails.

    The constructor and attributes are Flask-OAuthlib's: ``message``, ``type``
    (``"token_generation_failed"``, ``"invalid_response"``,
    ``"token_not_found"`` or ``"token_missing"``) and ``data`` (what the
    provider answered, parsed when possible, with secret fields such as
    ``oauth_token_secret`` replaced by ``***``); ``str(exc)`` is the message.

    It is also a :class:`flask_oauth1_async.OAuth1Error` (and so an Authlib
    ``OAuthError``, with ``error`` = ``type`` and ``description`` = message),
    so one ``except OAuth1Error`` clause covers views already moved to the
    native API too; and it is still a :class:`RuntimeError`, its old base
    class. The core error it translates is chained as ``__cause__``.
    """

    error = "oauth_exception"

    def __init__(self, message: str, type: str | None = None, data: Any = None) -> None:
        super().__init__(message, error=type)
        #: The human-readable message (also ``str(exc)``).
        self.message = message
        #: Flask-OAuthlib's error code, or None.
        self.type = type
        #: The provider's answer (a dict when it could be parsed), or None.
        self.data = data
        self.args = (message, type, data)  # pickles and copies like Flask-OAuthlib's

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return f"OAuthException({self.message!r}, type={self.type!r})"


#: Fields of a provider's answer that ``OAuthException.data`` never shows (the core's list).
_SECRET_FIELDS = frozenset(SECRET_FIELD_NAMES)


def _answer_data(excerpt: str) -> Any:
    """Best-effort parse of the (shortened) body a core error quotes; secret fields are masked."""
    if not excerpt:
        return None
    try:
        loaded = json.loads(excerpt)
    except ValueError:
        loaded = None
    fields: dict[str, Any]
    if isinstance(loaded, dict):
        fields = loaded
    else:
        try:
            fields = dict(parse_qsl(excerpt, keep_blank_values=True, strict_parsing=True))
        except ValueError:
            return excerpt
    return {k: ("***" if str(k).lower() in _SECRET_FIELDS else v) for k, v in fields.items()}


def _token_missing(name: str) -> OAuthException:
    return OAuthException(
        f"No token available for {name!r}: the tokengetter returned None (or none is registered); "
        "log the user in, or pass token=(token, secret)",
        type="token_missing",
    )


# ---------------------------------------------------------------------- responses


def _parse_body(content: bytes, content_type: str) -> Any:
    """:func:`parse_response` in strict mode, keeping the bytes of a body that does not parse."""
    try:
        return parse_response(None, content, strict=True, content_type=content_type)
    except (ValueError, ElementTree.ParseError):
        return content


class OAuthResponse:
    """The answer of a resource call, as Flask-OAuthlib shaped it.

    ``data`` is the body parsed by content type: JSON (``application/json``,
    ``text/javascript``) gives the decoded value, XML (``application/xml``,
    ``text/xml``) an :class:`xml.etree.ElementTree.Element`, a form body a
    ``dict``, anything else the raw ``bytes`` (as Flask-OAuthlib did on
    Python 3). A response without a ``Content-Type`` is read as JSON, as
    before. ``raw_data`` is always the body as ``bytes``.
    """

    def __init__(self, response: httpx.Response, content_type: str | None = None) -> None:
        #: The underlying :class:`httpx.Response` (what the native API returns).
        self.response = response
        #: The body as bytes.
        self.raw_data: bytes = response.content
        #: The parsed body (see the class docs).
        self.data: Any = _parse_body(
            self.raw_data, content_type or response.headers.get("content-type") or "application/json"
        )

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (case-insensitive)."""
        return self.response.headers

    @property
    def text(self) -> str:
        """The body decoded as text (an addition; Flask-OAuthlib had only ``raw_data``)."""
        return self.response.text

    def __repr__(self) -> str:
        return f"<OAuthResponse [{self.status}]>"


if TYPE_CHECKING:

    class DualOAuthResponse(OAuthResponse):
        """Typing-only: an :class:`OAuthResponse` that may also be awaited."""

        def __await__(self) -> Generator[Any, None, OAuthResponse]: ...

else:  # pragma: no cover - the runtime never instantiates it

    class DualOAuthResponse(Awaitable):
        """An :class:`OAuthResponse`, or an awaitable of one (in ``async def`` views)."""


# ---------------------------------------------------------------------- request bodies


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _pairs(data: Any) -> list[tuple[str, str]]:
    items = data.items() if isinstance(data, Mapping) else data
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((_text(key), _text(v)) for v in value if v is not None)
        else:
            pairs.append((_text(key), _text(value)))
    return pairs


def _urlencode(data: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, (str, bytes)):
        return data.decode() if isinstance(data, bytes) else data
    return urlencode(_pairs(data))


def encode_request_data(data: Any, format: str | None) -> tuple[Any, str | None]:
    """Encode a request body the way Flask-OAuthlib's helper of the same name did.

    Returns ``(body, content_type)``: for ``format="urlencoded"`` a form
    string (``None`` values skipped, a list value repeats its key) and
    ``application/x-www-form-urlencoded``; for ``"json"`` a JSON string and
    ``application/json``; for ``None`` *data* unchanged and no content type.
    Empty *data* encodes as an empty form or ``{}``, as before. Any other
    format raises :class:`TypeError`. The resource calls of
    :class:`OAuthRemoteApp` use it for their ``format=`` argument.
    """
    if format is None:
        return data, None
    if format == "json":
        return flask_json.dumps(data or {}), "application/json"
    if format == "urlencoded":
        return _urlencode(data or {}), _FORM
    raise TypeError(f"Unknown format {format!r}: use 'urlencoded', 'json' or None")


_encode_body = encode_request_data


def _content_type_of(resp: Any) -> str | None:
    headers = getattr(resp, "headers", None)
    if headers is None:
        return None
    found = headers.get("content-type") or headers.get("Content-Type")
    if found is None and isinstance(headers, Mapping):  # a plain dict with another spelling
        found = next((v for k, v in headers.items() if str(k).lower() == "content-type"), None)
    return None if found is None else str(found)


def parse_response(resp: Any, content: bytes | str, strict: bool = False, content_type: str | None = None) -> Any:
    """Parse a response body by its content type, as Flask-OAuthlib's helper of the same name did.

    *resp* is anything with ``headers`` (an :class:`httpx.Response`, an
    :class:`OAuthResponse`, a urllib response, or None when *content_type*
    is given); its ``Content-Type`` is used unless *content_type* is passed,
    and a response without one is read as JSON. JSON (``application/json``,
    ``text/javascript``) gives the decoded value (``{}`` for an empty body),
    XML (``application/xml``, ``text/xml``) an
    :class:`xml.etree.ElementTree.Element`. Any other type is decoded as a
    form into a ``dict`` (first value of each key, the ``charset`` option
    respected), except that with ``strict=True`` a type that is not
    ``application/x-www-form-urlencoded`` returns *content* unchanged.

    Like the original, a body that does not parse raises (:class:`ValueError`
    for JSON, :class:`xml.etree.ElementTree.ParseError` for XML);
    :attr:`OAuthResponse.data` is more lenient and keeps the bytes instead.
    """
    header = content_type or _content_type_of(resp) or "application/json"
    mimetype, options = parse_options_header(header)
    mimetype = mimetype.lower()
    if mimetype in _JSON_TYPES:
        return json.loads(content) if content else {}
    if mimetype in _XML_TYPES:
        # As with Flask-OAuthlib, the caller chose to fetch this body; expat (2.4.1+) limits
        # entity expansion and ElementTree never fetches external entities.
        return ElementTree.fromstring(content)  # noqa: S314
    if strict and mimetype != _FORM:
        return content
    charset = options.get("charset") or "utf-8"
    if isinstance(content, bytes):
        try:
            text = content.decode(charset, "replace")
        except LookupError:
            text = content.decode("utf-8", "replace")
    else:
        text = content
    fields: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


def _add_query(uri: str, data: Any) -> str:
    query = _urlencode(data)
    if not query:
        return uri
    return uri + ("&" if "?" in uri else "?") + query


# ---------------------------------------------------------------------- the registry


class _CoreRegistry(_core.OAuth):
    """The core registry behind a compat :class:`OAuth`: reads settings the Flask-OAuthlib way."""

    def __init__(self, cache: _core.TemporaryCredentialCache | None) -> None:
        self._compat_remotes: dict[str, OAuthRemoteApp] = {}
        super().__init__(cache=cache)

    def load_settings(
        self, app: Flask | None, name: str, registered: Mapping[str, Any], overwrite: bool
    ) -> dict[str, Any]:
        """Settings of a compat remote come from its keywords and its ``app_key`` config."""
        remote = self._compat_remotes.get(name)
        if remote is None:  # a remote registered natively with oauth.native.register()
            return super().load_settings(app, name, registered, overwrite)
        if app is None:  # a preview before any app: the keywords, as far as they go
            try:
                return remote._core_settings(None)
            except ConfigurationError:
                return {}
        return remote._core_settings(app)

    def _check(self, app: Flask, name: str) -> None:
        # Flask-OAuthlib read a remote's settings when it was used, and apps rely
        # on it (config filled in after init_app()): only native remotes are
        # checked when they are registered.
        if name not in self._compat_remotes:
            super()._check(app, name)


class OAuth:
    """Flask-OAuthlib's registry of remote apps: ``OAuth(app)`` or ``OAuth()`` + :meth:`init_app`.

    Remote apps are created with :meth:`remote_app` and reached as
    ``oauth.<name>`` or ``oauth.remote_apps[name]``. *cache* (an addition)
    keeps request tokens out of the session cookie; see
    :class:`flask_oauth1_async.TemporaryCredentialCache`.
    """

    #: The ``app.extensions`` key Flask-OAuthlib used (also set here).
    state_key = "oauthlib.client"

    def __init__(self, app: Flask | None = None, *, cache: _core.TemporaryCredentialCache | None = None) -> None:
        #: Registered remote apps by name.
        self.remote_apps: dict[str, OAuthRemoteApp] = {}
        #: The last app passed to :meth:`init_app` (used outside an app context).
        self.app: Flask | None = None
        #: The :class:`flask_oauth1_async.OAuth` registry doing the work; register
        #: native remote apps on it while migrating (``oauth.native.register(...)``).
        self.native: _core.OAuth = _CoreRegistry(cache)
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"<flask_oauthlib compat OAuth remotes={sorted(self.remote_apps)}>"

    def init_app(self, app: Flask) -> None:
        """Attach the registry to *app* (``app.extensions['flask_oauth1_async']`` and ``['oauthlib.client']``)."""
        self.native.init_app(app)
        app.extensions[self.state_key] = self
        self.app = app

    def remote_app(self, name: str, register: bool = True, **kwargs: Any) -> OAuthRemoteApp:
        """Create a remote app; keywords are those of :class:`OAuthRemoteApp`.

        With ``register=False`` the remote works but is not listed in
        :attr:`remote_apps` nor reachable as ``oauth.<name>``.
        """
        if register and name in self.remote_apps:
            raise ValueError(f"a remote app named {name!r} is already registered on this OAuth registry")
        remote = OAuthRemoteApp(self, name, **kwargs)
        if register:
            self.remote_apps[name] = remote
        return remote

    def __getattr__(self, key: str) -> OAuthRemoteApp:
        if key.startswith("__"):
            raise AttributeError(key)
        remote = self.__dict__.get("remote_apps", {}).get(key)
        if remote is None:
            known = ", ".join(sorted(self.__dict__.get("remote_apps", {}))) or "none yet"
            raise AttributeError(f"No such app: {key} (registered: {known}); call oauth.remote_app({key!r}, ...)")
        return cast(OAuthRemoteApp, remote)

    # -- used by OAuthRemoteApp -----------------------------------------------

    def _attach(self, remote: OAuthRemoteApp) -> str:
        """Register *remote* in the core under a free, valid name, and return that name."""
        registry = cast(_CoreRegistry, self.native)
        base = re.sub(r"\W", "_", remote.name, flags=re.ASCII) or "remote"
        if base[0].isdigit() or base.startswith("_"):
            base = "remote_" + base.lstrip("_")
        candidate, counter = base, 1
        while not self._core_name_free(candidate):
            counter += 1
            candidate = f"{base}_{counter}"
        registry._compat_remotes[candidate] = remote
        return candidate

    def _core_name_free(self, candidate: str) -> bool:
        if hasattr(type(self.native), candidate):
            return False
        try:
            self.native.create_client(candidate)
        except AttributeError:
            return True
        return False

    def _current_app(self) -> Flask:
        if has_app_context():
            return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        if self.app is not None:
            return self.app
        raise RuntimeError(
            "Working outside of an application context: the remote app's settings are read from the "
            "current Flask app. Call this inside a view or inside 'with app.app_context():'."
        )


# ---------------------------------------------------------------------- remote apps


class OAuthRemoteApp:
    """One OAuth 1 provider, with Flask-OAuthlib's API (see the module docs for the parameters).

    Create it with :meth:`OAuth.remote_app`. Constructing it directly works
    too and behaves like ``remote_app(..., register=False)``.
    """

    #: Optional hook ``(uri, headers, body) -> (uri, headers, body)`` applied to
    #: every resource call before it is signed; assign a function to it.
    pre_request: PreRequestHook | None = None

    def __init__(
        self,
        oauth: OAuth,
        name: str,
        base_url: str | None = None,
        request_token_url: str | None = None,
        access_token_url: str | None = None,
        authorize_url: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        rsa_key: str | bytes | None = None,
        signature_method: str | None = None,
        request_token_params: Mapping[str, Any] | None = None,
        request_token_method: str | None = None,
        access_token_params: Mapping[str, Any] | None = None,
        access_token_method: str | None = None,
        access_token_headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        app_key: str | None = None,
        encoding: str = "utf-8",
        *,
        client_kwargs: Mapping[str, Any] | None = None,
        require_callback_confirmed: bool | None = None,
    ) -> None:
        #: The registry this remote belongs to.
        self.oauth = oauth
        #: The name given to :meth:`OAuth.remote_app`.
        self.name = name
        #: The config key of lazily loaded settings, or None.
        self.app_key = app_key
        #: Encoding of string request bodies.
        self.encoding = encoding or "utf-8"
        self._options: dict[str, Any] = {
            "base_url": base_url,
            "request_token_url": request_token_url,
            "access_token_url": access_token_url,
            "authorize_url": authorize_url,
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "rsa_key": rsa_key,
            "signature_method": signature_method,
            "request_token_params": request_token_params,
            "request_token_method": request_token_method,
            "access_token_params": access_token_params,
            "access_token_method": access_token_method,
            "access_token_headers": access_token_headers,
            "content_type": content_type,
        }
        self._client_kwargs = dict(client_kwargs or {})
        self._require_callback_confirmed = require_callback_confirmed
        self._tokengetter: Callable[[], Any] | None = None
        old_style = request_token_params or {}
        method = str(signature_method or old_style.get("signature_method") or "HMAC-SHA1").upper()
        if method not in SIGNATURE_METHODS:
            raise ConfigurationError(
                f"remote app {name!r}: unsupported signature_method {method!r}; use one of "
                f"{', '.join(SIGNATURE_METHODS)} (oauthlib.oauth1.SIGNATURE_* constants work too)"
            )
        if not app_key:
            if not request_token_url:
                raise ConfigurationError(
                    f"remote app {name!r} has no request_token_url: OAuth 2 remote apps are not supported by "
                    "flask_oauth1_async; use Authlib's Flask client (authlib.integrations.flask_client)"
                )
            if method.startswith("RSA-"):
                if not consumer_key or not (rsa_key or old_style.get("rsa_key")):
                    raise TypeError("OAuthRemoteApp with RSA authentication requires consumer key and rsa key")
            elif not consumer_key or not consumer_secret:
                raise TypeError("OAuthRemoteApp requires consumer key and secret")
        self._core_name = oauth._attach(self)
        #: The core :class:`~flask_oauth1_async.RemoteApp` behind this remote: the
        #: native API (``authorize_redirect``, ``authorize_access_token``,
        #: ``get``... returning :class:`httpx.Response`) on the same settings,
        #: session storage and connection pools.
        self.native: _core.RemoteApp = oauth.native.register(self._core_name)

    def __repr__(self) -> str:
        return f"<OAuthRemoteApp {self.name!r}>"

    # -- settings ----------------------------------------------------------------

    def _lookup(self, app: Flask | None, key: str, default: Any = None) -> Any:
        """One setting: the keyword if given, else the ``app_key`` config of *app*, else *default*."""
        value = self._options.get(key)
        if value is not None:
            return value
        if not self.app_key or app is None:
            return default
        config = app.config
        if self.app_key in config:
            section = config[self.app_key]
            if not isinstance(section, Mapping):
                raise ConfigurationError(
                    f"app.config[{self.app_key!r}] must be a dict of settings for remote app {self.name!r}, "
                    f"not {type(section).__name__}"
                )
            found = section.get(key)
        else:
            found = config.get(f"{self.app_key}_{key.upper()}")
        return default if found is None else found

    def _setting(self, key: str, default: Any = None) -> Any:
        # A keyword needs no app: it can be read before init_app, outside any context. So can
        # any setting of a remote without app_key, which never reads the config.
        value = self._options.get(key)
        if value is not None or not self.app_key:
            return default if value is None else value
        return self._lookup(self.oauth._current_app(), key, default)

    def _where(self, key: str) -> str:
        if self.app_key:
            return (
                f"pass {key}= to remote_app(), or set app.config[{self.app_key!r}][{key!r}] "
                f"or {self.app_key}_{key.upper()}"
            )
        return f"pass {key}= to remote_app()"

    def _core_settings(self, app: Flask | None) -> dict[str, Any]:
        """Translate this remote's settings in *app* into :meth:`flask_oauth1_async.OAuth.register` settings."""
        name = self.name

        def get(key: str, default: Any = None) -> Any:
            return self._lookup(app, key, default)

        consumer_key = get("consumer_key")
        if not consumer_key:
            raise ConfigurationError(f"remote app {name!r} has no consumer_key: {self._where('consumer_key')}")
        request_token_url = get("request_token_url")
        if not request_token_url:
            raise ConfigurationError(
                f"remote app {name!r} has no request_token_url ({self._where('request_token_url')}); "
                "OAuth 2 remote apps are not supported by flask_oauth1_async"
            )
        base_url = get("base_url")
        signing, sent = _split_request_token_params(get("request_token_params") or {}, name)
        if get("signature_method"):
            signing["signature_method"] = get("signature_method")
        if get("rsa_key"):
            signing["rsa_key"] = get("rsa_key")
        settings: dict[str, Any] = {
            "client_id": consumer_key,
            "client_secret": get("consumer_secret"),
            "request_token_url": _expand(base_url, request_token_url),
            "access_token_url": _expand(base_url, get("access_token_url")),
            "authorize_url": _expand(base_url, get("authorize_url")),
            "api_base_url": base_url,
            "request_token_params": sent,
            "request_token_method": get("request_token_method") or "GET",
            "access_token_params": dict(get("access_token_params") or {}),
            "access_token_method": get("access_token_method") or "POST",
            "access_token_headers": dict(get("access_token_headers") or {}),
            "client_kwargs": {**self._client_kwargs, **signing},
            "fetch_token": self._tokengetter,
        }
        if self._require_callback_confirmed is not None:
            settings["require_callback_confirmed"] = self._require_callback_confirmed
        return settings

    @property
    def base_url(self) -> str | None:
        """The base URL relative URLs are resolved against."""
        return cast("str | None", self._setting("base_url"))

    @property
    def request_token_url(self) -> str | None:
        """The request-token (temporary credential) endpoint, as configured."""
        return cast("str | None", self._setting("request_token_url"))

    @property
    def access_token_url(self) -> str | None:
        """The access-token (token credential) endpoint, as configured."""
        return cast("str | None", self._setting("access_token_url"))

    @property
    def authorize_url(self) -> str | None:
        """The provider's authorization page, as configured."""
        return cast("str | None", self._setting("authorize_url"))

    @property
    def consumer_key(self) -> str | None:
        """The consumer key."""
        return cast("str | None", self._setting("consumer_key"))

    @property
    def consumer_secret(self) -> str | None:
        """The consumer secret."""
        return cast("str | None", self._setting("consumer_secret"))

    @property
    def rsa_key(self) -> str | bytes | None:
        """The RSA private key (PEM), if any."""
        return cast("str | bytes | None", self._setting("rsa_key"))

    @property
    def signature_method(self) -> str | None:
        """The configured signature method, if any (the core defaults to HMAC-SHA1)."""
        return cast("str | None", self._setting("signature_method"))

    @property
    def request_token_params(self) -> dict[str, Any]:
        """The configured ``request_token_params`` (see the module docs for their use)."""
        return dict(self._setting("request_token_params", {}))

    @property
    def request_token_method(self) -> str:
        """HTTP method of the request-token call (default ``"GET"``)."""
        return str(self._setting("request_token_method", "GET"))

    @property
    def access_token_params(self) -> dict[str, Any]:
        """Extra parameters of the access-token call."""
        return dict(self._setting("access_token_params", {}))

    @property
    def access_token_method(self) -> str:
        """HTTP method of the access-token call (default ``"POST"``)."""
        return str(self._setting("access_token_method", "POST"))

    @property
    def content_type(self) -> str | None:
        """The content type forced on resource responses, if any."""
        return cast("str | None", self._setting("content_type"))

    def expand_url(self, url: str) -> str:
        """Resolve *url* against :attr:`base_url` with :func:`urllib.parse.urljoin`."""
        return _expand(self.base_url, url) or url

    # -- tokens ------------------------------------------------------------------

    def tokengetter(self, f: _F) -> _F:
        """Decorator: register the function returning the user's ``(token, secret)``, or None.

        It takes no arguments and may be a plain function or an ``async def``;
        a token dict with ``oauth_token`` / ``oauth_token_secret`` works too.
        """
        self._tokengetter = f
        self.native = self.oauth.native.register(self._core_name)  # re-read settings on next use
        return f

    # -- the dance ---------------------------------------------------------------

    def _label(self, method: str) -> str:
        return f"oauth.{self.name}.{method}"

    def _callback(self, callback: str | None) -> str | None:
        if callback is None:
            default = self._setting("request_token_params", {}).get("callback_uri")
            return str(default) if default else None
        return callback

    def _token_generation_failed(self, exc: ProviderError) -> OAuthException:
        data = _answer_data(getattr(exc, "body_excerpt", ""))
        if isinstance(exc, ProviderHTTPError):
            message = "Failed to generate request token"
            if isinstance(data, dict) and data.get("oauth_problem"):
                message += f" ({data['oauth_problem']})"
        elif isinstance(exc, InvalidTokenResponseError):
            message = f"Invalid token response from {self.name}"
        else:
            message = f"Invalid token response from {self.name}: {exc.description}"
        return OAuthException(message, type="token_generation_failed", data=data)

    def authorize_sync(self, callback: str | None = None, state: Any = None, **kwargs: Any) -> WerkzeugResponse:
        """Fetch a request token and return the redirect to the provider's authorize page.

        *callback* may be relative to the current request (``url_for(...)``).
        Extra keywords are added to the authorize URL. Raises
        :class:`OAuthException` (``token_generation_failed``) when the
        provider refuses the request token. *state* is ignored (OAuth 2 only).
        """
        try:
            return self.native.authorize_redirect_sync(self._callback(callback), **kwargs)
        except ProviderError as exc:
            raise self._token_generation_failed(exc) from exc

    async def authorize_async(self, callback: str | None = None, state: Any = None, **kwargs: Any) -> WerkzeugResponse:
        """Awaitable form of :meth:`authorize_sync`."""
        try:
            return await self.native.authorize_redirect_async(self._callback(callback), **kwargs)
        except ProviderError as exc:
            raise self._token_generation_failed(exc) from exc

    def authorize(self, callback: str | None = None, state: Any = None, **kwargs: Any) -> DualRedirect:
        """Dual form of :meth:`authorize_sync` (``await`` it in ``async def`` views)."""
        return cast(
            DualRedirect,
            dual(
                self._label("authorize"),
                "authorize_sync",
                lambda: self.authorize_sync(callback, state, **kwargs),
                lambda: self.authorize_async(callback, state, **kwargs),
            ),
        )

    def _check_args(self, args: Mapping[str, Any] | None) -> bool:
        """Validate ``args=``; return whether the callback carries an ``oauth_verifier``."""
        if not has_request_context():
            raise RuntimeError("authorized_response() reads the callback: call it inside the callback view")
        if args is not None:
            for key in ("oauth_token", "oauth_verifier", "denied"):
                if args.get(key) != request.args.get(key):
                    raise ValueError(
                        "authorized_response(args=...) must describe this request's query string: OAuth 1 "
                        "callbacks carry oauth_token and oauth_verifier in the URL, which is where they are read"
                    )
        return "oauth_verifier" in request.args

    def _callback_failed(self, exc: AuthorizationError, has_verifier: bool) -> OAuthException | None:
        if isinstance(exc, AccessDeniedError) or not has_verifier:
            return None  # Flask-OAuthlib: no verifier (denied, or not a callback) -> None
        if isinstance(exc, CallbackTokenError):
            return OAuthException(
                f"Token not found, maybe you disabled cookie ({exc.description})", type="token_not_found"
            )
        return OAuthException(f"Invalid response from {self.name}: {exc.description}", type="invalid_response")

    def _access_token_failed(self, exc: ProviderError) -> OAuthException:
        data = _answer_data(getattr(exc, "body_excerpt", ""))
        return OAuthException(f"Invalid response from {self.name}", type="invalid_response", data=data)

    def authorized_response_sync(self, args: Mapping[str, Any] | None = None) -> OAuth1Token | None:
        """Handle the provider's callback: return the token dict, or None when the user denied.

        The dict holds ``oauth_token``, ``oauth_token_secret`` and any extra
        fields of the provider (``user_id``, ``screen_name``...). As in
        Flask-OAuthlib, a callback without ``oauth_verifier`` (a denial, or a
        visit without a login) gives None. Raises :class:`OAuthException`:
        ``token_not_found`` when the login was not started in this browser
        session (or expired, or was already used), ``invalid_response`` when
        the access-token endpoint fails.
        """
        has_verifier = self._check_args(args)
        try:
            return self.native.authorize_access_token_sync()
        except ProviderError as exc:  # first: a refused exchange is also an AuthorizationError
            raise self._access_token_failed(exc) from exc
        except AuthorizationError as exc:
            failure = self._callback_failed(exc, has_verifier)
            if failure is None:
                return None
            raise failure from exc

    async def authorized_response_async(self, args: Mapping[str, Any] | None = None) -> OAuth1Token | None:
        """Awaitable form of :meth:`authorized_response_sync`."""
        has_verifier = self._check_args(args)
        try:
            return await self.native.authorize_access_token_async()
        except ProviderError as exc:  # first: a refused exchange is also an AuthorizationError
            raise self._access_token_failed(exc) from exc
        except AuthorizationError as exc:
            failure = self._callback_failed(exc, has_verifier)
            if failure is None:
                return None
            raise failure from exc

    def authorized_response(self, args: Mapping[str, Any] | None = None) -> DualToken | None:
        """Dual form of :meth:`authorized_response_sync`.

        In an ``async def`` view write ``await remote.authorized_response()``;
        typed async code should call :meth:`authorized_response_async`, whose
        type is exact.
        """
        return cast(
            "DualToken | None",
            dual(
                self._label("authorized_response"),
                "authorized_response_sync",
                lambda: self.authorized_response_sync(args),
                lambda: self.authorized_response_async(args),
            ),
        )

    def authorized_handler(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """Deprecated in Flask-OAuthlib (use :meth:`authorized_response`): pass the response as first argument.

        Works for plain and ``async def`` views.
        """
        if iscoroutinefunction(f):

            @wraps(f)
            async def async_decorated(*args: Any, **kwargs: Any) -> Any:
                data = await self.authorized_response_async()
                return await f(data, *args, **kwargs)

            return async_decorated

        @wraps(f)
        def decorated(*args: Any, **kwargs: Any) -> Any:
            return f(self.authorized_response_sync(), *args, **kwargs)

        return decorated

    # -- resource calls ------------------------------------------------------------

    def _prepare(
        self,
        url: str,
        data: Any,
        headers: Mapping[str, str] | None,
        format: str | None,
        method: str,
        content_type: str | None,
    ) -> tuple[str, str, dict[str, str], bytes | None]:
        method = method.upper()
        hdrs = {str(k): str(v) for k, v in (headers or {}).items()}
        uri = self.expand_url(url)
        body: Any = None
        if method == "GET":
            uri = _add_query(uri, data)
        else:
            if content_type is None:
                body, content_type = _encode_body(data, format)
            else:
                body = data
            if content_type is not None:
                hdrs["Content-Type"] = content_type
        hook = self.pre_request
        if hook is not None:
            uri, hdrs, body = hook(uri, hdrs, body)
        if isinstance(body, (Mapping, list, tuple)):
            body = _urlencode(body)
        if isinstance(body, str):
            body = body.encode(self.encoding)
        if not urlsplit(uri).scheme:
            raise ConfigurationError(
                f"cannot resolve the relative URL {url!r} of remote app {self.name!r}: {self._where('base_url')}"
            )
        return method, uri, hdrs, body

    def _wrap(self, response: httpx.Response) -> OAuthResponse:
        return OAuthResponse(response, self.content_type)

    def request_sync(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        method: str = "GET",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Send a signed request and return an :class:`OAuthResponse` (blocking).

        *url* is resolved against ``base_url``. On GET, *data* goes into the
        query string; otherwise it is encoded by *format* (``"urlencoded"``,
        ``"json"``, or None to send it as it is), unless *content_type* is
        given, in which case *data* is sent unchanged with that type. The
        token is *token* (a ``(token, secret)`` pair or a token dict) or the
        token getter's. HTTP errors do not raise: look at ``.status``.
        """
        method, uri, hdrs, body = self._prepare(url, data, headers, format, method, content_type)
        try:
            response = self.native.request_sync(method, uri, token, headers=hdrs, content=body, follow_redirects=True)
        except MissingTokenError as exc:
            raise _token_missing(self.name) from exc
        return self._wrap(response)

    async def request_async(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        method: str = "GET",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Awaitable form of :meth:`request_sync`."""
        method, uri, hdrs, body = self._prepare(url, data, headers, format, method, content_type)
        try:
            response = await self.native.request_async(
                method, uri, token, headers=hdrs, content=body, follow_redirects=True
            )
        except MissingTokenError as exc:
            raise _token_missing(self.name) from exc
        return self._wrap(response)

    def request(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        method: str = "GET",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> DualOAuthResponse:
        """Dual form of :meth:`request_sync` (``await`` it in ``async def`` views)."""
        return self._dual("request", url, data, headers, format, method, content_type, token)

    def _dual(
        self,
        label: str,
        url: str,
        data: Any,
        headers: Mapping[str, str] | None,
        format: str | None,
        method: str,
        content_type: str | None,
        token: TokenLike | None,
    ) -> DualOAuthResponse:
        return cast(
            DualOAuthResponse,
            dual(
                self._label(label),
                f"{label}_sync",
                lambda: self.request_sync(url, data, headers, format, method, content_type, token),
                lambda: self.request_async(url, data, headers, format, method, content_type, token),
            ),
        )

    def get(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> DualOAuthResponse:
        """Dual signed GET (*data* goes into the query string); see :meth:`request_sync`."""
        return self._dual("get", url, data, headers, format, "GET", content_type, token)

    def post(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> DualOAuthResponse:
        """Dual signed POST; see :meth:`request_sync`."""
        return self._dual("post", url, data, headers, format, "POST", content_type, token)

    def put(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> DualOAuthResponse:
        """Dual signed PUT; see :meth:`request_sync`."""
        return self._dual("put", url, data, headers, format, "PUT", content_type, token)

    def patch(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> DualOAuthResponse:
        """Dual signed PATCH; see :meth:`request_sync`."""
        return self._dual("patch", url, data, headers, format, "PATCH", content_type, token)

    def delete(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> DualOAuthResponse:
        """Dual signed DELETE; see :meth:`request_sync`."""
        return self._dual("delete", url, data, headers, format, "DELETE", content_type, token)

    def get_sync(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Blocking signed GET; see :meth:`request_sync`."""
        return self.request_sync(url, data, headers, format, "GET", content_type, token)

    def post_sync(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Blocking signed POST; see :meth:`request_sync`."""
        return self.request_sync(url, data, headers, format, "POST", content_type, token)

    def put_sync(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Blocking signed PUT; see :meth:`request_sync`."""
        return self.request_sync(url, data, headers, format, "PUT", content_type, token)

    def patch_sync(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Blocking signed PATCH; see :meth:`request_sync`."""
        return self.request_sync(url, data, headers, format, "PATCH", content_type, token)

    def delete_sync(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Blocking signed DELETE; see :meth:`request_sync`."""
        return self.request_sync(url, data, headers, format, "DELETE", content_type, token)

    async def get_async(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Awaitable signed GET; see :meth:`request_sync`."""
        return await self.request_async(url, data, headers, format, "GET", content_type, token)

    async def post_async(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Awaitable signed POST; see :meth:`request_sync`."""
        return await self.request_async(url, data, headers, format, "POST", content_type, token)

    async def put_async(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Awaitable signed PUT; see :meth:`request_sync`."""
        return await self.request_async(url, data, headers, format, "PUT", content_type, token)

    async def patch_async(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Awaitable signed PATCH; see :meth:`request_sync`."""
        return await self.request_async(url, data, headers, format, "PATCH", content_type, token)

    async def delete_async(
        self,
        url: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        format: str | None = "urlencoded",
        content_type: str | None = None,
        token: TokenLike | None = None,
    ) -> OAuthResponse:
        """Awaitable signed DELETE; see :meth:`request_sync`."""
        return await self.request_async(url, data, headers, format, "DELETE", content_type, token)


# ---------------------------------------------------------------------- helpers


def _expand(base_url: str | None, url: str | None) -> str | None:
    """Flask-OAuthlib's URL resolution: :func:`urljoin` against ``base_url``."""
    if not url:
        return url
    if not base_url:
        return url
    return urljoin(base_url, url)


def _split_request_token_params(params: Mapping[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``request_token_params`` into core signing options and parameters to send."""
    if not isinstance(params, Mapping):
        raise ConfigurationError(f"request_token_params of remote app {name!r} must be a dict")
    signing: dict[str, Any] = {}
    sent: dict[str, Any] = {}
    for key, value in params.items():
        if key == "realms":
            if "realm" not in params and value:
                signing["realm"] = value if isinstance(value, str) else " ".join(value)
        elif key == "signature_type":
            signing[key] = _SIGNATURE_TYPES.get(str(value).upper(), value)
        elif key in _SIGNING_KEYS:
            signing[key] = value
        elif key == "callback_uri" or key in _IGNORED_KEYS:
            continue  # callback_uri is read by authorize(); encoding was never used
        elif key in _OAUTHLIB_ONLY_KEYS:
            raise ConfigurationError(
                f"request_token_params[{key!r}] of remote app {name!r} is an oauthlib internal and is not "
                "supported; remove it (the core generates nonces and timestamps and manages tokens)"
            )
        else:
            sent[key] = value
    return signing, sent
