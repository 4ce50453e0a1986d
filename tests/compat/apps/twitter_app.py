"""A "sign in with Twitter" app in the style of Flask-OAuthlib's OAuth 1 example.

It is written exactly as a Flask-OAuthlib 0.9 application would be: a remote
app with a ``tokengetter`` reading a ``(token, secret)`` pair from the
session, ``authorize()`` to start the login, ``authorized_response()`` in the
callback (None when the user said no), and ``get``/``post`` calls whose
``OAuthResponse`` has ``.status`` and ``.data``. The only line that mentions
flask_oauth1_async is the import; with Flask-OAuthlib it read
``from flask_oauthlib.client import OAuth``.

The provider's URLs are parameters of :func:`create_app` because the tests run
their provider on a random local port.
"""

from __future__ import annotations

from flask import Flask, flash, g, get_flashed_messages, redirect, request, session, url_for
from markupsafe import escape

from flask_oauth1_async.compat.flask_oauthlib import OAuth

# The app's credentials at the provider (a real app reads them from its config).
CONSUMER_KEY = "twitterexampleconsumer1"
CONSUMER_SECRET = "twitter example consumer secret"


def _page(profile):
    notes = "".join(f"<li class='flash'>{escape(text)}</li>" for text in get_flashed_messages())
    if profile is None:
        body = "<p><a href='/login'>Sign in with Twitter</a></p>"
    else:
        body = (
            f"<p>Signed in as <b>{escape(profile['user'])}</b> (id {escape(profile['user_id'])})</p>"
            "<form method='post' action='/tweet'><input name='tweet'><button>Tweet</button></form>"
            "<p><a href='/logout'>Sign out</a></p>"
        )
    return f"<!doctype html><title>Tweets</title><ul>{notes}</ul>{body}"


def _safe_next(target):
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def create_app(provider_url):
    app = Flask(__name__)
    app.secret_key = "example-secret, change me"

    oauth = OAuth(app)
    twitter = oauth.remote_app(
        "twitter",
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        base_url=provider_url + "/api/",
        request_token_url=provider_url + "/oauth/request_token",
        # Flask-OAuthlib's default is GET; Twitter wants POST.
        request_token_method="POST",
        access_token_url=provider_url + "/oauth/access_token",
        authorize_url=provider_url + "/oauth/authorize",
    )

    @twitter.tokengetter
    def get_twitter_token():
        saved = session.get("twitter_oauth")
        if saved:
            return saved["oauth_token"], saved["oauth_token_secret"]
        return None

    @app.before_request
    def load_user():
        g.user = session.get("twitter_oauth")

    @app.route("/")
    def index():
        profile = None
        if g.user is not None:
            resp = twitter.get("me")
            if resp.status == 200:
                profile = resp.data
            else:
                flash("Unable to load your profile from Twitter.")
        return _page(profile)

    @app.route("/tweet", methods=["POST"])
    def tweet():
        if g.user is None:
            return redirect(url_for("login", next=request.path))
        status = request.form.get("tweet", "")
        if not status:
            return redirect(url_for("index"))
        resp = twitter.post("echo", data={"status": status})
        if resp.status == 401:
            flash("Authorization error with Twitter.")
        elif resp.status != 200:
            flash(f"Twitter answered {resp.status}.")
        else:
            flash(f"Tweeted: {resp.data['form']['status']}")
        return redirect(url_for("index"))

    @app.route("/login")
    def login():
        callback_url = url_for("oauthorized", next=_safe_next(request.args.get("next")))
        return twitter.authorize(callback=callback_url)

    @app.route("/logout")
    def logout():
        session.pop("twitter_oauth", None)
        return redirect(url_for("index"))

    @app.route("/oauthorized")
    def oauthorized():
        resp = twitter.authorized_response()
        if resp is None:
            flash("You denied the request to sign in.")
        else:
            session["twitter_oauth"] = resp
            flash(f"You were signed in as {resp['screen_name']}")
        return redirect(_safe_next(request.args.get("next")) or url_for("index"))

    return app
