"""Remote-app settings: where they come from, and their validated, immutable form.

A remote app's settings come from the keyword arguments of
:meth:`OAuth.register <flask_oauth1_async.OAuth.register>` and from the Flask
config keys ``{NAME}_{KEY}`` listed in :data:`CONFIG_KEYS`;
:func:`resolve_settings` merges the two (the precedence rules are in
``docs/configuration.rst``). :meth:`RemoteSettings.from_mapping` checks the
result once and freezes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .errors import ConfigurationError
from .retry import RetryPolicy

__all__ = ["CONFIG_KEYS", "EXTRA_KEYS", "OAUTH1_CLIENT_KWARGS", "RemoteSettings", "resolve_settings"]

#: Settings that may come from ``{NAME}_{KEY}`` config keys (lower-cased here).
CONFIG_KEYS: tuple[str, ...] = (
    "client_id",
    "client_secret",
    "request_token_url",
    "request_token_params",
    "access_token_url",
    "access_token_params",
    "authorize_url",
    "authorize_params",
    "api_base_url",
    "client_kwargs",
)
_DICT_KEYS = frozenset({"request_token_params", "access_token_params", "authorize_params", "client_kwargs"})

#: Extra :meth:`OAuth.register` keywords (not read from config).
EXTRA_KEYS: tuple[str, ...] = (
    "fetch_token",
    "require_callback_confirmed",
    "request_token_ttl",
    "request_token_method",
    "access_token_method",
    "access_token_headers",
    "consumer_only",
    "retry",
    "authorize_token_param",
    "authorize_consumer_key_param",
)

#: ``client_kwargs`` entries that configure OAuth 1 signing instead of httpx.
OAUTH1_CLIENT_KWARGS: tuple[str, ...] = (
    "signature_method",
    "signature_type",
    "realm",
    "rsa_key",
    "body_hash",
    "timestamp_offset",
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


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
        if key not in settings or settings[key] is None:
            if value is not None:
                settings[key] = dict(value) if key in _DICT_KEYS and isinstance(value, Mapping) else value
        elif overwrite and value:
            if key in _DICT_KEYS and isinstance(value, Mapping) and isinstance(settings[key], Mapping):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
    return settings


def _dict_setting(settings: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
    value = settings.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} of remote app {name!r} must be a dict, not {type(value).__name__}")
    return MappingProxyType(dict(value))


@dataclasses.dataclass(frozen=True, repr=False)
class RemoteSettings:
    """The checked settings of one remote app in one Flask app.

    Built by :meth:`from_mapping`; immutable (the dicts are read-only views).
    Its :func:`repr` shows the name and URLs only: the consumer secret and
    any RSA key never appear in it.
    """

    #: The registered name.
    name: str
    #: The consumer key.
    client_id: str
    #: The consumer secret (empty for RSA-only consumers).
    client_secret: str | None
    #: Temporary-credential endpoint.
    request_token_url: str | None
    #: Token-credential endpoint.
    access_token_url: str | None
    #: Where the browser is sent to authorize.
    authorize_url: str | None
    #: Base for relative resource URLs.
    api_base_url: str | None
    #: Extra parameters sent to the request-token endpoint.
    request_token_params: Mapping[str, Any]
    #: Extra parameters sent to the access-token endpoint.
    access_token_params: Mapping[str, Any]
    #: Extra query parameters of the authorize URL.
    authorize_params: Mapping[str, Any]
    #: Extra headers of the access-token request.
    access_token_headers: Mapping[str, Any]
    #: HTTP method of the request-token call.
    request_token_method: str
    #: HTTP method of the access-token call.
    access_token_method: str
    #: Refuse request-token answers without ``oauth_callback_confirmed=true``.
    require_callback_confirmed: bool
    #: Seconds a login may take between the redirect and the callback.
    request_token_ttl: int
    #: OAuth 1 signing options taken from ``client_kwargs`` (:data:`OAUTH1_CLIENT_KWARGS`).
    oauth_options: Mapping[str, Any]
    #: The rest of ``client_kwargs``: httpx client options.
    http_options: Mapping[str, Any]
    #: The remote's own ``fetch_token()`` (no argument), if registered with one.
    fetch_token: Callable[[], Any] | None = None
    #: Sign resource calls with the consumer key alone (two-legged): False,
    #: True (no ``oauth_token``) or ``"empty"`` (an empty ``oauth_token``).
    consumer_only: bool | str = False
    #: Retry policy of rate-limited resource calls, or None.
    retry: RetryPolicy | None = None
    #: Name of the request-token parameter of the authorize URL (E*TRADE: ``token``).
    authorize_token_param: str = "oauth_token"  # noqa: S105 - a parameter name, not a secret
    #: If set, the authorize URL also carries the consumer key under this name (E*TRADE: ``key``).
    authorize_consumer_key_param: str | None = None
    #: Follow redirects of resource calls (from ``client_kwargs['follow_redirects']``).
    follow_redirects: bool = False

    def __repr__(self) -> str:
        return (
            f"RemoteSettings(name={self.name!r}, client_id={self.client_id!r}, "
            f"request_token_url={self.request_token_url!r}, access_token_url={self.access_token_url!r}, "
            f"authorize_url={self.authorize_url!r}, api_base_url={self.api_base_url!r})"
        )

    @classmethod
    def from_mapping(cls, name: str, settings: Mapping[str, Any]) -> RemoteSettings:
        """Check *settings* (as :func:`resolve_settings` returns them) and freeze them.

        Raises :class:`~flask_oauth1_async.ConfigurationError` with the fix in
        its message for a missing consumer key or a value of the wrong type.
        """
        client_id = settings.get("client_id")
        if not client_id:
            raise ConfigurationError(
                f"remote app {name!r} has no client_id: pass client_id= to register() "
                f"or set {name.upper()}_CLIENT_ID in the app config"
            )
        ttl = settings.get("request_token_ttl", 600)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise ConfigurationError(f"request_token_ttl of remote app {name!r} must be a positive int (seconds)")
        client_kwargs = dict(_dict_setting(settings, "client_kwargs", name))
        oauth_options = {k: client_kwargs.pop(k) for k in OAUTH1_CLIENT_KWARGS if k in client_kwargs}
        fetch = settings.get("fetch_token")
        if fetch is not None and not callable(fetch):
            raise ConfigurationError(f"fetch_token of remote app {name!r} must be callable")
        secret = settings.get("client_secret")
        consumer_only = settings.get("consumer_only", False)
        if consumer_only not in (False, True, "empty"):
            raise ConfigurationError(f"consumer_only of remote app {name!r} must be False, True or 'empty'")
        retry = settings.get("retry")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry of remote app {name!r} must be a flask_oauth1_async.RetryPolicy")
        token_param = settings.get("authorize_token_param") or "oauth_token"
        key_param = settings.get("authorize_consumer_key_param")
        return cls(
            name=name,
            client_id=str(client_id),
            client_secret=None if secret is None else str(secret),
            request_token_url=settings.get("request_token_url"),
            access_token_url=settings.get("access_token_url"),
            authorize_url=settings.get("authorize_url"),
            api_base_url=settings.get("api_base_url"),
            request_token_params=_dict_setting(settings, "request_token_params", name),
            access_token_params=_dict_setting(settings, "access_token_params", name),
            authorize_params=_dict_setting(settings, "authorize_params", name),
            access_token_headers=_dict_setting(settings, "access_token_headers", name),
            request_token_method=str(settings.get("request_token_method") or "POST").upper(),
            access_token_method=str(settings.get("access_token_method") or "POST").upper(),
            require_callback_confirmed=bool(settings.get("require_callback_confirmed", True)),
            request_token_ttl=ttl,
            oauth_options=MappingProxyType(oauth_options),
            http_options=MappingProxyType(client_kwargs),
            fetch_token=fetch,
            consumer_only=consumer_only,
            retry=retry,
            authorize_token_param=str(token_param),
            authorize_consumer_key_param=None if key_param is None else str(key_param),
            follow_redirects=bool(client_kwargs.get("follow_redirects", False)),
        )

    def require(self, key: str) -> str:
        """Return the URL setting *key*, or raise a :class:`ConfigurationError` naming the fix."""
        value = getattr(self, key)
        if not value:
            raise ConfigurationError(
                f"remote app {self.name!r} has no {key}: pass {key}= to register() "
                f"or set {self.name.upper()}_{key.upper()}"
            )
        return str(value)
