"""Start the demo provider and the login example together, on 127.0.0.1.

    python examples/run_demo.py [--port 5000] [--provider-port 5001]

(``nox -s demo`` installs what is needed and runs this.) Open the printed URL
in a browser; Ctrl-C (or SIGTERM) stops both servers. A port of 0 picks a free
one.

With ``OAUTH1_PROVIDER`` set to a real provider (``twitter``, ``trello``...)
only the login app is started, and it talks to that provider instead; see
``examples/login_app/README.md``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from demo_provider import create_provider  # noqa: E402
from login_app import create_app, oauth  # noqa: E402

HOST = "127.0.0.1"


def serve(server: BaseWSGIServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the flask_oauth1_async login demo on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=5000, help="port of the login app (default 5000)")
    parser.add_argument("--provider-port", type=int, default=5001, help="port of the demo provider (default 5001)")
    args = parser.parse_args(argv)

    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []
    overrides: dict[str, Any] = {}
    provider_name = os.environ.get("OAUTH1_PROVIDER", "demo").strip().lower()
    if provider_name == "demo":
        provider = make_server(HOST, args.provider_port, create_provider(), threaded=True)
        servers.append((provider, serve(provider, "demo-provider")))
        overrides["DEMO_PROVIDER_URL"] = f"http://{HOST}:{provider.server_port}"
        print(f"Demo provider: http://{HOST}:{provider.server_port}/", flush=True)

    app = make_server(HOST, args.port, create_app(overrides), threaded=True)
    servers.append((app, serve(app, "login-app")))
    print(f"Login app:     http://{HOST}:{app.server_port}/", flush=True)
    print(f"Open http://{HOST}:{app.server_port}/ in your browser. Ctrl-C stops the demo.", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass

    print("Stopping...", flush=True)
    for server, thread in reversed(servers):
        server.shutdown()
        thread.join(10)
        server.server_close()
    oauth.close()  # close the pooled HTTP clients
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
