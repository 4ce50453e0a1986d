"""URLs: resolving a resource URL, comparing origins, and the one redacted form shown anywhere.

:func:`redact_url` is what every message, log line, span, signal and
``repr`` of this package shows of a URL: scheme, host, port and path, never
the user info, the query or the fragment (where a signature, a token, a
verifier - or with ``PLAINTEXT``, the secrets - may travel).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from ._http import httpx
from .errors import ConfigurationError

__all__ = ["Origin", "format_origin", "is_loopback", "join_url", "origin_of", "redact_url"]

#: ``(scheme, host, port)``, lower-cased, with the default port filled in.
Origin = tuple[str, str, int | None]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def redact_url(url: str | httpx.URL) -> str:
    """``scheme://host[:port]/path`` of *url*: no user info, query or fragment."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: show no port rather than fail while reporting
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def origin_of(url: str | httpx.URL) -> Origin:
    """The origin of *url*: scheme, host and port (the default one when none is written)."""
    parts = urlsplit(str(url))
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return (scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme))


def format_origin(origin: Origin) -> str:
    """``scheme://host[:port]`` of *origin*, the port shown only when it is not the scheme's default."""
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_loopback(host: str) -> bool:
    """True for a name or address of this machine: ``localhost`` (and ``*.localhost``), 127.0.0.0/8, ``::1``."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def join_url(base: str | None, url: str) -> str:
    """Resolve *url* against the remote's ``api_base_url``.

    * ``http(s)://...`` URLs are used as they are;
    * a path such as ``account/x`` is appended to the whole base, which keeps
      its last segment whether or not it ends with ``/`` (``.../1.1`` +
      ``account/x`` is ``.../1.1/account/x``);
    * a path starting with ``/`` is taken from the base's host, as
      :func:`urllib.parse.urljoin` does:
      ``https://api.x.com/1.1/`` + ``/2/users/me`` is ``https://api.x.com/2/users/me``.
    """
    lowered = url[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return url
    if url.startswith("//"):
        raise ConfigurationError(
            f"refusing the protocol-relative URL {url!r}: pass an absolute https:// URL to call another host"
        )
    if not base:
        raise ConfigurationError(
            f"cannot resolve the relative URL {url!r}: set api_base_url (or the {{NAME}}_API_BASE_URL key)"
        )
    if url.startswith("/"):
        parts = urlsplit(base)
        return urlunsplit((parts.scheme, parts.netloc, "", "", "")) + url
    if not base.endswith("/"):
        base += "/"
    return base + url
