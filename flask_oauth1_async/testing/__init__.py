"""Helpers for testing apps that use flask_oauth1_async (``pip install flask_oauth1_async[testing]``).

* :class:`FakeProvider`: a real OAuth 1.0a provider on 127.0.0.1 (oauthlib's
  endpoints at their default checks), with named test users, scripted
  approve / deny, failures and latency, and a record of the calls it got;
* :func:`login`: the whole login dance through the app's own test client, in
  one call;
* :mod:`flask_oauth1_async.testing.pytest_plugin`: pytest fixtures
  (``oauth1_provider``, ``oauth1_login``), opted into with
  ``pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]``.

See ``docs/testing.rst`` ("Testing your app").
"""

from .login import LoginError, login
from .provider import ENDPOINTS, FakeProvider, ProviderCall

__all__ = ["ENDPOINTS", "FakeProvider", "LoginError", "ProviderCall", "login"]
