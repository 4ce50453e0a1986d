"""OAuth 1 tokens in a database with SQLAlchemy 2 and Flask-SQLAlchemy (extra: ``flask_oauth1_async[sqlalchemy]``).

* :class:`OAuth1TokenMixin` adds the columns of one stored token to a
  declarative model: ``user_id``, ``provider``, ``account``, ``oauth_token``,
  ``oauth_token_secret``, ``extra`` (JSON), ``created_at`` and
  ``updated_at``, unique per ``(user_id, provider, account)``.
* :class:`SQLAlchemyTokenStore` reads and writes such rows:
  :meth:`~SQLAlchemyTokenStore.fetch_token` is a plain function to give to
  ``OAuth(fetch_token=...)``, and :meth:`~SQLAlchemyTokenStore.save_token`
  (:meth:`~SQLAlchemyTokenStore.asave_token` in ``async def`` views) is the
  "save after login" step.

Why plain functions work in async views: the registry calls a plain
``fetch_token`` from an ``async def`` view through asgiref's
``sync_to_async(thread_sensitive=True)``, on the request's own thread, so a
synchronous session such as Flask-SQLAlchemy's ``db.session`` is used from
the thread that owns it. :meth:`~SQLAlchemyTokenStore.asave_token` does the
same for saving. See ``docs/token-storage.rst``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from asgiref.sync import sync_to_async

try:
    from sqlalchemy import JSON, DateTime, String, UniqueConstraint, insert, select
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column
except ImportError as exc:  # the extra is missing, or SQLAlchemy is older than 2.0
    raise ImportError(
        "flask_oauth1_async.contrib.sqlalchemy needs SQLAlchemy 2 (and Flask-SQLAlchemy for db.session); "
        f'install them with: pip install "flask_oauth1_async[sqlalchemy]" ({exc})',
        name=exc.name,
    ) from exc

from ..tokens import OAuth1Token, to_token

__all__ = ["OAuth1TokenMixin", "SQLAlchemyTokenStore"]

_CREDENTIAL_KEYS = ("oauth_token", "oauth_token_secret")


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class OAuth1TokenMixin:
    """Columns for one OAuth 1 token credential; mix into a declarative model.

    ``user_id`` is a string column by default; declare your own
    ``user_id`` in the model (for example an integer with a foreign key to
    your users table) and it replaces this one. ``account`` tells several
    accounts of one user at one provider apart (such as the provider's own
    user id); it is ``""`` when a user has one account per provider. The
    unique constraint covers ``(user_id, provider, account)``; set your own
    ``__table_args__`` to change it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(255), default="")
    oauth_token: Mapped[str] = mapped_column(String(512))
    oauth_token_secret: Mapped[str] = mapped_column(String(512), default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, onupdate=_utcnow)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        table = getattr(cls, "__tablename__", None) or cls.__name__.lower()
        return (UniqueConstraint("user_id", "provider", "account", name=f"uq_{table}_user_provider_account"),)

    def to_token(self) -> OAuth1Token:
        """The stored token as an :class:`~flask_oauth1_async.OAuth1Token` (extra fields included)."""
        return OAuth1Token(
            {**(self.extra or {}), "oauth_token": self.oauth_token, "oauth_token_secret": self.oauth_token_secret}
        )

    def set_token(self, token: Any) -> None:
        """Copy *token* (a mapping or a ``(token, secret)`` pair) into the row's columns."""
        value = to_token(token)
        if value is None:
            raise ValueError("cannot store None as a token")
        self.oauth_token = value.token
        self.oauth_token_secret = value.secret
        self.extra = {k: v for k, v in value.items() if k not in _CREDENTIAL_KEYS}

    def __repr__(self) -> str:
        # Never the token or the secret.
        return f"<{type(self).__name__} user_id={self.user_id!r} provider={self.provider!r} account={self.account!r}>"


ModelT = TypeVar("ModelT", bound=OAuth1TokenMixin)


