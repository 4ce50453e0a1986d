"""Token storage: a Flask-SQLAlchemy model built on flask_oauth1_async's token mixin.

One row per provider and signed-in account: the token credentials the
provider issued, plus the extra fields of its answer (``screen_name``,
``user_id``...) as JSON, with created/updated timestamps. The columns and the
lookups come from :mod:`flask_oauth1_async.contrib.sqlalchemy`; this example
has no local user table, so the "user id" is the provider's own key for the
account (``session["user"]["key"]``).

``tokens.fetch_token`` is a plain function: in ``async def`` views the
registry calls it on the request's thread, so the synchronous
``db.session`` is fine there, and the async callback saves with
``tokens.asave_token`` for the same reason.

The secrets are stored as they are, which is fine for a demo. A real app
should encrypt ``oauth_token_secret`` at rest (for example with
``cryptography.fernet``) or keep it in a secrets store.
"""

from __future__ import annotations

from typing import Any

from flask import session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from flask_oauth1_async.contrib.sqlalchemy import OAuth1TokenMixin, SQLAlchemyTokenStore


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class StoredToken(OAuth1TokenMixin, db.Model):  # type: ignore[name-defined,misc]
    """An access token of one account at one provider."""

    __tablename__ = "stored_tokens"


def signed_in_key() -> str | None:
    """The provider's key of the signed-in account, or None."""
    user: Any = session.get("user")
    return str(user["key"]) if isinstance(user, dict) and user.get("key") else None


#: fetch_token / save_token / asave_token / delete_token for the signed-in account.
tokens = SQLAlchemyTokenStore(StoredToken, db.session, signed_in_key)
