"""Serve tests.servers.app with eventlet's own WSGI server: ``python -m tests.servers.eventlet_server PORT``.

gunicorn 27 dropped its eventlet worker, so this is how an eventlet deployment
looks now: ``eventlet.monkey_patch()`` before anything else is imported, then
``eventlet.wsgi.server`` on a listening socket. SIGTERM keeps its default
action (the process ends).
"""

from __future__ import annotations

import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # eventlet announces its own deprecation
    import eventlet

eventlet.monkey_patch()

import eventlet.wsgi  # noqa: E402 - after the monkey-patching


def main() -> None:
    port = int(sys.argv[1])
    from tests.servers.app import app

    eventlet.wsgi.server(eventlet.listen(("127.0.0.1", port)), app, log_output=False)


if __name__ == "__main__":
    main()
