"""A toy OAuth 1.0a provider, so the login example runs without the internet.

It is built on Authlib's provider side (:class:`AuthorizationServer` and
:class:`ResourceProtector` from ``authlib.integrations.flask_oauth1``), which
really checks every signature, timestamp and nonce. Everything is kept in
memory: restart it and every token it issued is forgotten.

Endpoints (all relative to the provider's root URL):

* ``POST /oauth/request_token``: temporary credentials (RFC 5849 section 2.1);
* ``GET /oauth/authorize``: the HTML consent page (a user-name field, Approve
  and Deny buttons), which posts to ``POST /oauth/authorize``;
* ``POST /oauth/access_token``: token credentials, plus ``user_id`` and
  ``screen_name`` the way Twitter/X sends them;
* ``GET /api/me``: the signed-in user's profile (JSON);
* ``GET /api/timeline``, ``/api/followers``, ``/api/notifications``: made-up
  JSON for the fan-out page.

Approving redirects to ``callback?oauth_token=...&oauth_verifier=...``;
denying redirects to ``callback?denied=<oauth_token>``, the way Twitter/X does.

The API endpoints wait ``api_latency`` seconds before answering (0.25 s by
default, or ``DEMO_API_LATENCY_MS``) so that the example's fan-out page has a
visible difference between calls made one after another and calls made
together with :func:`asyncio.gather`.

Run it alone with ``python examples/demo_provider.py [--port 5001]``; the
usual way is ``nox -s demo``, which starts it together with the login app.

This is a teaching aid, not a template for a real provider: users are whoever
types a name, the consent form has no CSRF protection, and storage is a dict.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from authlib.common.security import generate_token, is_secure_transport
from authlib.integrations.flask_oauth1 import AuthorizationServer, ResourceProtector, current_credential
from authlib.oauth1 import ClientMixin, TemporaryCredential, TokenCredentialMixin
from authlib.oauth1.errors import OAuth1Error
from flask import Flask, Response, abort, jsonify, redirect, request

# Authlib refuses plain-http URLs unless AUTHLIB_INSECURE_TRANSPORT is set.
# Authlib 1.9 and later already accept http://127.0.0.1 and http://localhost
# (RFC 8252's loopback rule); older releases need the variable. It is set only
# when this Authlib needs it, because it is process-wide.
if not is_secure_transport("http://127.0.0.1/"):
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

#: The consumer key and secret the login example uses by default.
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"

_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,20}$")


class Consumer(ClientMixin):  # type: ignore[misc]
    """A registered client application (consumer)."""

    def __init__(self, client_id: str, client_secret: str, name: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.name = name

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_client_secret(self) -> str:
        return self.client_secret

    def get_rsa_public_key(self) -> None:
        return None


class AccessToken(TokenCredentialMixin):  # type: ignore[misc]
    """A token credential issued to one consumer for one user."""

    def __init__(self, client_id: str, oauth_token: str, oauth_token_secret: str, user: str) -> None:
        self.client_id = client_id
        self.oauth_token = oauth_token
        self.oauth_token_secret = oauth_token_secret
        self.user = user

    def get_oauth_token(self) -> str:
        return self.oauth_token

    def get_oauth_token_secret(self) -> str:
        return self.oauth_token_secret


class DemoUser:
    """The user who approved on the consent page (Authlib asks for ``get_user_id``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get_user_id(self) -> str:
        return self.name


class Storage:
    """In-memory storage for consumers, credentials and nonces, guarded by one lock."""

    #: Seconds a request token stays usable; RFC 5849 suggests keeping them short.
    TEMPORARY_TTL = 600

    def __init__(self, consumers: list[Consumer]) -> None:
        self._lock = threading.Lock()
        self.consumers = {c.client_id: c for c in consumers}
        self.temporary: dict[str, tuple[float, TemporaryCredential]] = {}
        self.tokens: dict[str, AccessToken] = {}
        self._nonces: dict[str, float] = {}

    # -- consumers and tokens -------------------------------------------------

    def query_client(self, client_id: str | None) -> Consumer | None:
        return self.consumers.get(client_id or "")

    def query_token(self, client_id: str | None, oauth_token: str | None) -> AccessToken | None:
        with self._lock:
            token = self.tokens.get(oauth_token or "")
        if token is None or token.client_id != client_id:
            return None
        return token

    def user_of(self, oauth_token: str) -> str | None:
        with self._lock:
            token = self.tokens.get(oauth_token)
        return token.user if token is not None else None

    # -- nonces -------------------------------------------------------------

    def exists_nonce(self, nonce: str, timestamp: str | int, client_id: str, oauth_token: str | None) -> bool:
        """Record a nonce; True if this nonce was already used (a replay)."""
        key = f"{client_id}:{oauth_token or ''}:{timestamp}:{nonce}"
        now = time.time()
        with self._lock:
            # Authlib rejects timestamps older than 300 s, so older nonces can go.
            for old in [k for k, seen in self._nonces.items() if seen < now - 600]:
                del self._nonces[old]
            if key in self._nonces:
                return True
            self._nonces[key] = now
            return False

    # -- hooks of the authorization server ---------------------------------

    def create_temporary_credential(
        self, token: dict[str, str], client_id: str, redirect_uri: str | None
    ) -> TemporaryCredential:
        credential = TemporaryCredential(token, client_id=client_id, oauth_callback=redirect_uri)
        with self._lock:
            self._drop_expired()
            self.temporary[token["oauth_token"]] = (time.time() + self.TEMPORARY_TTL, credential)
        return credential

    def get_temporary_credential(self, oauth_token: str | None) -> TemporaryCredential | None:
        with self._lock:
            self._drop_expired()
            entry = self.temporary.get(oauth_token or "")
        return entry[1] if entry is not None else None

    def delete_temporary_credential(self, oauth_token: str | None) -> None:
        with self._lock:
            self.temporary.pop(oauth_token or "", None)

    def create_authorization_verifier(self, credential: TemporaryCredential, user: DemoUser, verifier: str) -> None:
        with self._lock:
            credential["oauth_verifier"] = verifier
            credential["user_id"] = user.get_user_id()

    def create_token_credential(self, token: dict[str, str], temporary: TemporaryCredential) -> AccessToken:
        access = AccessToken(
            temporary.get_client_id(), token["oauth_token"], token["oauth_token_secret"], temporary.get_user_id()
        )
        with self._lock:
            self.tokens[access.oauth_token] = access
        return access

    def _drop_expired(self) -> None:
        now = time.time()
        for key in [k for k, (expires, _) in self.temporary.items() if expires < now]:
            del self.temporary[key]


class DemoAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's server, plus ``user_id`` and ``screen_name`` in the access-token answer."""

    def __init__(self, storage: Storage, **kwargs: Any) -> None:
        self.storage = storage
        super().__init__(**kwargs)

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        if status_code == 200 and isinstance(payload, list):
            fields = dict(payload)
            user = self.storage.user_of(str(fields.get("oauth_token", "")))
            if user is not None and "oauth_callback_confirmed" not in fields:
                payload = [*payload, ("user_id", user_id_of(user)), ("screen_name", user)]
        return super().handle_response(status_code, payload, headers)  # type: ignore[no-any-return]


def user_id_of(name: str) -> str:
    """A stable, made-up numeric id for a user name."""
    return str(sum((i + 1) * ord(c) for i, c in enumerate(name.lower())) * 7919 % 10_000_000)


def _add_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, f"{parts.query}&{query}" if parts.query else query, ""))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
 body {{ font-family: system-ui, sans-serif; background: #1f2a44; color: #222; margin: 0; }}
 main {{ max-width: 26rem; margin: 4rem auto; background: #fff; border-radius: 10px; padding: 2rem;
        box-shadow: 0 8px 30px rgba(0,0,0,.3); }}
 h1 {{ font-size: 1.3rem; margin-top: 0; }} .app {{ color: #1d4ed8; }}
 label {{ display: block; margin: 1.2rem 0 .3rem; font-weight: 600; }}
 input[type=text] {{ width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }}
 .buttons {{ display: flex; gap: .8rem; margin-top: 1.4rem; }}
 button {{ flex: 1; padding: .6rem; font-size: 1rem; border-radius: 6px; border: 0; cursor: pointer; }}
 .approve {{ background: #16a34a; color: #fff; }} .deny {{ background: #e5e7eb; }}
 .note {{ color: #666; font-size: .85rem; margin-top: 1.5rem; }}
</style></head><body><main>{body}</main></body></html>
"""


def _consent_page(consumer: Consumer, oauth_token: str) -> str:
    body = f"""
<h1>Demo Provider</h1>
<p><strong class="app">{html.escape(consumer.name)}</strong> would like to read your profile,
timeline, followers and notifications.</p>
<form method="post" action="/oauth/authorize">
  <input type="hidden" name="oauth_token" value="{html.escape(oauth_token)}">
  <label for="username">Sign in as (any name, letters, digits or _)</label>
  <input type="text" id="username" name="username" value="" placeholder="alice"
         pattern="[A-Za-z0-9_]{{1,20}}" required autofocus>
  <div class="buttons">
    <button type="submit" class="approve" name="action" value="approve">Approve</button>
    <button type="submit" class="deny" name="action" value="deny" formnovalidate>Deny</button>
  </div>
</form>
<p class="note">This is the offline demo provider of flask_oauth1_async. No password is asked:
whoever types a name is that user.</p>
"""
    return _PAGE.format(title="Authorize - Demo Provider", body=body)


def create_provider(
    *,
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str = DEMO_CLIENT_SECRET,
    client_name: str = "flask_oauth1_async login example",
    api_latency: float | None = None,
) -> Flask:
    """Build the provider's Flask app (serve it with any WSGI server)."""
    if api_latency is None:
        api_latency = int(os.environ.get("DEMO_API_LATENCY_MS", "250")) / 1000
    app = Flask("demo_provider")
    # Browsers share cookies between ports of one host: give the provider its own
    # cookie name so that it can never clobber the login app's session cookie.
    app.config["SESSION_COOKIE_NAME"] = "demo_provider_session"
    storage = Storage([Consumer(client_id, client_secret, client_name)])
    app.extensions["demo_provider_storage"] = storage

    server = DemoAuthorizationServer(storage, app=app, query_client=storage.query_client)
    server.register_hook("exists_nonce", storage.exists_nonce)
    server.register_hook("create_temporary_credential", storage.create_temporary_credential)
    server.register_hook("get_temporary_credential", storage.get_temporary_credential)
    server.register_hook("delete_temporary_credential", storage.delete_temporary_credential)
    server.register_hook("create_authorization_verifier", storage.create_authorization_verifier)
    server.register_hook("create_token_credential", storage.create_token_credential)

    require_oauth = ResourceProtector(
        app, query_client=storage.query_client, query_token=storage.query_token, exists_nonce=storage.exists_nonce
    )

    def current_user() -> str:
        return str(current_credential.user)

    def api(view: Callable[[], Any]) -> Callable[[], Any]:
        """Protect *view* with an OAuth 1 signature check, and add the demo latency."""

        def slowed() -> Any:
            time.sleep(api_latency)
            return view()

        slowed.__name__ = view.__name__
        return require_oauth()(slowed)

    @app.get("/")
    def home() -> str:
        body = f"""<h1>Demo Provider</h1><p>An OAuth 1.0a provider for the flask_oauth1_async examples.
Everything is kept in memory; restart it and every token it issued is forgotten.</p>
<h2 style="font-size:1.05rem">Consumer</h2>
<p>Register your client with this consumer key and secret (signature method HMAC-SHA1):</p>
<ul><li>consumer key (client_id): <code>{html.escape(client_id)}</code></li>
<li>consumer secret (client_secret): <code>{html.escape(client_secret)}</code></li></ul>
<h2 style="font-size:1.05rem">Endpoints</h2>
<ul><li>POST /oauth/request_token</li><li>GET /oauth/authorize</li><li>POST /oauth/access_token</li>
<li>GET /api/me, /api/timeline, /api/followers, /api/notifications</li></ul>
<h2 style="font-size:1.05rem">Run it</h2>
<p>Alone: <code>python examples/demo_provider.py --port 5001</code> (needs the package and Authlib installed,
e.g. <code>pip install -e .</code>). With the login example: <code>nox -s demo</code>, or
<code>python examples/run_demo.py</code>.</p>"""
        return _PAGE.format(title="Demo Provider", body=body)

    @app.post("/oauth/request_token")
    def request_token() -> Response:
        return server.create_temporary_credentials_response()  # type: ignore[no-any-return]

    @app.get("/oauth/authorize")
    def authorize_form() -> Any:
        oauth_token = request.args.get("oauth_token", "")
        try:
            req = server.check_authorization_request()
        except OAuth1Error as exc:
            return Response(f"This authorization link is not valid: {exc.description}", 400, mimetype="text/plain")
        consumer = storage.query_client(req.credential.get_client_id())
        if consumer is None:
            abort(400)
        return _consent_page(consumer, oauth_token)

    @app.post("/oauth/authorize")
    def authorize_submit() -> Any:
        oauth_token = request.form.get("oauth_token", "")
        credential = storage.get_temporary_credential(oauth_token)
        if credential is None:
            return Response("This authorization request expired; start again.", 400, mimetype="text/plain")
        callback = credential.get_redirect_uri()
        if request.form.get("action") != "approve":
            storage.delete_temporary_credential(oauth_token)
            if not callback or callback == "oob":
                return Response("You denied the request. You can close this window.", mimetype="text/plain")
            return redirect(_add_query(callback, {"denied": oauth_token}))
        name = request.form.get("username", "").strip()
        if not _NAME_RE.match(name):
            consumer = storage.query_client(credential.get_client_id())
            assert consumer is not None
            return _consent_page(consumer, oauth_token), 400
        if not callback or callback == "oob":
            # Out-of-band: show the verifier for the user to copy.
            verifier = generate_token(36)
            storage.create_authorization_verifier(credential, DemoUser(name), verifier)
            return Response(f"Your verifier: {verifier}", mimetype="text/plain")
        return server.create_authorization_response(grant_user=DemoUser(name))

    @app.post("/oauth/access_token")
    def access_token() -> Response:
        return server.create_token_response()  # type: ignore[no-any-return]

    @app.get("/api/me")
    @api
    def me() -> Any:
        name = current_user()
        return jsonify(id=user_id_of(name), screen_name=name, name=name.replace("_", " ").title())

    @app.get("/api/timeline")
    @api
    def timeline() -> Any:
        name = current_user()
        posts = [
            f"{name} tried OAuth 1.0a without leaving 127.0.0.1.",
            "Signatures checked, nonces remembered, timestamps fresh.",
            "asyncio.gather made four calls in the time of one.",
        ]
        return jsonify([{"id": i + 1, "text": text} for i, text in enumerate(posts)])

    @app.get("/api/followers")
    @api
    def followers() -> Any:
        users = ["ada", "grace", "linus"]
        return jsonify(count=len(users), users=[{"screen_name": u} for u in users])

    @app.get("/api/notifications")
    @api
    def notifications() -> Any:
        return jsonify([{"kind": "follow", "from": "grace"}, {"kind": "like", "from": "ada"}])

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the provider alone on 127.0.0.1 (Ctrl-C stops it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", args.port, create_provider(), threaded=True)


if __name__ == "__main__":
    main()