class SQLAlchemyTokenStore(Generic[ModelT]):
    """Look up and save the current user's tokens in rows of *model*.

    *session* returns the SQLAlchemy session to use: pass Flask-SQLAlchemy's
    ``db.session`` (a scoped session, which is callable), or any function
    returning a :class:`~sqlalchemy.orm.Session`. *user_id* returns the
    signed-in user's id, or None when nobody is signed in (for example
    ``lambda: current_user.get_id()`` with Flask-Login, or
    ``lambda: flask.session.get("user_id")``). *account*, for users with
    several accounts at one provider, returns which account to use for a
    remote name (None: the most recently saved one).
    """

    def __init__(
        self,
        model: type[ModelT],
        session: Callable[[], Session],
        user_id: Callable[[], Any],
        *,
        account: Callable[[str], str | None] | None = None,
    ) -> None:
        self.model = model
        self._session = session
        self._user_id = user_id
        self._account = account

    def __repr__(self) -> str:
        return f"<SQLAlchemyTokenStore model={self.model.__name__}>"

    @property
    def session(self) -> Session:
        """The current session (``session()`` as given)."""
        return self._session()

    def _current_user(self, user_id: Any) -> Any:
        value = self._user_id() if user_id is None else user_id
        if value is None:
            return None
        # Match the model's user_id column: "42" for the mixin's string column, 42 for an
        # integer key (PostgreSQL compares neither a varchar to an integer nor the reverse).
        try:
            wanted = sa_inspect(self.model).columns["user_id"].type.python_type
        except NotImplementedError:  # a column type that does not say
            return value
        return value if isinstance(value, wanted) else wanted(value)

    def find(self, provider: str, *, user_id: Any = None, account: str | None = None) -> ModelT | None:
        """The row of *user_id* (default: the signed-in user) at *provider*, or None.

        With *account* None and several accounts, the most recently updated one.
        """
        user = self._current_user(user_id)
        if user is None:
            return None
        model = self.model
        query = select(model).where(model.user_id == user, model.provider == provider)
        if account is not None:
            query = query.where(model.account == account)
        query = query.order_by(model.updated_at.desc(), model.id.desc()).limit(1)
        return self.session.scalars(query).first()

    def accounts(self, provider: str, *, user_id: Any = None) -> list[ModelT]:
        """All rows of *user_id* (default: the signed-in user) at *provider*, newest first."""
        user = self._current_user(user_id)
        if user is None:
            return []
        model = self.model
        query = (
            select(model)
            .where(model.user_id == user, model.provider == provider)
            .order_by(model.updated_at.desc(), model.id.desc())
        )
        return list(self.session.scalars(query))

    def fetch_token(self, name: str) -> OAuth1Token | None:
        """``fetch_token(name)`` for the registry: the signed-in user's token for remote *name*, or None."""
        account = self._account(name) if self._account is not None else None
        row = self.find(name, account=account)
        return None if row is None else row.to_token()

    def save_token(
        self, name: str, token: Any, *, user_id: Any = None, account: str = "", commit: bool = True
    ) -> ModelT:
        """Insert or update the token of *user_id* (default: the signed-in user) at remote *name*.

        Call it right after ``authorize_access_token()``. *account* tells
        several accounts apart (``""`` for one per provider). Commits unless
        *commit* is False. Returns the row.

        Two saves of the same ``(user, provider, account)`` at once (two
        logins of one user, in two processes) never make two rows and, on
        PostgreSQL and SQLite, never fail on the unique constraint: a save
        that finds no row inserts one unless another transaction has just
        inserted it, and then updates that row. **The save that commits last
        wins**: the row holds its token (see ``docs/token-storage.rst``).
        """
        user = self._current_user(user_id)
        if user is None:
            raise LookupError("save_token() needs a user: pass user_id=..., or sign the user in first")
        row = self.find(name, user_id=user, account=account)
        for _ in range(3):
            if row is not None:
                break
            if self._insert_unless_present(user, name, account, token):
                return self._saved(name, user, account, commit)
            # Another transaction inserted this row first (and committed): update it.
            row = self.find(name, user_id=user, account=account)
        if row is None:
            raise RuntimeError(f"could not insert nor find the {name!r} token row of user {user!r}")
        row.set_token(token)
        if commit:
            self.session.commit()
        return row

    def _saved(self, name: str, user: Any, account: str, commit: bool) -> ModelT:
        if commit:
            self.session.commit()
        row = self.find(name, user_id=user, account=account)
        assert row is not None  # just inserted by this transaction
        return row

    def _insert_unless_present(self, user: Any, name: str, account: str, token: Any) -> bool:
        """INSERT the row, or nothing if one with the same unique key exists; True if inserted.

        On PostgreSQL and SQLite this is ``INSERT ... ON CONFLICT DO NOTHING``:
        when another transaction has inserted the same key and not committed
        yet, the statement waits for it, then does nothing if it committed.
        Other databases get a plain INSERT, which raises
        :class:`~sqlalchemy.exc.IntegrityError` if it loses that race.
        """
        draft = self.model()
        draft.set_token(token)
        mapper = sa_inspect(self.model)
        columns = mapper.columns
        values = {
            columns["user_id"]: user,
            columns["provider"]: name,
            columns["account"]: account,
            columns["oauth_token"]: draft.oauth_token,
            columns["oauth_token_secret"]: draft.oauth_token_secret,
            columns["extra"]: draft.extra,
        }
        session = self.session
        dialect = session.get_bind(mapper).dialect
        if dialect.name in ("postgresql", "sqlite"):
            module = postgresql if dialect.name == "postgresql" else sqlite
            statement = module.insert(mapper.local_table).values(values).on_conflict_do_nothing()
            if dialect.insert_returning:  # psycopg reports no rowcount here; RETURNING tells
                return session.execute(statement.returning(*mapper.primary_key)).first() is not None
            return bool(session.execute(statement).rowcount == 1)  # type: ignore[attr-defined]
        session.execute(insert(mapper.local_table).values(values))  # a race here raises IntegrityError
        return True

    async def asave_token(
        self, name: str, token: Any, *, user_id: Any = None, account: str = "", commit: bool = True
    ) -> ModelT:
        """:meth:`save_token` for ``async def`` views: runs on the request's thread, like ``fetch_token``."""
        # The user id is read here, in the caller's context, then the write runs thread-sensitively.
        user = self._current_user(user_id)
        call = sync_to_async(self.save_token, thread_sensitive=True)
        return await call(name, token, user_id=user, account=account, commit=commit)

    def delete_token(self, name: str, *, user_id: Any = None, account: str | None = None, commit: bool = True) -> int:
        """Delete the user's token(s) at *name* (one *account*, or all of them); returns how many."""
        user = self._current_user(user_id)
        if user is None:
            return 0
        rows = self.accounts(name, user_id=user)
        doomed = [row for row in rows if account is None or row.account == account]
        for row in doomed:
            self.session.delete(row)
        if commit:
            self.session.commit()
        return len(doomed)
