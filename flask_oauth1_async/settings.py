"""The checked form of a remote app's settings, and the rules that need them whole.

:meth:`RemoteSettings.from_mapping` checks the settings of one remote in one
app (as :func:`~flask_oauth1_async.config.resolve_settings` merges them from
the ``register()`` keywords and the config keys, each described in
:class:`~flask_oauth1_async.config.RemoteOptions`) and freezes them;
:func:`check_early` is what ``register()`` and ``init_app()`` can check before
the config is complete. The rules that look at several settings at once live
here too: ``PLAINTEXT`` only over TLS (:func:`refuse_plaintext_over_http`), and
the settings that weaken a remote's security (:func:`insecure_settings`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ._urls import Origin, is_loopback, origin_of, redact_url
from .config import DICT_SETTINGS, SETTINGS, SIGNING_OPTIONS
from .errors import ConfigurationError
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_REDIRECTS",
    "InsecureSettingWarning",
    "RemoteSettings",
    "check_early",
    "insecure_settings",
    "refuse_plaintext_over_http",
]

#: Redirect hops a call follows when ``client_kwargs`` does not set ``max_redirects``.
DEFAULT_MAX_REDIRECTS = 20


def check_early(name: str, settings: Mapping[str, Any]) -> RemoteSettings | None:
    """Check what can be checked before a remote is used: each value given, and the whole once complete.

    Called by ``init_app()`` and ``register()``, when the app's config may
    still be filled in later (it is read again when the remote is first
    used). Every value present is checked now; the settings as a whole
    (checked and returned) only when the consumer key is there, which is
    what makes them usable. Returns None while it is missing.
    """
    for key, setting in SETTINGS.items():
        setting.checked(name, settings.get(key))
    if not settings.get("client_id"):
        return None
    return RemoteSettings.from_mapping(name, settings)


@dataclasses.dataclass(frozen=True, repr=False)
class RemoteSettings:
    """The checked settings of one remote app in one Flask app (each described in :class:`RemoteOptions`).

    Built by :meth:`from_mapping`; immutable (the dicts are read-only views).
    Its :func:`repr` shows the name and URLs only: the consumer secret and
    any RSA key never appear in it.
    """

    name: str
    client_id: str
    client_secret: str | None
    request_token_url: str | None
    access_token_url: str | None
    authorize_url: str | None
    api_base_url: str | None
    request_token_params: Mapping[str, Any]
    access_token_params: Mapping[str, Any]
    authorize_params: Mapping[str, Any]
    access_token_headers: Mapping[str, Any]
    request_token_method: str
    access_token_method: str
    require_callback_confirmed: bool
    request_token_ttl: int
    #: The signing options given in ``client_kwargs`` (:class:`SigningOptions`), for :class:`~.signing.Signer`.
    signing: Mapping[str, Any]
    #: The rest of ``client_kwargs``: httpx client options.
    http_options: Mapping[str, Any]
    fetch_token: Callable[[], Any] | None = None
    consumer_only: bool | str = False
    retry: RetryPolicy | None = None
    authorize_token_param: str = "oauth_token"  # noqa: S105 - a parameter name, not a secret
    authorize_consumer_key_param: str | None = None
    allowed_origins: tuple[str, ...] = ()
    allow_plaintext_over_http: bool = False
    deadline: float | bool | None = None
    #: Follow redirects (from ``client_kwargs['follow_redirects']``): of resource calls, and
    #: same-origin redirects of the token endpoints.
    follow_redirects: bool = False
    #: The most redirect hops a call follows (``client_kwargs['max_redirects']``, default 20).
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    #: The origins resource calls may be signed for: the remote's own and ``allowed_origins``.
    signing_origins: frozenset[Origin] = frozenset()

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
        values = {key: setting.checked(name, settings.get(key)) for key, setting in SETTINGS.items()}
        if not values["client_id"]:
            raise ConfigurationError(
                f"remote app {name!r} has no client_id: pass client_id= to register() "
                f"or set {name.upper()}_CLIENT_ID in the app config"
            )
        for key in DICT_SETTINGS:
            if values[key] is None:
                values[key] = MappingProxyType({})
        client_kwargs = dict(values.pop("client_kwargs"))
        # A signing option given as None takes the signer's default.
        signing = {k: v for k in SIGNING_OPTIONS if (v := client_kwargs.pop(k, None)) is not None}
        max_redirects = client_kwargs.get("max_redirects", DEFAULT_MAX_REDIRECTS)
        if not isinstance(max_redirects, int) or isinstance(max_redirects, bool) or max_redirects < 0:
            raise ConfigurationError(
                f"client_kwargs['max_redirects'] of remote app {name!r} must be a whole number >= 0"
            )
        own = [values[key] for key in ("api_base_url", "request_token_url", "access_token_url") if values[key]]
        checked = cls(
            name=name,
            signing=MappingProxyType(signing),
            http_options=MappingProxyType(client_kwargs),
            follow_redirects=bool(client_kwargs.get("follow_redirects", False)),
            max_redirects=max_redirects,
            signing_origins=frozenset(origin_of(url) for url in [*own, *values["allowed_origins"]]),
            **values,
        )
        for key in ("request_token_url", "access_token_url", "api_base_url"):
            url = getattr(checked, key)
            if url:
                refuse_plaintext_over_http(checked, url, key)
        for origin in checked.allowed_origins:
            refuse_plaintext_over_http(checked, origin, "allowed_origins entry")
        return checked

    @property
    def signature_method(self) -> str:
        """The signature method, upper-cased (``HMAC-SHA1`` unless ``client_kwargs`` names another)."""
        return str(self.signing.get("signature_method") or SIGNING_OPTIONS["signature_method"].default).upper()

    def require(self, key: str) -> str:
        """Return the URL setting *key*, or raise a :class:`ConfigurationError` naming the fix."""
        value = getattr(self, key)
        if not value:
            raise ConfigurationError(
                f"remote app {self.name!r} has no {key}: pass {key}= to register() "
                f"or set {self.name.upper()}_{key.upper()}"
            )
        return str(value)


def refuse_plaintext_over_http(settings: RemoteSettings, url: str, where: str) -> None:
    """Raise :class:`~flask_oauth1_async.ConfigurationError` if *settings* would send ``PLAINTEXT`` to plain-http *url*.

    ``PLAINTEXT`` puts the consumer secret and the token secret on the wire
    as they are; RFC 5849 section 3.4.4 allows it over TLS only. The one
    exception is a loopback host with ``allow_plaintext_over_http=True``.
    *where* names what *url* is, for the message.
    """
    if settings.signature_method != "PLAINTEXT":
        return
    scheme, host, _ = origin_of(url)
    if scheme != "http":
        return
    if settings.allow_plaintext_over_http and is_loopback(host):
        return
    hint = (
        " (allow_plaintext_over_http=True covers loopback hosts only)"
        if settings.allow_plaintext_over_http
        else "; or, for a provider on this machine only, register it with allow_plaintext_over_http=True"
    )
    raise ConfigurationError(
        f"remote app {settings.name!r} signs with PLAINTEXT, which sends the consumer secret and the token "
        f"secret as they are, and its {where} is plain http ({redact_url(url)}): RFC 5849 section 3.4.4 "
        "allows PLAINTEXT over TLS only. Use an https:// URL, or another signature_method (HMAC-SHA1)" + hint
    )


class InsecureSettingWarning(UserWarning):
    """A remote app was registered with a setting that weakens its security.

    Emitted once per remote (by ``register()``, ``init_app()`` or the first
    use) for ``client_kwargs={"verify": False}`` (TLS certificates are not
    checked) and ``signature_type="query"`` (the signature, token and
    verifier travel in the URL, which httpx logs at INFO level). See
    ``docs/security.rst``.
    """


def insecure_settings(name: str, client_kwargs: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``(kind, message)`` for each choice in *client_kwargs* that weakens remote *name*'s security."""
    found: list[tuple[str, str]] = []
    if not isinstance(client_kwargs, Mapping):
        return found
    if client_kwargs.get("verify", True) is False:
        found.append(
            (
                "verify",
                f"remote app {name!r} has client_kwargs['verify']=False: TLS certificates are not checked, so "
                "anyone on the network path can read and change its calls, tokens included. Use it in tests "
                "only; to trust a private CA, pass its bundle path or an ssl.SSLContext as verify instead",
            )
        )
    signature_type = client_kwargs.get("signature_type")
    if isinstance(signature_type, str) and signature_type.lower() == "query":
        found.append(
            (
                "signature_type",
                f"remote app {name!r} has signature_type='query': the signature, the token and the verifier "
                "travel in the URL, which httpx logs at INFO level (servers and proxies log it too), and with "
                "PLAINTEXT that URL holds the secrets themselves. Prefer signature_type='header'",
            )
        )
    return found
