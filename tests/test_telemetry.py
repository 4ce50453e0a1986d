"""OpenTelemetry spans for token-endpoint and resource calls, sync and async views, real servers.

The SDK's :class:`InMemorySpanExporter` collects what the package emits
through the global tracer provider, exactly as an application would set it
up. The client app talks to the real test provider (every signature checked)
and, for what that provider cannot do (rate-limit headers, redirects, a 503
then a 200), to a small Flask app served on 127.0.0.1 by this module.

Every span produced by a test is scanned: no consumer secret, token, token
secret, verifier, nonce, signature or query string may appear in a span name
or in any attribute.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from flask import Flask, Response, jsonify, redirect, request, url_for
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from flask_oauth1_async import OAuth, RetryPolicy, _drivers, _telemetry, _urls
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.browser import Browser
from tests.support.fake import last
from tests.support.servers import ServerThread
from tests.support.views import (
    PREFIX,
    VIEW_KINDS,
    catch_oauth_errors,
    dance_routes,
    token_from_headers,
    token_headers,
)

view_tracer = trace.get_tracer("tests.telemetry.view")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def _exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # another module of this worker installed the SDK already
        current.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        sdk = TracerProvider()
        sdk.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(sdk)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    yield exporter
    exporter.shutdown()  # later spans of this worker are dropped, not kept in memory


@pytest.fixture
def spans(_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    _exporter.clear()
    return _exporter


def _ours(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == _telemetry.TRACER_NAME]


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _oauth_header_values(authorization: str | None) -> list[str]:
    """The values of an ``Authorization: OAuth k="v", ...`` header (percent-decoded)."""
    return [unquote(v) for _, v in re.findall(r'(\w+)="([^"]*)"', authorization or "")]


def _assert_no_secret(exporter: InMemorySpanExporter, secrets: list[str]) -> None:
    """No *secret* and no query string in any span name or attribute (of any span recorded)."""
    secrets = [s for s in secrets if s and len(s) >= 6]  # short values (a version "1.0") could match by chance
    assert secrets, "the scan needs something to look for"
    for span in exporter.get_finished_spans():
        texts = [span.name]
        for key, value in (span.attributes or {}).items():
            texts.append(key)
            texts.extend(str(v) for v in value) if isinstance(value, tuple) else texts.append(str(value))
        for text in texts:
            assert "?" not in text, (span.name, text)
            assert "oauth_" not in text.lower(), (span.name, text)
            for secret in secrets:
                assert secret not in text, (span.name, secret)


class Limits:
    """A little API on 127.0.0.1: rate-limit headers, a same-origin redirect, a 503 then a 200."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        self._lock = threading.Lock()
        self._busy_left = 0
        app = Flask("limits")

        @app.get("/api/limited")
        def limited() -> Response:
            self._record()
            resp = jsonify(ok=True)
            resp.headers["X-Rate-Limit-Limit"] = "900"
            resp.headers["X-Rate-Limit-Remaining"] = "899"
            resp.headers["X-Rate-Limit-Reset"] = "1700000000"
            resp.headers["X-RateLimit-Used"] = "1"
            resp.headers["RateLimit-Policy"] = "900;w=900"
            resp.headers["X-Unrelated"] = "not-kept"
            return resp

        @app.get("/api/hop")
        def hop() -> Any:
            self._record()
            return redirect(url_for("limited", after="hop-secret-query"), code=302)

        @app.get("/api/busy")
        def busy() -> Any:
            self._record()
            with self._lock:
                first = self._busy_left > 0
                self._busy_left = max(0, self._busy_left - 1)
            if first:
                return Response("busy", status=503, headers={"Retry-After": "0"})
            return jsonify(ok=True)

        self.server = ServerThread(app, name="limits").start()

    def _record(self) -> None:
        with self._lock:
            self.authorizations.append(request.headers.get("Authorization", ""))

    def busy_once(self) -> None:
        with self._lock:
            self._busy_left = 1

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def limits() -> Iterator[Limits]:
    api = Limits()
    try:
        yield api
    finally:
        api.server.stop()


