"""TLS material and a quiet threaded WSGI server for the benchmarks.

:func:`make_tls` creates a throw-away trustme CA, a leaf certificate for
127.0.0.1, and a *CA bundle* that is certifi's bundle plus the test CA. The
bundle is exported as ``SSL_CERT_FILE`` (httpx) and ``REQUESTS_CA_BUNDLE``
(requests), so every client - ours, raw httpx and Authlib - loads a CA
bundle of production size with its default settings: a library that loads
it once per client pays once, one that builds a client per call pays per
call, as it would in production.

:class:`WSGIServer` serves a WSGI app with :func:`werkzeug.serving.make_server`
(``threaded=True``, handler ``protocol_version = "HTTP/1.1"``, no request
log). Werkzeug 3.1 still answers ``Connection: close``, so every request to it
is a new TCP connection: that affects all flavours alike.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = ["TLSFiles", "WSGIServer", "make_tls"]


@dataclass
class TLSFiles:
    """Paths of the test certificates (delete with :meth:`close`)."""

    directory: str
    certfile: str
    keyfile: str
    ca_bundle: str

    def export(self) -> None:
        """Make the bundle the default CA bundle of httpx and requests in this process."""
        os.environ["SSL_CERT_FILE"] = self.ca_bundle
        os.environ["REQUESTS_CA_BUNDLE"] = self.ca_bundle

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def make_tls() -> TLSFiles:
    """Create the CA, the 127.0.0.1 certificate and the combined CA bundle."""
    import certifi
    import trustme

    directory = tempfile.mkdtemp(prefix="bench-tls-")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    certfile = os.path.join(directory, "server-chain.pem")
    keyfile = os.path.join(directory, "server-key.pem")
    bundle = os.path.join(directory, "ca-bundle.pem")
    with open(certfile, "wb") as handle:
        for blob in leaf.cert_chain_pems:
            handle.write(blob.bytes())
    leaf.private_key_pem.write_to_path(keyfile)
    with open(certifi.where(), "rb") as src, open(bundle, "wb") as dst:
        dst.write(src.read())
        dst.write(b"\n")
        dst.write(ca.cert_pem.bytes())
    return TLSFiles(directory, certfile, keyfile, bundle)


class WSGIServer:
    """A werkzeug threaded server on 127.0.0.1 in a daemon thread (a context manager)."""

    def __init__(self, app: Any, name: str = "bench-wsgi") -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            protocol_version = "HTTP/1.1"

            def log(self, type: str, message: str, *args: Any) -> None:
                pass

        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_port)
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name)
        self._thread.daemon = True

    def start(self) -> WSGIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(10)
        with contextlib.suppress(OSError):
            self._server.server_close()

    def __enter__(self) -> WSGIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
