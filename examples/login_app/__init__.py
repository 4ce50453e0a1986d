"""A "sign in with ..." example for flask_oauth1_async (see README.md in this folder).

``create_app()`` builds the Flask app; ``flask --app login_app run`` (from the
``examples`` folder) or ``python examples/run_demo.py`` serve it.
"""

from .app import create_app, oauth

__all__ = ["create_app", "oauth"]
