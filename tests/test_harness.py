"""Self-tests of the suite's own HTTP harness: the keep-alive ``ServerThread`` and the scripted ``Browser``.

``ServerThread`` (``flask_oauth1_async/testing/_server.py``, re-exported by
``tests/support/servers.py``) serves the fake provider and every client app
of the suite; :class:`tests.support.browser.Browser` plays the user. A bare
WSGI app (no Flask) exercises the server; a minimal client app signing with
Authlib's core signer (not flask_oauth1_async) exercises ``Browser.login_via``
against the fake provider. A failure here is a bug in the harness, not in the
library.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from authlib.oauth1 import ClientAuth
from flask import Flask, redirect, request, session, url_for

from flask_oauth1_async.testing import FakeProvider
from tests.support.browser import Browser, BrowserError
from tests.support.servers import ServerThread, TLSMaterial, make_tls

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


@pytest.fixture(scope="module")
def tls() -> Iterator[TLSMaterial]:
    material = make_tls()
    yield material
    material.close()


def echo_wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """A bare WSGI app (no Flask) used to test ServerThread itself."""
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("boom (expected by test_server_survives_app_crash)")
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    body = environ["wsgi.input"].read()
    payload = {
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "raw_uri": environ["RAW_URI"],
        "query": environ["QUERY_STRING"],
        "body": body.decode("latin-1"),
        "scheme": environ["wsgi.url_scheme"],
    }
    data = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


@pytest.fixture
def echo_server() -> Iterator[ServerThread]:
    with ServerThread(echo_wsgi, name="echo") as server:
        yield server


# ----------------------------------------------------------- ServerThread


def test_connections_are_counted(echo_server: ServerThread) -> None:
    for _ in range(5):
        with httpx.Client(trust_env=False) as fresh:
            fresh.get(echo_server.url + "/")
    assert echo_server.connections == 5
    with httpx.Client(trust_env=False, headers={"Connection": "close"}) as closing:
        for _ in range(3):
            closing.get(echo_server.url + "/")
    assert echo_server.connections == 8
    assert [record.connection for record in echo_server.requests] == [1, 2, 3, 4, 5, 6, 7, 8]
    echo_server.reset_counters()
    assert echo_server.connections == 0
    assert echo_server.requests == []


def test_keep_alive_uses_one_connection(echo_server: ServerThread) -> None:
    with httpx.Client(trust_env=False) as http:
        for _ in range(50):
            assert http.get(echo_server.url + "/x").status_code == 200
    assert echo_server.connections == 1
    assert len(echo_server.requests) == 50
    assert {record.connection for record in echo_server.requests} == {echo_server.requests[0].connection}


def test_latency(echo_server: ServerThread) -> None:
    """Latency is added before the app runs, to every path or to a prefix only.

    Durations are only checked from below (a busy machine makes them longer,
    never shorter); that a path is *not* delayed is shown by the order in
    which the app sees the requests.
    """
    seen: list[str] = []
    lock = threading.Lock()

    def recording(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        with lock:
            seen.append(environ["PATH_INFO"])
        return echo_wsgi(environ, start_response)

    echo_server.app = recording
    with httpx.Client(trust_env=False, timeout=30) as http:

        def timed(path: str) -> float:
            started = time.perf_counter()
            assert http.get(echo_server.url + path).status_code == 200
            return time.perf_counter() - started

        echo_server.set_latency(300)
        assert timed("/x") >= 0.3  # a lower bound
        echo_server.set_latency(3000, path_prefix="/api")
        with ThreadPoolExecutor(max_workers=1) as pool:
            delayed = pool.submit(timed, "/api/x")
            deadline = time.monotonic() + 20
            while echo_server.in_flight == 0 and time.monotonic() < deadline:
                time.sleep(0.01)  # the /api request is now sleeping in the server
            with httpx.Client(trust_env=False, timeout=30) as other:
                assert other.get(echo_server.url + "/public").status_code == 200
            assert delayed.result(timeout=30) >= 3.0
        assert seen[-2:] == ["/public", "/api/x"]  # the later request was not held back
        echo_server.set_latency(0)
        assert http.get(echo_server.url + "/api/y").status_code == 200
    assert seen[-1] == "/api/y"


def test_latency_constructor_argument() -> None:
    with ServerThread(echo_wsgi, latency_ms=200) as server, httpx.Client(trust_env=False) as http:
        started = time.perf_counter()
        http.get(server.url + "/")
        assert time.perf_counter() - started >= 0.2  # a lower bound


def test_wsgi_server_details(echo_server: ServerThread) -> None:
    with httpx.Client(trust_env=False) as http:
        got = http.get(echo_server.url + "/caf%C3%A9?q=a%20b&q=%2F").json()
        assert got["path"] == "/café".encode().decode("latin-1")  # PEP 3333
        assert got["raw_uri"] == "/caf%C3%A9?q=a%20b&q=%2F"
        assert got["query"] == "q=a%20b&q=%2F"
        assert got["scheme"] == "http"
        chunked = http.post(echo_server.url + "/up", content=iter([b"ab", b"cd", b"ef"])).json()
        assert chunked["body"] == "abcdef"
        assert http.put(echo_server.url + "/up", content=b"x" * 100_000).json()["body"] == "x" * 100_000
        head = http.head(echo_server.url + "/")
        assert head.status_code == 200
        assert head.content == b""
        assert http.get(echo_server.url + "/empty").status_code == 204
        assert http.get(echo_server.url + "/after").json()["path"] == "/after"
    assert echo_server.connections == 1


def test_server_survives_app_crash(echo_server: ServerThread, capsys: pytest.CaptureFixture[str]) -> None:
    with httpx.Client(trust_env=False) as http:
        crashed = http.get(echo_server.url + "/boom")
        assert crashed.status_code == 500
        assert crashed.headers.get("Connection") == "close"
        assert http.get(echo_server.url + "/ok").status_code == 200
    assert "boom (expected" in capsys.readouterr().err


def test_https_server(tls: TLSMaterial) -> None:
    with ServerThread(echo_wsgi, ssl_context=tls.server_context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with httpx.Client(trust_env=False, verify=tls.client_context) as http:
            assert http.get(server.url + "/").json()["scheme"] == "https"
            assert http.get(server.url_for("/", host="localhost")).status_code == 200
        with httpx.Client(trust_env=False, verify=True) as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.get(server.url + "/")  # system CAs only: the test CA is unknown
        with Browser(verify=tls.ca_pem_path) as browser:  # a CA file path works too
            assert browser.get(server.url + "/").status_code == 200
        with httpx.Client(trust_env=False) as plain, pytest.raises(httpx.HTTPError):
            plain.get(f"http://127.0.0.1:{server.port}/")  # plain http to a TLS port
        with httpx.Client(trust_env=False, verify=tls.client_context) as http:
            assert http.get(server.url + "/still-fine").status_code == 200


def test_stop_releases_everything() -> None:
    before = set(threading.enumerate())
    server = ServerThread(echo_wsgi, name="short-lived")
    port = server.port
    with server, httpx.Client(trust_env=False) as http:
        http.get(server.url + "/")  # leaves an idle keep-alive connection open
    leftovers = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftovers == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    unstarted = ServerThread(echo_wsgi)  # bound but never started: stop() closes it
    unstarted.stop()
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        unstarted.start()


def test_the_fake_provider_stops_its_threads_too() -> None:
    before = set(threading.enumerate())
    with FakeProvider(tls=False) as fake, httpx.Client(trust_env=False) as http:
        assert http.get(fake.api_base_url + "me").status_code == 401  # leaves a kept-alive connection
    leftovers = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftovers == []


# ------------------------------------------------------------------- Browser


def _form(response: httpx.Response) -> dict[str, str]:
    return dict(parse_qsl(response.text, keep_blank_values=True))


def make_demo_client(fake: FakeProvider, http: httpx.Client) -> Flask:
    """A minimal OAuth 1.0a client app signing with Authlib's core signer, enough to exercise Browser.login_via."""
    app = Flask("demo_client")
    app.secret_key = "demo-secret"

    def signed_post(auth: ClientAuth, url: str) -> httpx.Response:
        uri, headers, _ = auth.prepare("POST", url, {}, b"")
        return http.post(uri, headers=headers)

    @app.get("/login")
    def login() -> Any:
        auth = ClientAuth(fake.client_id, fake.client_secret, redirect_uri=url_for("callback", _external=True))
        temporary = _form(signed_post(auth, fake.request_token_url))
        session["request_token"] = temporary
        return redirect(f"{fake.authorize_url}?{urlencode({'oauth_token': temporary['oauth_token']})}")

    @app.get("/callback")
    def callback() -> Any:
        temporary = session.get("request_token")
        if temporary is None or temporary["oauth_token"] != request.args.get("oauth_token", request.args.get("denied")):
            return "no login in progress", 400
        if "denied" in request.args:
            return "denied", 403
        auth = ClientAuth(
            fake.client_id,
            fake.client_secret,
            token=temporary["oauth_token"],
            token_secret=temporary["oauth_token_secret"],
            verifier=request.args["oauth_verifier"],
        )
        response = signed_post(auth, fake.access_token_url)
        if response.status_code != 200:
            return f"provider said {response.status_code}", 502
        session["user"] = _form(response)["screen_name"]
        return redirect(url_for("home"))

    @app.get("/home")
    def home() -> Any:
        return {"user": session.get("user")}

    return app


