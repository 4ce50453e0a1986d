"""Remote-app settings: each one declared, checked and documented in one place.

Every setting of :meth:`OAuth.register <flask_oauth1_async.OAuth.register>`
is a key of :class:`RemoteOptions`, whose annotation carries its
:class:`Setting`: the description (rendered into ``docs/configuration.rst``),
the default, whether the Flask config may give it as ``{NAME}_{KEY}``, and
the check that turns a given value into the checked one or raises
:class:`~flask_oauth1_async.ConfigurationError` with the fix in its message.
The OAuth 1 signing options that travel in ``client_kwargs`` are declared
the same way in :class:`SigningOptions`, their defaults being those of
:class:`~flask_oauth1_async.Signer`.

:func:`resolve_settings` merges the keywords with the config keys;
:class:`~flask_oauth1_async.settings.RemoteSettings` checks the result once
and freezes it. Everything else here (:data:`CONFIG_KEYS`, :data:`EXTRA_KEYS`,
:data:`DICT_SETTINGS`, :data:`OAUTH1_CLIENT_KWARGS`) is derived from the two
declarations; the checks they name are in ``_checks.py``. A new setting, or a
provider quirk that needs one, is a new key of :class:`RemoteOptions` and a
field of :class:`~flask_oauth1_async.settings.RemoteSettings` that the flows
read (see ``docs/how-it-works.rst``).
"""

import dataclasses
import inspect
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, TypedDict

from . import _checks
from .retry import RetryPolicy
from .signing import Signer

__all__ = [
    "CONFIG_KEYS",
    "DICT_SETTINGS",
    "EXTRA_KEYS",
    "OAUTH1_CLIENT_KWARGS",
    "SETTINGS",
    "SIGNING_OPTIONS",
    "RemoteOptions",
    "Setting",
    "SigningOptions",
    "check_keywords",
    "resolve_settings",
]


@dataclasses.dataclass(frozen=True)
class Setting:
    """How one setting is read, checked and documented."""

    #: What it means (reStructuredText; rendered into the configuration page).
    doc: str
    #: The value when it is given nowhere (:data:`None` when it has none).
    default: Any = None
    #: True if the Flask config may give it as ``{NAME}_{KEY}``.
    config_key: bool = False
    #: ``check(remote_name, key, value)`` -> the checked value; raises ConfigurationError.
    check: "Callable[[str, str, Any], Any] | None" = None
    #: Filled in from the declaration: the key, and whether it holds a dict.
    name: str = ""
    is_dict: bool = False

    def checked(self, remote: str, value: Any) -> Any:
        """*value* checked (the default when None)."""
        if value is None:
            return self.default
        return value if self.check is None else self.check(remote, self.name, value)


# -- checks --------------------------------------------------------------------------------------


# -- the declarations ----------------------------------------------------------------------------