def _call_routes(app: Flask, oauth: OAuth) -> None:
    """``/s/call`` and ``/a/call``: a resource call inside a span of the view's own."""
    catch_oauth_errors(app)

    def options() -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if request.args.get("follow"):
            kwargs["follow_redirects"] = True
        if request.args.get("retry"):
            kwargs["retry"] = RetryPolicy(attempts=2, max_wait=1)
        return kwargs

    def answer(resp: httpx.Response, view_span: trace.Span) -> Response:
        return jsonify(status=resp.status_code, view_span=format(view_span.get_span_context().span_id, "016x"))

    @app.get("/s/call")
    def s_call() -> Response:
        remote = getattr(oauth, request.args.get("remote", "demo"))
        with view_tracer.start_as_current_span("view") as view_span:
            resp = remote.get(request.args["path"], **options())
        return answer(resp, view_span)

    @app.get("/a/call")
    async def a_call() -> Response:
        remote = getattr(oauth, request.args.get("remote", "demo"))
        with view_tracer.start_as_current_span("view") as view_span:
            resp = await remote.get(request.args["path"], **options())
        return answer(resp, view_span)


def _serve(
    client_app: ClientAppFactory, provider: FakeProvider, limits: Limits | None = None, **register: Any
) -> ClientApp:
    def setup(app: Flask, oauth: OAuth) -> None:
        dance_routes(app, oauth)
        _call_routes(app, oauth)
        if limits is not None:
            oauth.register(
                "limits",
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                api_base_url=limits.url + "/api",
                fetch_token=token_from_headers,
            )

    register.setdefault("fetch_token", token_from_headers)
    return client_app(provider, setup, **register)


# ------------------------------------------------------------------ the dance


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_login_gives_a_request_token_and_an_access_token_span(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory, spans: InMemorySpanExporter
) -> None:
    ca = _serve(client_app, provider)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login", user="alice")
    assert result.response.status_code == 200, result.response.text
    token = result.response.json()["token"]

    ours = _ours(spans)
    assert [s.name for s in ours] == ["POST demo request_token", "POST demo access_token"]
    port = provider.port
    for span, step in zip(ours, ("request_token", "access_token"), strict=True):
        assert span.kind is SpanKind.CLIENT
        assert span.status.status_code is StatusCode.UNSET
        assert _attrs(span) == {
            "http.request.method": "POST",
            "url.full": f"{provider.url}/oauth/{step}",
            "url.scheme": "http",
            "server.address": "127.0.0.1",
            "server.port": port,
            "oauth1.remote": "demo",
            "oauth1.step": step,
            "http.response.status_code": 200,
        }
    recorded = provider.received("request_token") + provider.received("access_token")
    assert len(recorded) == 2
    secrets = [
        provider.client_secret,
        token["oauth_token"],
        token["oauth_token_secret"],
        result.callback_params["oauth_token"],  # the request token
        result.callback_params["oauth_verifier"],
    ]
    for r in recorded:
        secrets += _oauth_header_values(r.authorization)  # signatures, nonces, the callback URL
    _assert_no_secret(spans, secrets)


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_refused_access_token_marks_the_span_failed(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory, spans: InMemorySpanExporter
) -> None:
    ca = _serve(client_app, provider)
    provider.answer_next("access_token", "oauth_problem=token_rejected", status=401)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login", user="bob")
    assert result.response.status_code == 418, result.response.text
    failed = [s for s in _ours(spans) if _attrs(s)["oauth1.step"] == "access_token"]
    assert len(failed) == 1
    assert failed[0].status.status_code is StatusCode.ERROR
    assert _attrs(failed[0])["http.response.status_code"] == 401
    assert _attrs(failed[0])["error.type"] == "401"
    _assert_no_secret(spans, [result.callback_params["oauth_verifier"], result.callback_params["oauth_token"]])


