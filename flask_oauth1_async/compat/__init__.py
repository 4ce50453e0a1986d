"""Compatibility layers for applications written against other OAuth client libraries.

Each layer is a thin adapter over :class:`flask_oauth1_async.OAuth` and
:class:`flask_oauth1_async.RemoteApp`: it translates names, arguments, return
values and errors, and leaves signing, HTTP, token storage and the sync/async
machinery to the core.

* :mod:`flask_oauth1_async.compat.flask_oauthlib` - the OAuth 1 client API of
  Flask-OAuthlib 0.9 (``from flask_oauthlib.client import OAuth``).
"""
