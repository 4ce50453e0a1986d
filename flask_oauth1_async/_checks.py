"""The checks that the setting declarations of :mod:`.config` name: a given value in, the checked value out.

Each check is ``check(remote_name, key, value)`` and raises
:class:`~flask_oauth1_async.ConfigurationError` with the fix in its message.
A setting declares its check next to its text and default
(:class:`~flask_oauth1_async.config.Setting`); the functions live here so that
the declarations stay readable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ._urls import format_origin, origin_of
from .errors import ConfigurationError
from .retry import RetryPolicy

__all__ = [
    "callable_value",
    "consumer_only",
    "credential",
    "deadline",
    "flag",
    "http_method",
    "mapping",
    "origins",
    "param_name",
    "positive_seconds",
    "retry_policy",
    "text",
]


def text(remote: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{key} of remote app {remote!r} must be a str, not {type(value).__name__}")
    return value


def credential(remote: str, key: str, value: Any) -> str:
    # A config read with app.config.from_prefixed_env() turns a numeric key into an int.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(remote, key, value)


def param_name(remote: str, key: str, value: Any) -> str:
    name = text(remote, key, value)
    if not name:
        raise ConfigurationError(f"{key} of remote app {remote!r} must be a non-empty parameter name")
    return name


def http_method(remote: str, key: str, value: Any) -> str:
    method = text(remote, key, value).strip().upper()
    if not method.isalpha():
        raise ConfigurationError(f"{key} of remote app {remote!r} must be an HTTP method such as 'POST', not {value!r}")
    return method


def mapping(remote: str, key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} of remote app {remote!r} must be a dict, not {type(value).__name__}")
    return MappingProxyType(dict(value))


def callable_value(remote: str, key: str, value: Any) -> Any:
    if not callable(value):
        raise ConfigurationError(f"{key} of remote app {remote!r} must be callable")
    return value


def flag(remote: str, key: str, value: Any) -> bool:
    return bool(value)


def positive_seconds(remote: str, key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{key} of remote app {remote!r} must be a positive int (seconds)")
    return value


def consumer_only(remote: str, key: str, value: Any) -> bool | str:
    if value not in (False, True, "empty"):
        raise ConfigurationError(f"{key} of remote app {remote!r} must be False, True or 'empty'")
    return value  # type: ignore[no-any-return]


def retry_policy(remote: str, key: str, value: Any) -> RetryPolicy:
    if not isinstance(value, RetryPolicy):
        raise ConfigurationError(f"{key} of remote app {remote!r} must be a flask_oauth1_async.RetryPolicy")
    return value


def origins(remote: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        raise ConfigurationError(
            f"{key} of remote app {remote!r} must be a list of origins such as ['https://upload.example.com'], "
            f"not {type(value).__name__}"
        )
    checked: list[str] = []
    for item in value:
        text = item.strip() if isinstance(item, str) else ""
        parts = urlsplit(text)
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            text = ""
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or "@" in parts.netloc
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ConfigurationError(
                f"{key} of remote app {remote!r} holds {item!r}, which is not an origin: write it as "
                "'https://host' or 'https://host:port', without a path"
            )
        checked.append(format_origin(origin_of(text)))
    return tuple(dict.fromkeys(checked))


def deadline(remote: str, key: str, value: Any) -> float | bool:
    if value is False:
        return False
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(
            f"{key} of remote app {remote!r} must be a positive number of seconds, or False for no deadline"
        )
    return float(value)
