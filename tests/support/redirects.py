"""The status code of a redirect that a test's own view makes with :func:`flask.redirect`.

The package's own redirects (``authorize_redirect()``, ``redirect_to_next()``)
answer 302 on every Flask, and tests assert exactly that. A view written by a
test, by the docs or by an example that calls ``flask.redirect(url)`` without
``code=`` gets Flask's default instead: 302 up to Flask 3.1, 303 from Flask
3.2. Tests of such views assert what the view asked for, found here.
"""

from __future__ import annotations

import flask

__all__ = ["default_redirect_code"]


def default_redirect_code(app: flask.Flask) -> int:
    """What ``flask.redirect(url)`` answers in *app* when the view passes no ``code=``."""
    with app.app_context():
        return flask.redirect("/").status_code
