"""The server matrix (``nox -s servers``): real servers serving tests/servers/app.py on 127.0.0.1.

Only the ``servers`` nox session collects these tests: it installs the servers
and sets ``FLASK_OAUTH1_ASYNC_SERVER_MATRIX=1``. Everywhere else (the
``tests`` sessions, a bare ``pytest``) this directory is not collected, so
they do not need gunicorn, uWSGI, gevent... installed. The harness itself is
in :mod:`tests.servers.harness`.
"""

from __future__ import annotations

import os

if os.environ.get("FLASK_OAUTH1_ASYNC_SERVER_MATRIX") != "1":
    # Not the servers session: leave the matrix out of collection (see the module docstring).
    collect_ignore_glob = ["test_*.py"]
