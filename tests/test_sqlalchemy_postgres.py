"""flask_oauth1_async.contrib.sqlalchemy on a real PostgreSQL server, through psycopg 3.

The server is a throwaway cluster this test run starts itself
(:mod:`tests.support.postgres_server`: Debian's ``postgresql`` installed when
missing and allowed, ``initdb`` in a temporary directory, 127.0.0.1 and a
free port, stopped and removed at the end). Every test gets a database of its
own. The tests cover a login saving its token from a plain view and from an
async view (``save_token`` / ``asave_token``), several accounts of one user,
the column types the docs promise, and two processes saving the same user's
token at once: never two rows, never an error, and the save that commits last
wins (asked of PostgreSQL itself, whose ``track_commit_timestamp`` is on).

Marked ``slow``: they run on the newest Python of the ``tests`` session and in
``tests_httpx2`` and ``tests_aiohttp`` (the quick sessions keep SQLite, in
``tests/test_sqlalchemy_tokens.py``).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_oauth1_async import OAuth
from flask_oauth1_async.testing import FakeProvider, login
from tests.support import pg_tokens
from tests.support.pg_tokens import db
from tests.support.postgres_server import PostgresServer, postgres_server

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]
pytestmark = pytest.mark.slow

__all__ = ["postgres_server"]  # the session fixture, imported for this module

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database for one test; its SQLAlchemy URL."""
    name = postgres_server.database()
    yield postgres_server.url(name)
    postgres_server.drop(name)


@pytest.fixture
def app_and_oauth(database: str, oauth1_provider: FakeProvider) -> Iterator[tuple[Flask, OAuth]]:
    app, oauth = pg_tokens.make_app(database, oauth1_provider.config("TRELLO"))
    yield app, oauth
    oauth.close()
    with app.app_context():
        db.engine.dispose()


def rows(postgres_server: PostgresServer, url: str) -> list[tuple[Any, ...]]:
    """What is really in the table, read with psycopg directly (not through SQLAlchemy)."""
    name = url.rsplit("/", 1)[1]
    with postgres_server.connect(name) as conn:
        return conn.execute(
            "SELECT u.name, t.provider, t.account, t.oauth_token, t.oauth_token_secret, t.extra "
            "FROM oauth1_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"
        ).fetchall()


# ------------------------------------------------------------------ logins


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_login_saves_the_token_and_fetch_token_signs_later_calls(
    kind: str,
    app_and_oauth: tuple[Flask, OAuth],
    oauth1_provider: FakeProvider,
    postgres_server: PostgresServer,
    database: str,
) -> None:
    app, _ = app_and_oauth
    client = app.test_client()
    answer = login(client, f"/{kind}/login/alice", user="bob", provider=oauth1_provider).get_json()
    assert answer["account"] == oauth1_provider.users["bob"]["user_id"]
    ((local, provider, account, token, secret, extra),) = rows(postgres_server, database)
    assert (local, provider, account) == ("alice", "trello", oauth1_provider.users["bob"]["user_id"])
    assert oauth1_provider.user_of(token) == "bob"
    assert secret
    # a json column: every extra field of the token answer (oauthlib adds its empty oauth_authorized_realms)
    assert extra == {
        "user_id": oauth1_provider.users["bob"]["user_id"],
        "screen_name": "bob",
        "oauth_authorized_realms": "",
    }
    # A later request: fetch_token reads the row back from PostgreSQL and signs with it.
    for view in ("sync", "async"):
        assert client.get(f"/{view}/me").get_json()["screen_name"] == "bob"
    assert [call.token for call in oauth1_provider.calls] == [token, token]
    # Logging in again as the same provider account updates the row (no second row).
    login(client, f"/{kind}/login/alice", user="bob", provider=oauth1_provider)
    ((_, _, _, token_again, _, _),) = rows(postgres_server, database)
    assert token_again != token
    assert oauth1_provider.user_of(token_again) == "bob"


def test_several_accounts_per_user(
    app_and_oauth: tuple[Flask, OAuth], oauth1_provider: FakeProvider, postgres_server: PostgresServer, database: str
) -> None:
    app, _ = app_and_oauth
    client = app.test_client()
    bob_account = oauth1_provider.users["bob"]["user_id"]
    alice_account = oauth1_provider.users["alice"]["user_id"]
    login(client, "/sync/login/alice", user="bob", provider=oauth1_provider)
    login(client, "/async/login/alice", user="alice", provider=oauth1_provider)  # a second account, async save
    stored = rows(postgres_server, database)
    assert [(r[0], r[2]) for r in stored] == [("alice", bob_account), ("alice", alice_account)]
    # The session names the account in use; fetch_token follows it.
    assert client.get("/sync/me").get_json()["screen_name"] == "alice"
    client.get(f"/use/{bob_account}")
    assert client.get("/async/me").get_json()["screen_name"] == "bob"
    with app.test_request_context():
        uid = db.session.scalars(db.select(pg_tokens.User.id).where(pg_tokens.User.name == "alice")).one()
        newest_first = [row.account for row in pg_tokens.store.accounts("trello", user_id=uid)]
        assert newest_first == [alice_account, bob_account]
        assert pg_tokens.store.delete_token("trello", user_id=uid, account=bob_account) == 1
    assert [r[2] for r in rows(postgres_server, database)] == [alice_account]


