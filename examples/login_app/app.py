"""The login example: the same OAuth 1.0a login written with sync and async views.

Settings come from environment variables (see ``README.md`` in this folder):

``OAUTH1_PROVIDER``
    ``demo`` (default: the offline provider of ``examples/demo_provider.py``),
    or ``twitter``, ``trello``, ``garmin``, ``flickr``, ``tumblr``.
``{NAME}_CLIENT_ID`` / ``{NAME}_CLIENT_SECRET``
    The consumer key and secret for that provider (``TWITTER_CLIENT_ID``...).
    The demo provider's are built in.
``DEMO_PROVIDER_URL``
    Where the demo provider runs (default ``http://127.0.0.1:5001``).
``OAUTH1_CACHE``
    Where request tokens wait during a login: ``session`` (default, the
    encrypted session cookie), ``simple`` (cachelib ``SimpleCache``, in this
    process) or ``filesystem`` (cachelib ``FileSystemCache`` in the instance
    folder).
``LOGIN_APP_INSTANCE``
    The instance folder: SQLite token database (through Flask-SQLAlchemy), file cache, secret key
    (default ``examples/instance``, which git ignores).
``SECRET_KEY``
    Flask's secret key; by default one is generated and kept in the instance folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from flask_oauth1_async import (
    AccessDeniedError,
    AuthorizationError,
    CallbackTokenError,
    MissingTokenError,
    OAuth,
    OAuth1Token,
    ProviderError,
    RemoteApp,
    TransportError,
    signals,
)

from .providers import PRESETS, Preset, dig
from .store import db, tokens

DEFAULT_INSTANCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "instance")
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"


# --------------------------------------------------------------------- the registry


def fetch_token(name: str) -> dict[str, Any] | None:
    """Return the signed-in user's token for remote *name*, or None.

    The registry calls this at most once per request and remote, from sync and
    async views alike (in async views it runs on the request thread through
    asgiref, so the synchronous database session is fine here).
    """
    user = session.get("user")
    if not isinstance(user, dict) or user.get("provider") != name:
        return None
    return tokens.fetch_token(name)


#: One registry for the whole module; create_app() attaches it to each app.
oauth = OAuth(fetch_token=fetch_token)

# Every preset is registered up front. Nothing is contacted until a view uses
# one, and the consumer key/secret (and, for the demo, the URLs) are read from
# each app's config the first time it does, so app factories work.
for _preset in PRESETS.values():
    oauth.register(_preset.name, **_preset.register)


def preset() -> Preset:
    """The provider the current app talks to."""
    return PRESETS[current_app.config["OAUTH1_PROVIDER"]]


def remote() -> RemoteApp:
    """The registered remote app of the current provider (``oauth.demo``, ``oauth.twitter``...)."""
    return oauth.create_client(preset().name)


# --------------------------------------------------------------------- helpers


def display_name_from_token(token: Mapping[str, Any]) -> str | None:
    for field in preset().token_name_fields:
        if token.get(field):
            return str(token[field])
    return None


def account_key(token: OAuth1Token) -> str:
    """The provider's key for the account: its user id when it sends one."""
    return str(token.get("user_id") or token.get("user_nsid") or display_name_from_token(token) or token.token)


def remember(token: OAuth1Token) -> None:
    """Remember who is signed in, in the session."""
    session["user"] = {"provider": preset().name, "key": account_key(token), "name": display_name_from_token(token)}


def sign_in(token: OAuth1Token) -> None:
    """Keep the new token in the database and remember who is signed in (plain views)."""
    tokens.save_token(preset().name, token, user_id=account_key(token))
    remember(token)


async def sign_in_async(token: OAuth1Token) -> None:
    """:func:`sign_in` for async views: the database write runs on the request thread."""
    await tokens.asave_token(preset().name, token, user_id=account_key(token))
    remember(token)


def sign_out() -> None:
    user = session.pop("user", None)
    if isinstance(user, dict) and user.get("provider") in PRESETS:
        tokens.delete_token(user["provider"], user_id=str(user["key"]))


def render_profile(resp: httpx.Response, view_kind: str, elapsed: float) -> Any:
    if resp.status_code == 401:
        # The provider no longer accepts the stored token (revoked, or the demo
        # provider was restarted and forgot it): forget it too.
        sign_out()
        return render_template(
            "error.html",
            title="Please sign in again",
            message=f"{preset().title} no longer accepts the saved token, so it was deleted.",
            code="401 from the provider",
        ), 401
    resp.raise_for_status()
    data = resp.json()
    name = dig(data, preset().name_path) or session.get("user", {}).get("name") or "?"
    return render_template(
        "profile.html",
        view_kind=view_kind,
        screen_name=name,
        url=str(resp.request.url.copy_with(query=None)),
        elapsed_ms=elapsed * 1000,
        body=json.dumps(data, indent=2, sort_keys=True),
    )