class RemoteOptions(TypedDict, total=False):
    """The keywords of :meth:`OAuth.register <flask_oauth1_async.OAuth.register>`, each with its :class:`Setting`.

    Type checkers read this class to refuse a misspelt or mistyped keyword;
    :data:`SETTINGS` holds the same declarations at run time.
    """

    client_id: Annotated[
        str | None,
        Setting("The consumer key. Required (here or in the config).", config_key=True, check=_checks.credential),
    ]
    client_secret: Annotated[
        str | None,
        Setting(
            "The consumer secret. May be empty for the ``RSA-*`` methods.", config_key=True, check=_checks.credential
        ),
    ]
    request_token_url: Annotated[
        str | None,
        Setting(
            "The temporary-credential endpoint. Needed by ``authorize_redirect()``.",
            config_key=True,
            check=_checks.text,
        ),
    ]
    request_token_params: Annotated[
        Mapping[str, Any] | None,
        Setting(
            'A dict of extra parameters for that endpoint (for example ``{"x_auth_access_type": "read"}`` '
            "on Twitter/X). They are signed and sent in the form body, or in the query when "
            "``request_token_method`` is not POST or PUT.",
            config_key=True,
            check=_checks.mapping,
        ),
    ]
    access_token_url: Annotated[
        str | None,
        Setting(
            "The token-credential endpoint. Needed by ``authorize_access_token()``.",
            config_key=True,
            check=_checks.text,
        ),
    ]
    access_token_params: Annotated[
        Mapping[str, Any] | None,
        Setting(
            "A dict of extra parameters for that endpoint, placed like ``request_token_params``. Keywords "
            "passed to ``authorize_access_token()`` win over these.",
            config_key=True,
            check=_checks.mapping,
        ),
    ]
    authorize_url: Annotated[
        str | None,
        Setting(
            "Where the browser is sent to approve. Needed by ``authorize_redirect()``.",
            config_key=True,
            check=_checks.text,
        ),
    ]
    authorize_params: Annotated[
        Mapping[str, Any] | None,
        Setting(
            "A dict of extra query parameters for the authorize URL (Trello's ``name``/``scope``/"
            "``expiration``, Flickr's ``perms``...). Keywords passed to ``authorize_redirect()`` are added "
            "too, and win over these.",
            config_key=True,
            check=_checks.mapping,
        ),
    ]
    api_base_url: Annotated[
        str | None,
        Setting(
            "The base of relative URLs in resource calls. A relative path is appended to it, and the base "
            "keeps its last path segment whether or not it ends in ``/``: with ``https://api.x.com/1.1``, "
            '``"account/settings.json"`` means ``https://api.x.com/1.1/account/settings.json``. A path '
            "starting with ``/`` is taken from the base's host, as with :func:`urllib.parse.urljoin`: "
            '``"/2/users/me"`` means ``https://api.x.com/2/users/me``. URLs starting with ``http://`` or '
            "``https://`` are used as they are; protocol-relative ``//host/...`` URLs are refused.",
            config_key=True,
            check=_checks.text,
        ),
    ]
    client_kwargs: Annotated[
        Mapping[str, Any] | None,
        Setting(
            "A dict of HTTP-client options (passed to httpx) and OAuth 1 signing options; see `client_kwargs`_.",
            config_key=True,
            check=_checks.mapping,
        ),
    ]
    fetch_token: Annotated[
        Callable[[], Any] | None,
        Setting(
            "A callable **without arguments** returning this remote's token for the current user (sync or "
            "async). It takes precedence over the registry's ``fetch_token(name)``.",
            check=_checks.callable_value,
        ),
    ]
    require_callback_confirmed: Annotated[
        bool,
        Setting(
            "Default ``True``: the request-token answer must carry ``oauth_callback_confirmed=true``, as "
            "RFC 5849 requires of OAuth 1.0a providers, and the callback must carry an ``oauth_verifier``. "
            "Set ``False`` for legacy OAuth 1.0 providers (TripIt, for instance): the confirmation is no "
            "longer required, and a callback without ``oauth_verifier`` completes the login, the "
            "access-token request being signed without a verifier.",
            default=True,
            check=_checks.flag,
        ),
    ]
    request_token_ttl: Annotated[
        int,
        Setting(
            "Seconds a login may take between ``authorize_redirect()`` and the callback. Default ``600``. "
            "See :doc:`temporary-credentials`.",
            default=600,
            check=_checks.positive_seconds,
        ),
    ]
    request_token_method: Annotated[
        str,
        Setting(
            'HTTP method for the request-token call. Default ``"POST"``; some providers (Flickr\'s '
            'examples, for instance) use ``"GET"``.',
            default="POST",
            check=_checks.http_method,
        ),
    ]
    access_token_method: Annotated[
        str,
        Setting(
            'HTTP method for the access-token call. Default ``"POST"``.', default="POST", check=_checks.http_method
        ),
    ]
    access_token_headers: Annotated[
        Mapping[str, Any] | None,
        Setting("A dict of extra HTTP headers for the access-token call.", check=_checks.mapping),
    ]
    consumer_only: Annotated[
        bool | str,
        Setting(
            "Two-legged signing of resource calls: the calls are signed with the consumer key and secret "
            "alone, and no user token is looked up (no ``fetch_token``, no "
            ":class:`~flask_oauth1_async.MissingTokenError`). ``False`` (default) signs with the user's "
            'token; ``True`` sends no ``oauth_token`` parameter at all; ``"empty"`` sends an empty '
            '``oauth_token=""``, which some providers expect instead. Any other value raises '
            ":class:`~flask_oauth1_async.ConfigurationError`. It applies to ``get()``, ``post()``... only; "
            "the login views are not affected, and a call can override it (see `Per-call options`_).",
            default=False,
            check=_checks.consumer_only,
        ),
    ]
    retry: Annotated[
        RetryPolicy | None,
        Setting(
            "A :class:`flask_oauth1_async.RetryPolicy` that resends rate-limited resource calls; ``None`` "
            "(default) never retries. See `Retrying rate-limited calls`_.",
            check=_checks.retry_policy,
        ),
    ]
    authorize_token_param: Annotated[
        str,
        Setting(
            "The name under which the request token is put in the authorize URL. Default "
            '``"oauth_token"``, as RFC 5849 says; E*TRADE wants ``"token"``.',
            default="oauth_token",
            check=_checks.param_name,
        ),
    ]
    authorize_consumer_key_param: Annotated[
        str | None,
        Setting(
            'If set, the authorize URL also carries the consumer key under this name (E*TRADE: ``"key"``). '
            "Default ``None``: no consumer key in that URL.",
            check=_checks.param_name,
        ),
    ]
    allowed_origins: Annotated[
        Sequence[str] | None,
        Setting(
            'A list of origins (``"https://host"`` or ``"https://host:port"``) besides the remote\'s own that '
            "resource calls may be **signed** for. The remote's own origins are those of ``api_base_url``, "
            "``request_token_url`` and ``access_token_url``. A signed call to any other origin raises "
            ":class:`~flask_oauth1_async.OriginNotAllowedError` before anything is sent, so that a URL that "
            "came from a user never carries the user's token (or, with ``PLAINTEXT``, the secrets) to "
            "another host; unsigned calls (``withhold_token=True``) may go anywhere. The presets list their "
            "providers' other hosts (Flickr's upload host ``https://up.flickr.com``, for instance); a list "
            "given to :func:`providers.register() <flask_oauth1_async.providers.register>` replaces the "
            "preset's, so repeat its entries. See :doc:`security`.",
            default=(),
            check=_checks.origins,
        ),
    ]
    allow_plaintext_over_http: Annotated[
        bool,
        Setting(
            "Default ``False``: a remote that signs with ``PLAINTEXT`` refuses every ``http://`` endpoint "
            "- a token URL, ``api_base_url``, an entry of ``allowed_origins`` (all checked by ``register()`` "
            "and ``init_app()``) or the URL of a call - with :class:`~flask_oauth1_async.ConfigurationError`: "
            "``PLAINTEXT`` sends the consumer secret and the token secret as they are, and RFC 5849 "
            "(section 3.4.4) allows it over TLS only. ``True`` lifts the rule for loopback hosts only "
            "(``localhost``, ``127.0.0.0/8``, ``::1``): a provider running on the development machine, such "
            "as :class:`~flask_oauth1_async.testing.FakeProvider` over plain HTTP. It never allows "
            "``PLAINTEXT`` over plain HTTP to another host.",
            default=False,
            check=_checks.flag,
        ),
    ]
    deadline: Annotated[
        float | bool | None,
        Setting(
            "How long, in seconds, one call may take from start to end: waiting for a connection, "
            "connecting, sending, each redirect hop and retry, and reading the whole answer. httpx's "
            "``timeout`` bounds each network operation on its own, so a provider that sends a byte every "
            "now and then never trips it; the deadline does. Unset (the default), the token calls of a "
            "login (``authorize_redirect()``, ``authorize_access_token()``) get a deadline equal to the sum "
            "of httpx's four timeouts, connect + read + write + pool - what one request may take when each "
            "phase uses its whole allowance: 20 s with httpx's default timeout of 5 s, 4 s with "
            '``client_kwargs={"timeout": 1.0}``, none when one of them is turned off (``None``) - and '
            "resource calls (``get()``...) get none, since a large download or upload may rightly take "
            "longer. A number sets the deadline of every call of the remote, resource calls included; "
            "``False`` turns it off everywhere. A resource call's own ``deadline=`` wins (see `Per-call "
            "options`_). A call that goes beyond its deadline raises "
            ":class:`~flask_oauth1_async.RequestTimeoutError` with ``deadline`` set. An awaited call ends "
            "at the deadline; a blocking one checks it between reads and cuts each network wait to the time "
            "that was left when the request went out, so a provider that stalls just before the deadline "
            "may hold it up to that long past it.",
            check=_checks.deadline,
        ),
    ]


