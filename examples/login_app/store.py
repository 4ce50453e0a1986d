"""Token storage in SQLite (standard library ``sqlite3``).

One row per provider and user: the token credentials the provider issued,
plus the extra fields of its answer (``screen_name``, ``user_id``...). A new
connection is opened for every operation, so the store can be used from any
thread: Flask's request threads, and the threads asgiref uses for sync code
called from ``async def`` views.

The secrets are stored as they are, which is fine for a demo. A real app
should encrypt ``oauth_token_secret`` at rest (for example with
``cryptography.fernet``) or keep it in a secrets store.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth1_tokens (
    provider           TEXT NOT NULL,
    user_key           TEXT NOT NULL,
    oauth_token        TEXT NOT NULL,
    oauth_token_secret TEXT NOT NULL,
    extra              TEXT NOT NULL DEFAULT '{}',
    updated_at         REAL NOT NULL,
    PRIMARY KEY (provider, user_key)
)
"""


class TokenStore:
    """Save, load and delete OAuth 1 tokens in an SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with self._transaction() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def save(self, provider: str, user_key: str, token: Mapping[str, Any]) -> None:
        """Insert or replace the token of *user_key* at *provider*."""
        extra = {k: v for k, v in token.items() if k not in ("oauth_token", "oauth_token_secret")}
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO oauth1_tokens VALUES (?, ?, ?, ?, ?, ?)",
                (
                    provider,
                    user_key,
                    token["oauth_token"],
                    token.get("oauth_token_secret", ""),
                    json.dumps(extra),
                    time.time(),
                ),
            )

    def load(self, provider: str, user_key: str) -> dict[str, Any] | None:
        """Return the stored token as a dict, or None."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT oauth_token, oauth_token_secret, extra FROM oauth1_tokens WHERE provider = ? AND user_key = ?",
                (provider, user_key),
            ).fetchone()
        if row is None:
            return None
        return {**json.loads(row[2]), "oauth_token": row[0], "oauth_token_secret": row[1]}

    def delete(self, provider: str, user_key: str) -> None:
        """Forget the token of *user_key* at *provider* (no error if there is none)."""
        with self._transaction() as db:
            db.execute("DELETE FROM oauth1_tokens WHERE provider = ? AND user_key = ?", (provider, user_key))
