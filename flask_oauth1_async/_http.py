"""The one module that imports the HTTP library: httpx, or its maintained fork httpx2.

httpx has had no release since December 2024; ``httpx2`` (same API, its own
``httpcore2`` pool) is where Starlette, FastAPI and Authlib are moving. This
package works with either. The choice is explicit:

* ``FLASK_OAUTH1_ASYNC_HTTP=httpx2`` in the environment (read once, at
  import) selects httpx2 (``pip install "flask_oauth1_async[httpx2]"``);
* ``FLASK_OAUTH1_ASYNC_HTTP=httpx`` selects httpx;
* unset, httpx is used, or httpx2 when httpx is not installed. An app that
  called ``httpx2.alias_httpx()`` (so that ``import httpx`` gives httpx2)
  gets httpx2 either way.

Every other module takes the library from here (``from ._http import
httpx``), so the clients, requests, responses and exceptions the package
creates, accepts and raises all come from the same library. Static types are
written against httpx's names, which httpx2 keeps.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["LIBRARY", "httpx"]

_CHOICES = ("httpx", "httpx2")


def _select() -> ModuleType:
    wanted = os.environ.get("FLASK_OAUTH1_ASYNC_HTTP", "").strip().lower()
    if wanted and wanted not in _CHOICES:
        raise ImportError(f"FLASK_OAUTH1_ASYNC_HTTP must be 'httpx' or 'httpx2', not {wanted!r}")
    if wanted:
        try:
            return importlib.import_module(wanted)
        except ImportError as exc:
            extra = ' (pip install "flask_oauth1_async[httpx2]")' if wanted == "httpx2" else ""
            raise ImportError(f"FLASK_OAUTH1_ASYNC_HTTP={wanted} but {wanted} is not installed{extra}") from exc
    try:
        return importlib.import_module("httpx")
    except ImportError:
        return importlib.import_module("httpx2")


if TYPE_CHECKING:
    import httpx
else:
    httpx = _select()

#: The name of the library in use: ``"httpx"`` or ``"httpx2"``.
LIBRARY: str = httpx.__name__
