"""Token values: :class:`OAuth1Token` and the conversions accepted by ``token=``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError

__all__ = ["OAuth1Token", "TokenLike", "to_token"]


class OAuth1Token(dict[str, Any]):
    """A token credential: ``oauth_token``, ``oauth_token_secret`` and any extra fields.

    It is a plain :class:`dict` (it serialises to JSON and stores anywhere a
    dict does), except that its :func:`repr` masks ``oauth_token_secret`` so
    that logging a token never leaks the secret. Extra fields the provider
    returned with the access token (``user_id``, ``screen_name``...) are kept.
    """

    @property
    def token(self) -> str:
        """The ``oauth_token`` value."""
        return str(self["oauth_token"])

    @property
    def secret(self) -> str:
        """The ``oauth_token_secret`` value (never shown by ``repr``)."""
        return str(self.get("oauth_token_secret") or "")

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "oauth_token_secret" else v) for k, v in self.items()}
        return f"OAuth1Token({shown!r})"

    __str__ = __repr__


#: What ``token=`` and ``fetch_token`` may give: a mapping with ``oauth_token``
#: and ``oauth_token_secret`` (Authlib's shape), or a ``(token, secret)`` pair
#: (Flask-OAuthlib's shape).
TokenLike = Mapping[str, Any] | tuple[str, str] | list[str]


def to_token(value: object) -> OAuth1Token | None:
    """Convert a :data:`TokenLike` into an :class:`OAuth1Token`; None stays None."""
    if value is None:
        return None
    if isinstance(value, OAuth1Token):
        return value
    if isinstance(value, Mapping):
        if not value.get("oauth_token"):
            raise ConfigurationError("a token mapping needs a non-empty 'oauth_token' key")
        return OAuth1Token(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        token, secret = value
        if not token or not isinstance(token, str):
            raise ConfigurationError("a (token, secret) pair needs a non-empty token string")
        if secret is not None and not isinstance(secret, str):
            raise ConfigurationError("the secret of a (token, secret) pair must be a string")
        return OAuth1Token(oauth_token=token, oauth_token_secret=secret or "")
    raise ConfigurationError(
        f"a token must be a mapping with 'oauth_token' and 'oauth_token_secret', "
        f"or a (token, secret) pair, not {type(value).__name__}"
    )
