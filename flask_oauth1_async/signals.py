"""Blinker signals sent during logins and API calls (Flask's own mechanism).

Every signal is sent with the current Flask app as *sender* and the remote's
name as ``remote``. Receivers run in the view's thread, in ``def`` and
``async def`` views alike, so keep them quick::

    from flask_oauth1_async import signals

    @signals.login_completed.connect
    def remember(app, remote, token, **extra):
        app.logger.info("%s signed in with %s", token.get("screen_name"), remote)

=====================  ==========================================================
signal                 keyword arguments besides ``remote``
=====================  ==========================================================
``login_started``      ``authorize_url`` (where the browser is sent)
``login_completed``    ``token`` (an :class:`~flask_oauth1_async.OAuth1Token`)
``login_denied``       ``error`` (the :class:`~flask_oauth1_async.AccessDeniedError`)
``login_failed``       ``error`` (any other error of the callback)
``api_call``           ``method``, ``url`` (without its query), ``status_code``
=====================  ==========================================================

No signal carries a secret: the token's secret is masked in its ``repr``.
``api_call`` sends the URL without its query string; ``login_started`` sends
the whole authorize URL, whose query holds the (public) request token.
"""

from __future__ import annotations

from blinker import Namespace

__all__ = ["api_call", "login_completed", "login_denied", "login_failed", "login_started"]

_namespace = Namespace()

#: The browser is about to be redirected to the provider.
login_started = _namespace.signal("flask_oauth1_async.login-started")
#: The callback obtained an access token.
login_completed = _namespace.signal("flask_oauth1_async.login-completed")
#: The user declined at the provider.
login_denied = _namespace.signal("flask_oauth1_async.login-denied")
#: The callback failed with a typed error (other than a denial).
login_failed = _namespace.signal("flask_oauth1_async.login-failed")
#: A resource call got an answer.
api_call = _namespace.signal("flask_oauth1_async.api-call")