@pytest.fixture(params=["http", "https"])
def demo(request: pytest.FixtureRequest) -> Iterator[tuple[ServerThread, FakeProvider]]:
    """The demo client app (plain HTTP) and the suite's fake provider over HTTP or HTTPS."""
    fake: FakeProvider = request.getfixturevalue("provider" if request.param == "http" else "provider_tls")
    with (
        httpx.Client(trust_env=False, timeout=10, verify=fake.ssl_context or True) as http,
        ServerThread(make_demo_client(fake, http), name="demo-client") as client_server,
    ):
        yield client_server, fake


def _browser(fake: FakeProvider) -> Browser:
    return Browser(verify=fake.ssl_context or True)


def test_browser_login_via(demo: tuple[ServerThread, FakeProvider]) -> None:
    client_server, fake = demo
    with _browser(fake) as browser:
        result = browser.login_via(client_server.url + "/login", user="alice")
        assert result.response.status_code == 200
        assert result.response.json() == {"user": "alice"}
        assert result.callback_url.startswith(client_server.url + "/callback?")
        assert result.callback_params["oauth_verifier"]
        assert result.authorize_url.startswith(fake.authorize_url + "?oauth_token=")
        assert result.visited[0] == client_server.url + "/login"
        assert result.visited[-1] == client_server.url + "/home"
        assert "session" in browser.cookies  # the client app's cookie was kept
        assert browser.get(client_server.url + "/home").json() == {"user": "alice"}

        # the same browser replays the callback: the provider refuses the used token
        before = len(fake.received("access_token"))
        assert browser.get(result.callback_url).status_code == 502
        assert len(fake.received("access_token")) == before + 1

        # another browser (no session) replays it: never reaches the provider
        with _browser(fake) as other:
            assert other.get(result.callback_url).status_code == 400
        assert len(fake.received("access_token")) == before + 1


