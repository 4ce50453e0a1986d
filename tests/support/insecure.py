"""Tests that register remotes with an insecure setting on purpose say so.

The suite turns warnings into errors, and registering a remote with
``signature_type="query"`` or ``client_kwargs={"verify": False}`` emits an
:class:`~flask_oauth1_async.InsecureSettingWarning` (once per remote).
Tests that use such a setting wrap the registration in
:func:`warns_insecure`, which also checks that the warning came. A remote
that signs with ``PLAINTEXT`` against a plain-HTTP provider on 127.0.0.1
(the suite's ``provider``) needs ``allow_plaintext_over_http=True``:
:func:`plaintext_opt_out` gives the keyword when it applies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from flask_oauth1_async import InsecureSettingWarning

__all__ = ["plaintext_opt_out", "warns_insecure"]


@contextlib.contextmanager
def warns_insecure(when: bool, match: str | None = None) -> Iterator[None]:
    """Expect an :class:`InsecureSettingWarning` (matching *match*) inside the block when *when* is true."""
    if not when:
        yield
        return
    with pytest.warns(InsecureSettingWarning, match=match):
        yield


def plaintext_opt_out(method: str, url: str) -> dict[str, Any]:
    """``{"allow_plaintext_over_http": True}`` for PLAINTEXT against a plain-http *url*, else ``{}``."""
    if method.upper() == "PLAINTEXT" and url.startswith("http://"):
        return {"allow_plaintext_over_http": True}
    return {}
