"""save_token() when another transaction inserted the same row first, on SQLite (PostgreSQL: test_sqlalchemy_postgres).

The race is made deterministic: the other writer's row is committed between
the store's first lookup (which is made to see nothing, as it would have a
moment earlier) and its INSERT. The INSERT then does nothing (``ON CONFLICT DO
NOTHING``) and the save updates the other writer's row: one row, this save's
token. Both ways SQLite can tell whether the INSERT happened are exercised:
``RETURNING`` (SQLite 3.35+) and the row count (older SQLite).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import pg_tokens
from tests.support.pg_tokens import db


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    path = tmp_path / "race.sqlite3"
    app, oauth = pg_tokens.make_app(f"sqlite:///{path}")
    yield app, path
    oauth.close()
    with app.app_context():
        db.engine.dispose()


def _stored(path: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return con.execute("SELECT user_id, account, oauth_token, oauth_token_secret FROM oauth1_tokens").fetchall()


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "rowcount"])
def test_a_save_that_loses_the_insert_race_updates_the_row(
    sqlite_app: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    app, path = sqlite_app
    store = pg_tokens.store
    real_find = store.find
    lookups: list[Any] = []

    def find_then_race(*args: Any, **kwargs: Any) -> Any:
        lookups.append(kwargs)
        if len(lookups) == 1:
            # The other process commits its row right after our first lookup saw nothing.
            with contextlib.closing(sqlite3.connect(path)) as con, con:
                con.execute(
                    "INSERT INTO oauth1_tokens (user_id, provider, account, oauth_token, oauth_token_secret, extra, "
                    "created_at, updated_at) VALUES (2, 'trello', '', 'theirs', 'their-secret', '{}', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            return None
        return real_find(*args, **kwargs)

    monkeypatch.setattr(store, "find", find_then_race)
    with app.app_context():
        monkeypatch.setattr(db.engine.dialect, "insert_returning", returning)
        row = store.save_token("trello", {"oauth_token": "ours", "oauth_token_secret": "our-secret"}, user_id=2)
        assert row.oauth_token == "ours"
    assert _stored(path) == [(2, "", "ours", "our-secret")]
    assert len(lookups) == 2  # the first lookup, and the one after the INSERT that did nothing


def test_without_a_race_the_insert_is_the_row(sqlite_app: tuple[Any, Path]) -> None:
    app, path = sqlite_app
    with app.app_context():
        row = pg_tokens.store.save_token("trello", {"oauth_token": "t1", "oauth_token_secret": "s1"}, user_id="2")
        assert (row.user_id, row.oauth_token) == (2, "t1")  # "2" is coerced to the integer key
        again = pg_tokens.store.save_token("trello", {"oauth_token": "t2", "oauth_token_secret": "s2"}, user_id=2)
        assert again.id == row.id
    assert _stored(path) == [(2, "", "t2", "s2")]