def test_browser_login_via_deny(demo: tuple[ServerThread, FakeProvider]) -> None:
    client_server, fake = demo
    with _browser(fake) as browser:
        result = browser.login_via(client_server.url + "/login", deny=True)
        assert result.response.status_code == 403
        assert "denied" in result.callback_params
        assert len(fake.received("access_token")) == 0


def test_browser_follow_and_errors(echo_server: ServerThread) -> None:
    hops: dict[str, tuple[int, str]] = {
        "/a": (302, "/b"),
        "/b": (307, "/c"),
        "/loop": (302, "/loop"),
    }

    def redirecting(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path in hops:
            status, target = hops[path]
            start_response(f"{status} Redirect", [("Location", target)])
            return [b""]
        return echo_wsgi(environ, start_response)

    echo_server.app = redirecting
    with Browser() as browser:
        followed = browser.follow(echo_server.url + "/a", method="POST", data={"k": "v"})
        assert [urlsplit(u).path for u in followed.visited] == ["/a", "/b", "/c"]
        assert followed.response.json()["method"] == "GET"  # 302 turned POST into GET
        kept = browser.follow(echo_server.url + "/b", method="POST", data={"k": "v"})
        assert kept.response.json()["method"] == "POST"
        assert kept.response.json()["body"] == "k=v"
        with pytest.raises(BrowserError):
            browser.follow(echo_server.url + "/loop", max_hops=3)
        with pytest.raises(BrowserError):
            browser.login_via(echo_server.url + "/not-a-login")
