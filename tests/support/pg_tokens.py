"""The token-store app of the PostgreSQL tests, importable by the worker processes they spawn.

A Flask-SQLAlchemy model with :class:`~flask_oauth1_async.contrib.sqlalchemy.OAuth1TokenMixin`
(and an integer ``user_id`` pointing at a ``users`` table, as the docs
suggest), a :class:`~flask_oauth1_async.contrib.sqlalchemy.SQLAlchemyTokenStore`
reading the signed-in user from the session, and the login views, plain and
async, that save the token. :func:`save_in_rounds` is what each worker
process runs in the concurrency tests.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, session, url_for
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_oauth1_async import OAuth
from flask_oauth1_async.contrib.sqlalchemy import OAuth1TokenMixin, SQLAlchemyTokenStore

__all__ = ["OAuth1Token", "User", "db", "make_app", "save_in_rounds", "store"]


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class OAuth1Token(OAuth1TokenMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth1_tokens"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


store = SQLAlchemyTokenStore(
    OAuth1Token, db.session, lambda: session.get("uid"), account=lambda name: session.get(f"{name}_account")
)


def make_app(database_url: str, provider_config: dict[str, Any] | None = None) -> tuple[Flask, OAuth]:
    """The app on *database_url*, with users alice and bob; login views when *provider_config* is given."""
    app = Flask("pg-tokens")
    app.config.update(
        SECRET_KEY="pg-tokens",
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 2, "max_overflow": 2},
        **(provider_config or {}),
    )
    db.init_app(app)
    oauth = OAuth(app, fetch_token=store.fetch_token)
    oauth.register("trello")
    with app.app_context():
        db.create_all()
        if db.session.scalar(db.select(db.func.count()).select_from(User)) == 0:
            db.session.add_all([User(name="alice"), User(name="bob")])
            db.session.commit()

    def sign_in(local: str) -> None:
        session["uid"] = db.session.scalars(db.select(User.id).where(User.name == local)).one()

    @app.get("/sync/login/<local>")
    def sync_login(local: str) -> Any:
        sign_in(local)
        return oauth.trello.authorize_redirect(url_for("sync_callback", _external=True))

    @app.get("/sync/callback")
    def sync_callback() -> Any:
        token = oauth.trello.authorize_access_token()
        row = store.save_token("trello", token, account=token["user_id"])
        session["trello_account"] = row.account
        return {"saved": row.id, "account": row.account}

    @app.get("/async/login/<local>")
    async def async_login(local: str) -> Any:
        sign_in(local)
        return await oauth.trello.authorize_redirect(url_for("async_callback", _external=True))

    @app.get("/async/callback")
    async def async_callback() -> Any:
        token = await oauth.trello.authorize_access_token()
        row = await store.asave_token("trello", token, account=token["user_id"])
        session["trello_account"] = row.account
        return {"saved": row.id, "account": row.account}

    @app.get("/sync/me")
    def sync_me() -> Any:
        return oauth.trello.get("members/me").json()

    @app.get("/async/me")
    async def async_me() -> Any:
        return (await oauth.trello.get("members/me")).json()

    @app.get("/use/<account>")
    def use_account(account: str) -> Any:
        session["trello_account"] = account
        return {}

    return app, oauth


def _transaction_id() -> str:
    return str(db.session.execute(text("SELECT pg_current_xact_id()::xid::text")).scalar_one())


def save_in_rounds(database_url: str, worker: str, rounds: int, barrier: Any, results: Any) -> None:
    """Worker process: for each round, wait for the others, then save a token for (bob, trello, account of the round).

    Every save runs in its own transaction; its id (taken just before the
    commit) and the token it wrote go to *results*, or the error if the save
    failed. ``ORDER`` rounds start together, so every round is a race to
    insert the same new row.
    """
    app, oauth = make_app(database_url)
    try:
        with app.app_context():
            bob = db.session.scalars(db.select(User.id).where(User.name == "bob")).one()
            db.session.commit()
            for round_ in range(rounds):
                token = {"oauth_token": f"{worker}-{round_}", "oauth_token_secret": f"secret-{worker}-{round_}"}
                barrier.wait(60)
                try:
                    store.save_token("trello", token, user_id=bob, account=f"round-{round_}", commit=False)
                    xid = _transaction_id()
                    db.session.commit()
                except Exception as exc:
                    db.session.rollback()
                    results.put((worker, round_, None, f"{type(exc).__name__}: {exc}"))
                else:
                    results.put((worker, round_, xid, token["oauth_token"]))
    finally:
        oauth.close()
        with app.app_context():
            db.engine.dispose()


def save_and_hold(database_url: str, token_value: str, saved: Any, release: Any, results: Any) -> None:
    """Worker process: save bob's token without committing, say so, wait for *release*, then commit."""
    app, oauth = make_app(database_url)
    try:
        with app.app_context():
            bob = db.session.scalars(db.select(User.id).where(User.name == "bob")).one()
            token = {"oauth_token": token_value, "oauth_token_secret": f"secret-{token_value}"}
            try:
                store.save_token("trello", token, user_id=bob, commit=False)
                xid = _transaction_id()
                saved.set()
                if not release.wait(60):
                    raise TimeoutError("never released")
                db.session.commit()
            except Exception as exc:
                db.session.rollback()
                saved.set()
                results.put((token_value, None, f"{type(exc).__name__}: {exc}"))
            else:
                results.put((token_value, xid, None))
    finally:
        oauth.close()
        with app.app_context():
            db.engine.dispose()


def save_now(database_url: str, token_value: str, results: Any) -> None:
    """Worker process: save bob's token with the default ``commit=True``."""
    app, oauth = make_app(database_url)
    try:
        with app.app_context():
            bob = db.session.scalars(db.select(User.id).where(User.name == "bob")).one()
            token = {"oauth_token": token_value, "oauth_token_secret": f"secret-{token_value}"}
            try:
                row = store.save_token("trello", token, user_id=bob)
                xid = str(
                    db.session.execute(
                        text("SELECT xmin::text FROM oauth1_tokens WHERE id = :id"), {"id": row.id}
                    ).scalar_one()
                )
                db.session.commit()
            except Exception as exc:
                db.session.rollback()
                results.put((token_value, None, f"{type(exc).__name__}: {exc}"))
            else:
                results.put((token_value, xid, None))
    finally:
        oauth.close()
        with app.app_context():
            db.engine.dispose()