class SigningOptions(TypedDict, total=False):
    """The OAuth 1 options that ``client_kwargs`` may hold beside httpx's; the signer takes them.

    Their defaults are the keyword defaults of :class:`~flask_oauth1_async.Signer`,
    which checks them.
    """

    signature_method: Annotated[
        str,
        Setting(
            '``"HMAC-SHA1"`` (default), ``"HMAC-SHA256"``, ``"HMAC-SHA512"``, ``"RSA-SHA1"``, '
            '``"RSA-SHA256"``, ``"RSA-SHA512"`` or ``"PLAINTEXT"`` (case does not matter).'
        ),
    ]
    signature_type: Annotated[
        str,
        Setting(
            'Where the protocol parameters go: ``"header"`` (default, an ``Authorization: OAuth ...`` '
            'header), ``"query"`` or ``"body"`` (only for form-encoded requests). Prefer the header: '
            'with ``"query"`` the signed URL, protocol parameters included, shows up wherever URLs are '
            "logged (httpx's own INFO log line, ``raise_for_status()`` messages, server access logs) - and "
            "with ``PLAINTEXT`` that URL carries the secrets themselves. Registering a remote with "
            '``"query"`` emits an :class:`~flask_oauth1_async.InsecureSettingWarning` once.'
        ),
    ]
    realm: Annotated[str | None, Setting("A ``realm`` for the ``Authorization`` header.")]
    rsa_key: Annotated[
        str | bytes | None,
        Setting("The PEM private key (a ``str`` or ``bytes``) for the ``RSA-*`` methods, which require it."),
    ]
    body_hash: Annotated[
        bool,
        Setting(
            "``True`` adds ``oauth_body_hash`` (the OAuth Request Body Hash extension, used by LTI 1.1 "
            "outcomes and Mastercard, for instance) to every request whose body is *not* form-encoded: "
            "JSON, XML, binary. A request without a body gets the hash of the empty string; form-encoded "
            "requests never get one, since their parameters are signed already. The digest follows the "
            "signature method: SHA-1 for HMAC-SHA1, RSA-SHA1 and PLAINTEXT, SHA-256 for the ``-SHA256`` "
            "methods, SHA-512 for the ``-SHA512`` ones. Default ``False``; a call can override it."
        ),
    ]
    timestamp_offset: Annotated[
        int,
        Setting(
            "Whole seconds added to this server's clock for ``oauth_timestamp``, for a provider whose clock "
            "is off (or this server's). Default ``0``. When a token endpoint refuses the timestamp and says "
            "which range it accepts, the error message suggests the value to use (see :doc:`errors`)."
        ),
    ]