def test_column_types_are_the_ones_the_docs_give(
    app_and_oauth: tuple[Flask, OAuth], postgres_server: PostgresServer, database: str
) -> None:
    with postgres_server.connect(database.rsplit("/", 1)[1]) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'oauth1_tokens'"
            ).fetchall()
        )
        constraints = [
            r[0]
            for r in conn.execute(
                "SELECT constraint_name FROM information_schema.table_constraints "
                "WHERE table_name = 'oauth1_tokens' AND constraint_type = 'UNIQUE'"
            ).fetchall()
        ]
    assert types["extra"] == "json"
    assert types["created_at"] == types["updated_at"] == "timestamp with time zone"
    assert constraints == ["uq_oauth1_tokens_user_provider_account"]


# ------------------------------------------------------------------ two processes at once


def _collect(results: Any, count: int) -> list[Any]:
    collected = []
    for _ in range(count):
        collected.append(results.get(timeout=120))
    return collected


def _commit_order(postgres_server: PostgresServer, name: str, xids: list[str]) -> list[str]:
    """*xids* sorted by the time PostgreSQL committed them."""
    with postgres_server.connect(name) as conn:
        stamps = {xid: conn.execute("SELECT pg_xact_commit_timestamp(%s::xid)", (xid,)).fetchone()[0] for xid in xids}
    assert all(stamps.values()), stamps
    return sorted(xids, key=lambda xid: stamps[xid])


def test_two_processes_saving_the_same_token_at_once_make_one_row_and_the_last_commit_wins(
    app_and_oauth: tuple[Flask, OAuth], postgres_server: PostgresServer, database: str
) -> None:
    """Two workers, many rounds; each round both save bob's token for a new account at the same moment."""
    rounds = 15
    barrier = SPAWN.Barrier(2)
    results = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=pg_tokens.save_in_rounds, args=(database, name, rounds, barrier, results))
        for name in ("one", "two")
    ]
    for worker in workers:
        worker.start()
    try:
        reports = _collect(results, 2 * rounds)
    finally:
        for worker in workers:
            worker.join(60)
            if worker.is_alive():
                worker.kill()
                worker.join(10)
    assert [worker.exitcode for worker in workers] == [0, 0]
    errors = [report for report in reports if report[2] is None]
    assert errors == []
    name = database.rsplit("/", 1)[1]
    with postgres_server.connect(name) as conn:
        stored = {
            account: (token, xmin)
            for account, token, xmin in conn.execute(
                "SELECT account, oauth_token, xmin::text FROM oauth1_tokens ORDER BY account"
            ).fetchall()
        }
    assert sorted(stored) == sorted(f"round-{r}" for r in range(rounds))  # one row per account, none twice
    for round_ in range(rounds):
        saves = {xid: token for _, r, xid, token in reports if r == round_}
        assert len(saves) == 2
        last = _commit_order(postgres_server, name, list(saves))[-1]
        token, xmin = stored[f"round-{round_}"]
        assert token == saves[last]  # the save that committed last wins
        assert xmin == last  # and PostgreSQL agrees: the row is that transaction's version


def test_a_save_blocked_by_an_uncommitted_insert_updates_that_row_and_wins(
    app_and_oauth: tuple[Flask, OAuth], postgres_server: PostgresServer, database: str
) -> None:
    """Process A inserts bob's row and holds its transaction; B's save waits, then updates A's row after A commits."""
    saved, release = SPAWN.Event(), SPAWN.Event()
    results = SPAWN.Queue()
    first = SPAWN.Process(target=pg_tokens.save_and_hold, args=(database, "first", saved, release, results))
    second = SPAWN.Process(target=pg_tokens.save_now, args=(database, "second", results))
    name = database.rsplit("/", 1)[1]
    first.start()
    try:
        assert saved.wait(120)
        second.start()
        # Wait until B's INSERT is blocked on A's uncommitted row (a lock wait in pg_stat_activity).
        with postgres_server.connect(name) as conn:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                waiting = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (name,)
                ).fetchone()[0]
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting == 1
        assert rows(postgres_server, database) == []  # nothing committed yet
        release.set()
        reports = {token: (xid, error) for token, xid, error in _collect(results, 2)}
    finally:
        release.set()
        for worker in (first, second):
            if worker.pid is not None:
                worker.join(60)
                if worker.is_alive():
                    worker.kill()
                    worker.join(10)
    assert reports["first"][1] is None
    assert reports["second"][1] is None
    ((local, _, account, token, secret, _),) = rows(postgres_server, database)
    assert (local, account, token, secret) == ("bob", "", "second", "secret-second")
    assert _commit_order(postgres_server, name, [reports["first"][0], reports["second"][0]]) == [
        reports["first"][0],
        reports["second"][0],
    ]