def render_fanout(responses: list[httpx.Response], view_kind: str, elapsed: float) -> Any:
    results = []
    for (label, _), resp in zip(preset().fanout, responses, strict=True):
        try:
            body = json.dumps(resp.json(), indent=2, sort_keys=True)
        except ValueError:
            body = resp.text[:500]
        results.append({"label": label, "status": resp.status_code, "body": body})
    return render_template("fanout.html", view_kind=view_kind, results=results, elapsed_ms=elapsed * 1000)


# --------------------------------------------------------------------- the app


def _secret_key(instance: str) -> str:
    path = os.path.join(instance, "secret_key")
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key)
        return key


def make_cache(kind: str, instance: str) -> Any:
    """The temporary-credential cache chosen by ``OAUTH1_CACHE`` (None: the session)."""
    kind = kind.strip().lower()
    if kind in ("", "session", "none"):
        return None
    if kind == "simple":
        from cachelib import SimpleCache

        return SimpleCache(threshold=1000)
    if kind == "filesystem":
        from cachelib import FileSystemCache

        return FileSystemCache(os.path.join(instance, "oauth1-cache"), threshold=1000)
    raise ValueError(f"OAUTH1_CACHE must be session, simple or filesystem, not {kind!r}")


def _log_login(app: Flask, remote: str, token: Mapping[str, Any], **_: Any) -> None:
    """A signal receiver: note who signed in (the token's secret is never logged)."""
    app.logger.info("signed in with %s as %s", remote, token.get("screen_name") or token.get("user_id") or "?")


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the login app from the environment (and *overrides*, which win)."""
    env = os.environ
    instance = os.path.abspath(env.get("LOGIN_APP_INSTANCE") or DEFAULT_INSTANCE)
    os.makedirs(instance, exist_ok=True)
    app = Flask(__name__, instance_path=instance)
    signals.login_completed.connect(_log_login, app)  # receivers of this app only
    app.config.update(
        OAUTH1_PROVIDER=env.get("OAUTH1_PROVIDER", "demo").strip().lower(),
        OAUTH1_CACHE=env.get("OAUTH1_CACHE", "session"),
        DEMO_PROVIDER_URL=env.get("DEMO_PROVIDER_URL", "http://127.0.0.1:5001"),
        SECRET_KEY=env.get("SECRET_KEY") or _secret_key(instance),
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(instance, "login_app.sqlite3"),
    )
    app.config.update(overrides or {})
    name = app.config["OAUTH1_PROVIDER"]
    if name not in PRESETS:
        raise ValueError(f"OAUTH1_PROVIDER must be one of {', '.join(PRESETS)}, not {name!r}")

    # Consumer key and secret: the registry reads {NAME}_CLIENT_ID / _SECRET from
    # the app config, so copying the environment variables of the same names is all.
    prefix = name.upper()
    for key in ("CLIENT_ID", "CLIENT_SECRET"):
        if f"{prefix}_{key}" in env:
            app.config.setdefault(f"{prefix}_{key}", env[f"{prefix}_{key}"])
    if name == "demo":
        base = app.config["DEMO_PROVIDER_URL"].rstrip("/")
        app.config.setdefault("DEMO_CLIENT_ID", DEMO_CLIENT_ID)
        app.config.setdefault("DEMO_CLIENT_SECRET", DEMO_CLIENT_SECRET)
        app.config.setdefault("DEMO_REQUEST_TOKEN_URL", f"{base}/oauth/request_token")
        app.config.setdefault("DEMO_AUTHORIZE_URL", f"{base}/oauth/authorize")
        app.config.setdefault("DEMO_ACCESS_TOKEN_URL", f"{base}/oauth/access_token")
        app.config.setdefault("DEMO_API_BASE_URL", f"{base}/api/")
    elif not app.config.get(f"{prefix}_CLIENT_ID"):
        raise ValueError(f"set {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET to use {name}")

    db.init_app(app)
    with app.app_context():
        db.create_all()
    oauth.init_app(app, cache=make_cache(app.config["OAUTH1_CACHE"], instance))
    register_views(app)
    register_error_pages(app)
    return app


def register_views(app: Flask) -> None:
    @app.context_processor
    def page_globals() -> dict[str, Any]:
        return {"provider": preset(), "user": session.get("user"), "cache_kind": app.config["OAUTH1_CACHE"]}

    @app.get("/")
    def index() -> str:
        return render_template("index.html")

    @app.get("/logout")
    def logout() -> Response:
        sign_out()
        flash("You are signed out.")
        return redirect(url_for("index"))

    # -- sync views: plain calls block and return the result ---------------------

    @app.get("/sync/login")
    def sync_login() -> Response:
        # ?next=/some/page is kept with the pending login; off-site targets are dropped.
        return remote().authorize_redirect(url_for("sync_authorize", _external=True), next_url=request.args.get("next"))

    @app.get("/sync/authorize")
    def sync_authorize() -> Response:
        token = remote().authorize_access_token()
        sign_in(token)
        return remote().redirect_to_next(default=url_for("sync_profile"))

    @app.get("/sync/profile")
    def sync_profile() -> Any:
        started = time.perf_counter()
        resp = remote().get(preset().profile)
        return render_profile(resp, "sync", time.perf_counter() - started)

    @app.get("/sync/fanout")
    def sync_fanout() -> Any:
        # One call after the other: the total is the sum of the calls.
        started = time.perf_counter()
        responses = [remote().get(url) for _, url in preset().fanout]
        return render_fanout(responses, "sync", time.perf_counter() - started)

    # -- async views: the same calls, awaited -------------------------------------

    @app.get("/async/login")
    async def async_login() -> Response:
        return await remote().authorize_redirect(
            url_for("async_authorize", _external=True), next_url=request.args.get("next")
        )

    @app.get("/async/authorize")
    async def async_authorize() -> Response:
        token = await remote().authorize_access_token()
        await sign_in_async(token)
        return remote().redirect_to_next(default=url_for("async_profile"))

    @app.get("/async/profile")
    async def async_profile() -> Any:
        started = time.perf_counter()
        resp = await remote().get(preset().profile)
        if resp.status_code == 401:
            # Forget the token on the request thread, where the database session lives.
            await sync_to_async(sign_out, thread_sensitive=True)()
        return render_profile(resp, "async", time.perf_counter() - started)

    @app.get("/async/fanout")
    async def async_fanout() -> Any:
        # All calls at once: the total is about the slowest call. fetch_token
        # still runs only once, even though every call needs the token.
        started = time.perf_counter()
        responses = await asyncio.gather(*(remote().get(url) for _, url in preset().fanout))
        return render_fanout(list(responses), "async", time.perf_counter() - started)


def register_error_pages(app: Flask) -> None:
    """Friendly pages for the ways a login can fail.

    Flask picks the most specific handler, so these replace the plain-text
    400/403 answer that ``oauth.init_app()`` installs for AuthorizationError.
    """

    def page(title: str, message: str, code: str, status: int) -> tuple[str, int]:
        return render_template("error.html", title=title, message=message, code=code), status

    @app.errorhandler(AccessDeniedError)
    def login_denied(exc: AccessDeniedError) -> Any:
        return page(
            "Sign-in cancelled",
            f"You chose not to let this app use your {preset().title} account. Nothing was shared; "
            "you can try again whenever you like.",
            exc.error,
            403,
        )

    @app.errorhandler(CallbackTokenError)
    def login_link_invalid(exc: CallbackTokenError) -> Any:
        messages = {
            "expired": "The sign-in took too long and its request token expired.",
            "missing": "This page is the end of a sign-in, but no sign-in was in progress.",
            "unknown": "This sign-in link was already used, or was started in another browser.",
        }
        return page(
            "This sign-in link is no longer valid",
            messages.get(exc.reason, exc.description or "") + " Please start again.",
            f"{exc.error} ({exc.reason})",
            400,
        )

    @app.errorhandler(AuthorizationError)
    def login_failed(exc: AuthorizationError) -> Any:
        return page("Sign-in failed", exc.description or "The provider's answer was incomplete.", exc.error, 400)

    @app.errorhandler(MissingTokenError)
    def needs_login(exc: MissingTokenError) -> Any:
        flash("Please sign in first.")
        return redirect(url_for("index"))

    @app.errorhandler(ProviderError)
    @app.errorhandler(TransportError)
    def provider_trouble(exc: ProviderError | TransportError) -> Any:
        current_app.logger.warning("provider trouble: %r", exc)
        return page(f"{preset().title} is not answering properly", exc.description or "", exc.error, 502)

    @app.errorhandler(httpx.HTTPStatusError)
    def api_error(exc: httpx.HTTPStatusError) -> Any:
        return page(
            f"{preset().title} refused the request",
            f"HTTP {exc.response.status_code} from {exc.request.url.copy_with(query=None)}",
            "api_error",
            502,
        )
