"""flask_oauth1_async.contrib.sqlalchemy against a real SQLite file, with real logins.

The app below is what a user writes: a Flask-SQLAlchemy model with the
mixin, a token store whose ``fetch_token`` the registry calls, and a login
callback that saves the token. The provider is the fake one from
``flask_oauth1_async.testing``; sync and async views are both exercised.
"""

from __future__ import annotations

import contextlib
import datetime
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, session, url_for
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_oauth1_async import OAuth
from flask_oauth1_async.contrib.sqlalchemy import OAuth1TokenMixin, SQLAlchemyTokenStore
from flask_oauth1_async.testing import FakeProvider, login
from tests.support.views import PREFIX, VIEW_KINDS

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Token(OAuth1TokenMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth1_tokens"
    # The app's own user key replaces the mixin's string column.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # type: ignore[assignment]


def current_user_id() -> int | None:
    return session.get("uid")


store = SQLAlchemyTokenStore(Token, db.session, current_user_id, account=lambda name: session.get(f"{name}_account"))


def build_app(fake: FakeProvider, database: Path) -> tuple[Flask, OAuth]:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="sqla-tests", SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", **fake.config("TRELLO"))
    db.init_app(app)
    oauth = OAuth(app, fetch_token=store.fetch_token)
    oauth.register("trello")
    with app.app_context():
        db.create_all()
        db.session.add_all([User(name="alice"), User(name="bob")])
        db.session.commit()

    def sign_in_local_user(name: str) -> None:
        session["uid"] = db.session.scalars(db.select(User.id).where(User.name == name)).one()

    @app.get("/s/login/<local>")
    def s_login(local: str) -> Any:
        sign_in_local_user(local)
        return oauth.trello.authorize_redirect(url_for("s_callback", _external=True))

    @app.get("/s/callback")
    def s_callback() -> Any:
        token = oauth.trello.authorize_access_token()
        row = store.save_token("trello", token, account=token["user_id"])
        session["trello_account"] = row.account
        return {"saved": row.id}

    @app.get("/a/login/<local>")
    async def a_login(local: str) -> Any:
        sign_in_local_user(local)
        return await oauth.trello.authorize_redirect(url_for("a_callback", _external=True))

    @app.get("/a/callback")
    async def a_callback() -> Any:
        token = await oauth.trello.authorize_access_token()
        row = await store.asave_token("trello", token, account=token["user_id"])
        session["trello_account"] = row.account
        return {"saved": row.id}

    @app.get("/s/me")
    def s_me() -> Any:
        return oauth.trello.get("members/me").json()

    @app.get("/a/me")
    async def a_me() -> Any:
        return (await oauth.trello.get("members/me")).json()

    @app.get("/use/<account>")
    def use_account(account: str) -> Any:
        session["trello_account"] = account
        return {}

    return app, oauth


@pytest.fixture
def app_and_oauth(oauth1_provider: FakeProvider, tmp_path: Path) -> Iterator[tuple[Flask, OAuth]]:
    app, oauth = build_app(oauth1_provider, tmp_path / "tokens.sqlite3")
    yield app, oauth
    oauth.close()
    with app.app_context():
        db.engine.dispose()


def rows(database: Path) -> list[tuple[Any, ...]]:
    """What is really in the SQLite file, read without SQLAlchemy."""
    with contextlib.closing(sqlite3.connect(database)) as con:  # closing: a sqlite3 "with" only commits
        return con.execute(
            "SELECT user_id, provider, account, oauth_token, oauth_token_secret, extra FROM oauth1_tokens ORDER BY id"
        ).fetchall()


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_login_saves_row_and_fetch_token_signs_later_calls(
    kind: str, app_and_oauth: tuple[Flask, OAuth], oauth1_provider: FakeProvider, tmp_path: Path
) -> None:
    app, _ = app_and_oauth
    client = app.test_client()
    assert login(client, PREFIX[kind] + "/login/alice", user="bob").status_code == 200
    ((user_id, provider, account, token, secret, extra),) = rows(tmp_path / "tokens.sqlite3")
    assert (user_id, provider, account) == (1, "trello", oauth1_provider.users["bob"]["user_id"])
    assert oauth1_provider.user_of(token) == "bob"
    assert secret
    assert '"screen_name": "bob"' in extra
    # a new request: the token comes from the database through fetch_token, in both view kinds
    assert client.get("/s/me").get_json()["screen_name"] == "bob"
    assert client.get("/a/me").get_json()["screen_name"] == "bob"
    assert [(c.token, c.user, c.valid) for c in oauth1_provider.calls] == [(token, "bob", True)] * 2


def test_second_login_updates_the_same_row(
    app_and_oauth: tuple[Flask, OAuth], oauth1_provider: FakeProvider, tmp_path: Path
) -> None:
    app, _ = app_and_oauth
    client = app.test_client()
    login(client, "/s/login/alice", user="alice")
    with app.app_context():
        first = db.session.scalars(db.select(Token)).one()
        created, updated, old_token = first.created_at, first.updated_at, first.oauth_token
    login(client, "/a/login/alice", user="alice")
    with app.app_context():
        again = db.session.scalars(db.select(Token)).one()
        assert again.oauth_token != old_token
        assert again.created_at == created
        assert again.updated_at >= updated
        assert isinstance(again.created_at, datetime.datetime)
        assert again.to_token()["screen_name"] == "alice"
        assert "secret" not in repr(again).lower()
        assert again.oauth_token not in repr(again)


def test_several_accounts_per_user_and_provider(
    app_and_oauth: tuple[Flask, OAuth], oauth1_provider: FakeProvider, tmp_path: Path
) -> None:
    app, _ = app_and_oauth
    client = app.test_client()
    login(client, "/s/login/alice", user="alice")
    login(client, "/a/login/alice", user="bob")  # the same local user links a second account
    saved = rows(tmp_path / "tokens.sqlite3")
    assert [(r[0], r[2]) for r in saved] == [(1, "1001"), (1, "1002")]
    assert client.get("/s/me").get_json()["screen_name"] == "bob"  # the account chosen in the session
    client.get("/use/1001")
    assert client.get("/a/me").get_json()["screen_name"] == "alice"
    with app.test_request_context():
        session["uid"] = 1
        assert [row.account for row in store.accounts("trello")] == ["1002", "1001"]
        newest = store.find("trello")  # no account given: the most recently saved one
        assert newest is not None
        assert newest.account == "1002"
        assert store.delete_token("trello", account="1001") == 1
        assert [row.account for row in store.accounts("trello")] == ["1002"]


def test_unique_constraint_on_user_provider_account(app_and_oauth: tuple[Flask, OAuth]) -> None:
    app, _ = app_and_oauth
    with app.app_context():
        db.session.add_all(
            [
                Token(user_id=1, provider="trello", oauth_token="a" * 20),
                Token(user_id=1, provider="trello", oauth_token="b" * 20),
            ]
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_no_signed_in_user_means_no_token(app_and_oauth: tuple[Flask, OAuth]) -> None:
    app, _ = app_and_oauth
    client = app.test_client()
    resp = client.get("/s/me")  # fetch_token found nobody: the library refuses to send unsigned
    assert resp.status_code == 500
    with app.test_request_context():
        assert store.fetch_token("trello") is None
        with pytest.raises(LookupError, match="needs a user"):
            store.save_token("trello", ("t" * 20, "s"))
        assert store.delete_token("trello") == 0


def test_save_token_accepts_explicit_user_and_pair(app_and_oauth: tuple[Flask, OAuth]) -> None:
    app, _ = app_and_oauth
    with app.test_request_context():
        row = store.save_token("trello", ("t" * 20, "s" * 20), user_id=2)
        assert row.to_token() == {"oauth_token": "t" * 20, "oauth_token_secret": "s" * 20}
        assert store.fetch_token("trello") is None  # nobody signed in in this request
        found = store.find("trello", user_id=2, account="")
        assert found is not None
        assert found.id == row.id


def test_default_string_user_id_column(tmp_path: Path) -> None:
    # The mixin's own user_id column (a string), on a plain SQLAlchemy model and session.
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    class PlainBase(DeclarativeBase):
        pass

    class PlainToken(OAuth1TokenMixin, PlainBase):
        __tablename__ = "plain_tokens"

    engine = create_engine(f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    PlainBase.metadata.create_all(engine)
    with Session(engine) as db_session:
        plain = SQLAlchemyTokenStore(PlainToken, lambda: db_session, lambda: "user-7")
        plain.save_token("twitter", {"oauth_token": "x" * 20, "oauth_token_secret": "y", "screen_name": "z"})
        assert plain.fetch_token("twitter") == {"oauth_token": "x" * 20, "oauth_token_secret": "y", "screen_name": "z"}
    engine.dispose()
    with contextlib.closing(
        sqlite3.connect(tmp_path / "plain.sqlite3")
    ) as con:  # closing: a sqlite3 "with" only commits
        assert con.execute("SELECT user_id, account FROM plain_tokens").fetchall() == [("user-7", "")]