def _declared(options: type, defaults: Mapping[str, Any] | None = None) -> dict[str, Setting]:
    hints = typing.get_type_hints(options, globalns=vars(sys.modules[__name__]), include_extras=True)
    found: dict[str, Setting] = {}
    for key, hint in hints.items():
        (setting,) = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Setting)]
        is_dict = "Mapping" in repr(typing.get_args(hint)[0])
        default = setting.default if defaults is None else defaults.get(key)
        found[key] = dataclasses.replace(setting, name=key, is_dict=is_dict, default=default)
    return found


#: Every :meth:`~flask_oauth1_async.OAuth.register` setting, by keyword, in declaration order.
SETTINGS: Mapping[str, Setting] = MappingProxyType(_declared(RemoteOptions))

_SIGNER_DEFAULTS = {
    name: p.default for name, p in inspect.signature(Signer).parameters.items() if p.default is not p.empty
}
#: The signing options of ``client_kwargs``, with the signer's defaults.
SIGNING_OPTIONS: Mapping[str, Setting] = MappingProxyType(_declared(SigningOptions, _SIGNER_DEFAULTS))

#: Settings that may come from ``{NAME}_{KEY}`` config keys (lower-cased here).
CONFIG_KEYS: tuple[str, ...] = tuple(k for k, s in SETTINGS.items() if s.config_key)
#: Settings given to :meth:`~flask_oauth1_async.OAuth.register` only (never read from the config).
EXTRA_KEYS: tuple[str, ...] = tuple(k for k, s in SETTINGS.items() if not s.config_key)
#: Settings that hold a dict (merged key by key by ``overwrite=True`` and by preset overrides).
DICT_SETTINGS: frozenset[str] = frozenset(k for k, s in SETTINGS.items() if s.is_dict)
#: ``client_kwargs`` entries that configure OAuth 1 signing instead of httpx.
OAUTH1_CLIENT_KWARGS: tuple[str, ...] = tuple(SIGNING_OPTIONS)


def resolve_settings(
    name: str, registered: Mapping[str, Any], overwrite: bool, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge :meth:`~flask_oauth1_async.OAuth.register` keywords with ``{NAME}_*`` config keys.

    A keyword wins; a config key fills in what was not given. With
    *overwrite*, a non-empty config value replaces the keyword, and
    dict-valued settings are merged with the config's entries on top.
    """
    # Dict values are copied: the result may be handed out or changed
    # without touching what was registered.
    settings = {k: dict(v) if isinstance(v, Mapping) else v for k, v in registered.items()}
    prefix = name.upper() + "_"
    for key in CONFIG_KEYS:
        value = config.get(prefix + key.upper())
        is_dict = key in DICT_SETTINGS
        if key not in settings or settings[key] is None:
            if value is not None:
                settings[key] = dict(value) if is_dict and isinstance(value, Mapping) else value
        elif overwrite and value:
            if is_dict and isinstance(value, Mapping) and isinstance(settings[key], Mapping):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
    return settings


def check_keywords(name: str, kwargs: Mapping[str, Any]) -> None:
    """Check the keywords given to ``register()`` on their own (before any config is read).

    Raises :class:`TypeError` for an unknown keyword and
    :class:`~flask_oauth1_async.ConfigurationError` for a value of the wrong type.
    """
    unknown = sorted(set(kwargs) - set(SETTINGS))
    if unknown:
        raise TypeError(f"register() got unknown settings {unknown}; known are {', '.join(SETTINGS)}")
    for key, value in kwargs.items():
        SETTINGS[key].checked(name, value)