# ------------------------------------------------------------------ resource calls


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_resource_span_is_a_child_of_the_view_span_without_the_query(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client, spans: InMemorySpanExporter
) -> None:
    ca = _serve(client_app, provider)
    tok = provider.issue_token("carol")
    resp = http.get(
        ca.url + PREFIX[mode] + "/call",
        params={"path": "me?secret_in_query=hush-hush-42&n=1"},
        headers=token_headers(tok),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == 200

    (span,) = _ours(spans)
    assert span.name == "GET demo"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == body["view_span"]
    (view,) = [s for s in spans.get_finished_spans() if s.name == "view"]
    assert span.context.trace_id == view.context.trace_id
    attrs = _attrs(span)
    assert attrs["url.full"] == provider.url + "/api/me"
    assert attrs["http.request.method"] == "GET"
    assert attrs["http.response.status_code"] == 200
    assert attrs["oauth1.step"] == "resource"
    assert "http.request.resend_count" not in attrs
    assert "error.type" not in attrs
    recorded = last(provider, "api", "me")
    assert "secret_in_query=hush-hush-42" in urlsplit(recorded.url).query  # it did travel, just not into the span
    _assert_no_secret(
        spans,
        [
            tok["oauth_token"],
            tok["oauth_token_secret"],
            provider.client_secret,
            "hush-hush-42",
            "secret_in_query",
            *_oauth_header_values(recorded.authorization),
        ],
    )


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_rate_limit_headers_become_attributes(
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    http: httpx.Client,
    limits: Limits,
    spans: InMemorySpanExporter,
) -> None:
    ca = _serve(client_app, provider, limits)
    tok = provider.issue_token("dave")
    resp = http.get(
        ca.url + PREFIX[mode] + "/call", params={"remote": "limits", "path": "limited"}, headers=token_headers(tok)
    )
    assert resp.status_code == 200, resp.text
    (span,) = _ours(spans)
    assert span.name == "GET limits"
    attrs = _attrs(span)
    assert attrs["server.port"] == limits.server.port
    assert attrs["http.response.header.x-rate-limit-limit"] == ("900",)
    assert attrs["http.response.header.x-rate-limit-remaining"] == ("899",)
    assert attrs["http.response.header.x-rate-limit-reset"] == ("1700000000",)
    assert attrs["http.response.header.x-ratelimit-used"] == ("1",)
    assert attrs["http.response.header.ratelimit-policy"] == ("900;w=900",)
    assert "http.response.header.x-unrelated" not in attrs
    assert not any(k.startswith("http.request.header") for k in attrs)
    assert len(limits.authorizations) == 1
    assert limits.authorizations[0].startswith("OAuth ")  # the call was signed
    _assert_no_secret(
        spans, [tok["oauth_token"], tok["oauth_token_secret"], *_oauth_header_values(limits.authorizations[0])]
    )


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_each_redirect_hop_and_each_retry_has_its_own_span(
    mode: str,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    http: httpx.Client,
    limits: Limits,
    spans: InMemorySpanExporter,
) -> None:
    ca = _serve(client_app, provider, limits)
    tok = provider.issue_token("erin")
    hop = http.get(
        ca.url + PREFIX[mode] + "/call",
        params={"remote": "limits", "path": "hop", "follow": "1"},
        headers=token_headers(tok),
    )
    assert hop.status_code == 200, hop.text
    first, second = _ours(spans)
    assert (_attrs(first)["url.full"], _attrs(first)["http.response.status_code"]) == (limits.url + "/api/hop", 302)
    assert "http.request.resend_count" not in _attrs(first)
    assert (_attrs(second)["url.full"], _attrs(second)["http.response.status_code"]) == (
        limits.url + "/api/limited",
        200,
    )
    assert _attrs(second)["http.request.resend_count"] == 1
    assert first.status.status_code is StatusCode.UNSET  # a 3xx is not an error

    spans.clear()
    limits.busy_once()
    retried = http.get(
        ca.url + PREFIX[mode] + "/call",
        params={"remote": "limits", "path": "busy", "retry": "1"},
        headers=token_headers(tok),
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == 200
    busy, ok = _ours(spans)
    assert _attrs(busy)["http.response.status_code"] == 503
    assert _attrs(busy)["error.type"] == "503"
    assert _attrs(busy)["http.response.header.retry-after"] == ("0",)
    assert busy.status.status_code is StatusCode.ERROR
    assert _attrs(ok)["http.response.status_code"] == 200
    assert _attrs(ok)["http.request.resend_count"] == 1
    assert ok.status.status_code is StatusCode.UNSET
    # Both attempts are children of the one view span of that request.
    assert busy.parent is not None
    assert ok.parent is not None
    assert busy.parent.span_id == ok.parent.span_id
    assert len(limits.authorizations) == 4  # hop, limited, busy, busy: each one signed anew
    signed = [v for a in limits.authorizations for v in _oauth_header_values(a)]
    _assert_no_secret(
        spans, [tok["oauth_token"], tok["oauth_token_secret"], "hop-secret-query", provider.client_secret, *signed]
    )


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_transport_error_marks_the_span_failed(
    mode: str,
    closed_port: int,
    provider: FakeProvider,
    client_app: ClientAppFactory,
    http: httpx.Client,
    spans: InMemorySpanExporter,
) -> None:
    ca = _serve(client_app, provider, api_base_url=f"http://127.0.0.1:{closed_port}/api")
    tok = provider.issue_token("frank")
    resp = http.get(ca.url + PREFIX[mode] + "/call", params={"path": "me?q=hidden-value"}, headers=token_headers(tok))
    assert resp.status_code == 418, resp.text
    assert resp.json()["error"] == "TransportError"
    (span,) = _ours(spans)
    assert span.name == "GET demo"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == f"{httpx.__name__}.ConnectError"
    attrs = _attrs(span)
    assert attrs["error.type"] == f"{httpx.__name__}.ConnectError"
    assert attrs["url.full"] == f"http://127.0.0.1:{closed_port}/api/me"
    assert attrs["server.port"] == closed_port
    assert "http.response.status_code" not in attrs
    assert span.events == ()  # no exception event: its message is not ours to vouch for
    assert span.end_time is not None
    _assert_no_secret(spans, [tok["oauth_token"], tok["oauth_token_secret"], "hidden-value"])


# ------------------------------------------------------------------ pieces


def test_rate_limit_attributes_are_bounded() -> None:
    headers = httpx.Headers(
        [(f"X-RateLimit-Extra-{i}", "v" * 1000) for i in range(40)] + [("Retry-After", "5"), ("Authorization", "x")]
    )
    found = _telemetry.rate_limit_attributes(headers)
    assert len(found) == 16
    assert all(len(v) == 256 for values in found.values() for v in values)
    assert "http.response.header.authorization" not in found


def test_redact_url_keeps_port_and_path_but_drops_userinfo_query_and_fragment() -> None:
    url = httpx.URL("https://user:pw@api.example.test:8443/1.1/a%2Fb?oauth_token=t&x=1#frag")
    assert _urls.redact_url(url) == "https://api.example.test:8443/1.1/a%2Fb"
    assert _urls.redact_url(httpx.URL("http://127.0.0.1/")) == "http://127.0.0.1/"


def test_tracing_is_on_when_the_api_is_installed() -> None:
    assert _telemetry.ENABLED is True
    assert _drivers._TRACING is True


_WITHOUT_OTEL = textwrap.dedent(
    """
    import asyncio, http.server, sys, threading

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ImportError("blocked for this test: " + name)
            return None

    sys.meta_path.insert(0, Block())

    import httpx
    from flask_oauth1_async import _drivers, _effects, _telemetry, flows

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = "http://127.0.0.1:%d/x" % server.server_address[1]
    label = _effects.SendLabel("demo", "resource")
    try:
        with httpx.Client(trust_env=False) as client:
            sync = _drivers.run_sync(flows.send(httpx.Request("GET", url), label=label), client)

        async def main():
            async with httpx.AsyncClient(trust_env=False) as client:
                async def same_loop(coro):
                    return await coro
                return await _drivers.run_async(flows.send(httpx.Request("GET", url), label=label), client, same_loop)

        asyncio_result = asyncio.run(main())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    print(_telemetry.ENABLED, _drivers._TRACING, sync.status_code, asyncio_result.status_code,
          any(m.startswith("opentelemetry") for m in sys.modules))
    """
)


def test_without_opentelemetry_nothing_is_traced_and_calls_still_work(tmp_path: Any) -> None:
    script = tmp_path / "without_otel.py"
    script.write_text(_WITHOUT_OTEL)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
        env={"PYTHONPATH": _repo_root(), "PATH": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "200", "200", "False"]


def _repo_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent)
