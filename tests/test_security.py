"""A hostile or broken provider, and careless calls: nothing secret out, bounded memory and time.

The adversarial provider is the raw-socket fault server of
:mod:`tests.support.faults` on 127.0.0.1 (and, where a real provider must
verify signatures, the suite's :class:`~flask_oauth1_async.testing.FakeProvider`
over HTTPS). It echoes what it received, answers huge, endless, trickling
and field-stuffed bodies, and redirects to another origin and to plain http.

Every hostile case runs through a client app with the default error handlers,
in ``def`` and ``async def`` views, with every logger at DEBUG and the
OpenTelemetry SDK recording spans. :class:`Witness` then looks for each
known secret - the consumer secret, the request-token and access-token
secrets, the verifier - raw, percent-encoded once and twice, form-encoded,
JSON- and HTML-escaped, in the errors (``str``, ``repr``, ``description``,
``body_excerpt``, ``base_string``, ``oauth_problem``), the pages the browser
got, the log records and the spans. The remote signs with ``PLAINTEXT``
(allowed for the loopback fault server by ``allow_plaintext_over_http``), so
the signature is made of the secrets themselves.

Memory is measured in a child process (tracemalloc's peak around each call);
a deadline test asserts that the call failed with the deadline error and that
the server saw the client leave before its own answer was over - never a
wall-clock bound.
"""

from __future__ import annotations

import html
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode

import httpx
import pytest
from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flask_oauth1_async import (
    AccessTokenRefusedError,
    ConfigurationError,
    InsecureSettingWarning,
    InvalidTokenResponseError,
    OAuth,
    OAuth1Error,
    OriginNotAllowedError,
    ProviderHTTPError,
    RedirectRefusedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TransportError,
    _backends,
    providers,
    signals,
)
from flask_oauth1_async.errors import LONG_SECRET_FORM, SecretValues, quote_body
from flask_oauth1_async.flows import MAX_REQUEST_TOKEN, MAX_TOKEN_FIELDS, MAX_TOKEN_RESPONSE
from flask_oauth1_async.testing import FakeProvider
from tests.support.fake import register_settings
from tests.support.faults import Fault, FaultServer, SeenRequest, closed_port_url
from tests.support.views import PREFIX, VIEW_KINDS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Secrets with characters that every encoding writes differently: "/", "+", " ", non-ASCII.
CONSUMER_KEY = "hostile-consumer-key"
CONSUMER_SECRET = "cs-S3cret/é+x y"
REQUEST_TOKEN = "hostile-request-token"
REQUEST_SECRET = "rts-S3cret/ü+q w"
VERIFIER = "v3rifier-Xy9/+"
ACCESS_TOKEN = "hostile-access-token"
ACCESS_SECRET = "ats-S3cret/ø+z k"
SECRETS = (CONSUMER_SECRET, REQUEST_SECRET, VERIFIER, ACCESS_SECRET)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HARNESS_THREADS = ("fake-oauth1-provider",)  # the FakeProvider's own server threads log request lines


def forms_of(secret: str) -> set[str]:
    """*secret* as it may be written: raw, percent-encoded once and twice, form, JSON, HTML."""
    once = quote(secret, safe="")
    return {
        secret,
        once,
        quote(once, safe=""),
        quote_plus(secret),
        quote(quote_plus(secret), safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
    }


# ------------------------------------------------------------------ what a leak could show up in


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
    yield exporter
    exporter.shutdown()


@dataclass
class Witness:
    """Everything a secret could leak into: errors, pages, log records at DEBUG, spans."""

    caplog: pytest.LogCaptureFixture
    spans: InMemorySpanExporter
    errors: list[BaseException] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(exc)

    def texts(self) -> list[str]:
        found: list[str] = list(self.pages)
        for exc in self.errors:
            found += [str(exc), repr(exc), str(getattr(exc, "description", ""))]
            for attr in ("body_excerpt", "base_string", "oauth_problem", "url", "location", "origin"):
                found.append(str(getattr(exc, attr, "")))
        for record in self.caplog.records:
            if record.threadName.startswith(HARNESS_THREADS):
                continue
            found.append(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                found.append(logging.Formatter().formatException(record.exc_info))
        for span in self.spans.get_finished_spans():
            found.append(span.name)
            for key, value in (span.attributes or {}).items():
                found.append(f"{key}={value}")
            for event in span.events:
                found.append(f"{event.name} {dict(event.attributes or {})}")
        return found

    def assert_clean(self, secrets: tuple[str, ...] = SECRETS) -> None:
        texts = self.texts()
        assert texts, "nothing was recorded: the witness cannot vouch for anything"
        for secret in secrets:
            for form in forms_of(secret):
                for text in texts:
                    assert form not in text, f"secret {secret!r} leaked as {form!r} in: {text[:300]!r}"


@pytest.fixture
def witness(caplog: pytest.LogCaptureFixture, _exporter: InMemorySpanExporter) -> Witness:
    caplog.set_level(logging.DEBUG)
    _exporter.clear()
    return Witness(caplog, _exporter)


# ------------------------------------------------------------------ the hostile provider and the client app


@pytest.fixture
def hostile() -> Iterator[FaultServer]:
    """The adversarial provider: answers a request token at /request_token; each test scripts the rest."""
    server = FaultServer(name="hostile").start()
    answer = urlencode(
        {"oauth_token": REQUEST_TOKEN, "oauth_token_secret": REQUEST_SECRET, "oauth_callback_confirmed": "true"}
    )
    server.script("/request_token", Fault.ok(answer, headers=FORM))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def elsewhere() -> Iterator[FaultServer]:
    """Another origin on 127.0.0.1 that must never see a signed request."""
    server = FaultServer(name="elsewhere").start()
    try:
        yield server
    finally:
        server.stop()


def hostile_settings(base: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "client_id": CONSUMER_KEY,
        "client_secret": CONSUMER_SECRET,
        "request_token_url": base + "/request_token",
        "authorize_url": base + "/authorize",
        "access_token_url": base + "/access_token",
        "api_base_url": base + "/api/",
        "allow_plaintext_over_http": True,  # the hostile provider is on 127.0.0.1
        "client_kwargs": {"signature_method": "PLAINTEXT", "timeout": 5.0},
    }
    client_kwargs = {**settings["client_kwargs"], **overrides.pop("client_kwargs", {})}
    settings.update(overrides, client_kwargs=client_kwargs)
    return settings


@dataclass
class ClientApp:
    app: Flask
    oauth: OAuth
    client: FlaskClient

    def login(self, kind: str) -> Response:
        """Start a login, then come back with the verifier; the callback's answer."""
        started = self.client.get(PREFIX[kind] + "/login")
        if started.status_code != 302:
            return started
        return self.client.get(
            PREFIX[kind] + "/callback", query_string={"oauth_token": REQUEST_TOKEN, "oauth_verifier": VERIFIER}
        )


@pytest.fixture
def make_app(witness: Witness) -> Iterator[Callable[..., ClientApp]]:
    """``make_app(base, **register overrides)``: a client app with the default handlers, remote ``demo``.

    Views: ``/s|a/login``, ``/s|a/callback``, ``/s|a/call?path=..&method=..`` (a signed call with the
    access token; ``deadline``, ``follow`` and ``unsigned`` query flags). Every error a view sees is
    given to the witness, then left to the default handlers; every page goes to the witness too.
    """
    made: list[ClientApp] = []

    def on_failure(sender: Flask, remote: str, error: BaseException) -> None:
        witness.error(error)

    signals.login_failed.connect(on_failure)

    def make(base: str, **overrides: Any) -> ClientApp:
        app = Flask(f"hostile-client-{len(made)}")
        app.secret_key = "hostile-test-secret-key"
        app.testing = True  # an error without a default handler reaches the test (a 500 otherwise)
        oauth = OAuth(app)
        oauth.register("demo", **hostile_settings(base, **overrides))
        token = {"oauth_token": ACCESS_TOKEN, "oauth_token_secret": ACCESS_SECRET}

        def call_kwargs() -> dict[str, Any]:
            kwargs: dict[str, Any] = {"token": token}
            if "deadline" in request.args:
                kwargs["deadline"] = float(request.args["deadline"])
            if request.args.get("follow"):
                kwargs["follow_redirects"] = True
            if request.args.get("unsigned"):
                kwargs = {"withhold_token": True}
            if request.args.get("form"):
                kwargs["data"] = {"a": "1", "b": "x y"}
            if "header" in request.args:
                kwargs["headers"] = {"X-Extra": request.args["header"]}
            return kwargs

        def answered(resp: httpx.Response) -> Response:
            return jsonify(status=resp.status_code, text=resp.text[:1000])

        @app.get("/s/login")
        def s_login() -> Any:
            try:
                return oauth.demo.authorize_redirect("/s/callback")
            except OAuth1Error as exc:
                witness.error(exc)
                raise

        @app.get("/a/login")
        async def a_login() -> Any:
            try:
                return await oauth.demo.authorize_redirect("/a/callback")
            except OAuth1Error as exc:
                witness.error(exc)
                raise

        @app.get("/s/callback")
        def s_callback() -> Any:
            return jsonify(dict(oauth.demo.authorize_access_token()))

        @app.get("/a/callback")
        async def a_callback() -> Any:
            return jsonify(dict(await oauth.demo.authorize_access_token()))

        @app.get("/s/call")
        def s_call() -> Any:
            try:
                resp = oauth.demo.request(request.args.get("method", "GET"), request.args["path"], **call_kwargs())
            except OAuth1Error as exc:
                witness.error(exc)
                raise
            return answered(resp)

        @app.get("/a/call")
        async def a_call() -> Any:
            try:
                resp = await oauth.demo.request(
                    request.args.get("method", "GET"), request.args["path"], **call_kwargs()
                )
            except OAuth1Error as exc:
                witness.error(exc)
                raise
            return answered(resp)

        @app.after_request
        def keep_page(response: Response) -> Response:
            if not response.direct_passthrough:
                witness.pages.append(response.get_data(as_text=True))
            return response

        made.append(ClientApp(app, oauth, app.test_client()))
        return made[-1]

    try:
        yield make
    finally:
        signals.login_failed.disconnect(on_failure)
        for ca in made:
            ca.oauth.close()


def signature_of(seen: SeenRequest) -> str:
    """The ``oauth_signature`` of a request's ``Authorization`` header, as it was written there."""
    header = seen.headers.get("authorization", "")
    for part in header.removeprefix("OAuth ").split(","):
        key, _, value = part.strip().partition("=")
        if key == "oauth_signature":
            return value.strip('"')
    raise AssertionError(f"no signature in {header!r}")


# ------------------------------------------------------------------ 1. secrets echoed back by the provider


def _echo(form: str) -> Callable[[SeenRequest], Fault]:
    """A 401 whose body echoes what the access-token request carried, written as *form*."""

    def answer(seen: SeenRequest) -> Fault:
        written = signature_of(seen)  # percent-encoded once: <consumer secret>%26<token secret>
        decoded = unquote(written)
        body = {
            "oauth_signature": f"oauth_problem=signature_invalid&oauth_signature={written}&x=1",
            "raw": f"signature_invalid: we computed something else than {decoded}",
            "percent": f"signature_invalid; received={written}",
            "double": f"debug: {quote(written, safe='')}",
            "form": urlencode({"oauth_problem": "signature_invalid", "got": decoded}),
            "json": json.dumps({"error": "signature_invalid", "got": decoded}),
            "json-ascii": json.dumps({"error": "signature_invalid", "got": decoded}, ensure_ascii=True),
            "html": f"<html><body><p>Bad signature {html.escape(decoded)}</p></body></html>",
            "verifier": f"oauth_problem=verifier_invalid&expected_other_than={VERIFIER}",
            "problem": f"oauth_problem={quote(decoded, safe='')}",
        }[form]
        return Fault.status(401, body, headers={"Content-Type": "text/plain"})

    return answer


ECHO_FORMS = (
    "oauth_signature",
    "raw",
    "percent",
    "double",
    "form",
    "json",
    "json-ascii",
    "html",
    "verifier",
    "problem",
)


@pytest.mark.parametrize("form", ECHO_FORMS)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_secrets_echoed_by_the_provider_never_leave(
    kind: str, form: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    hostile.script("/access_token", _echo(form))
    ca = make_app(hostile.url)
    page = ca.login(kind)
    assert page.status_code == 400, page.get_data(as_text=True)  # the default handler's page
    assert page.get_data(as_text=True).startswith("Sign-in failed: ")
    (error,) = [e for e in witness.errors if isinstance(e, AccessTokenRefusedError)]
    assert error.status_code == 401
    # The provider did see the secrets: the test is about what comes back.
    (seen,) = [s for s in hostile.seen if s.path == "/access_token"]
    assert quote(quote(CONSUMER_SECRET, safe=""), safe="") in signature_of(seen)
    assert any("callback rejected" in r.getMessage() for r in witness.caplog.records), "the INFO line was logged"
    witness.assert_clean()
    assert "***" in error.body_excerpt, "the excerpt shows where something was masked"


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_request_token_refusal_echoing_the_consumer_secret(
    kind: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    hostile.script("/request_token", _echo("percent"))
    ca = make_app(hostile.url)
    with pytest.raises(ProviderHTTPError) as caught:  # no default handler for a provider error: it propagates
        ca.client.get(PREFIX[kind] + "/login")
    assert caught.value.status_code == 401
    witness.error(caught.value)
    witness.assert_clean()


# ------------------------------------------------------------------ the masking itself


def test_secret_values_mask_every_form_and_keep_the_rest() -> None:
    values = SecretValues([CONSUMER_SECRET, None, "", "   "])
    assert len(values) == 1
    assert CONSUMER_SECRET not in repr(values)
    for form in forms_of(CONSUMER_SECRET) | {quote(CONSUMER_SECRET, safe="").lower()}:
        masked = values.redact(f"before {form} after")
        assert masked == "before *** after", (form, masked)


def test_short_secrets_are_masked_only_where_they_stand_alone() -> None:
    """A 2-character secret must not eat every word that contains it (the rule of SecretValues)."""
    values = SecretValues(["ab"])
    assert values.redact("about the lab: tabs") == "about the lab: tabs"
    assert values.redact("sig=ab&x") == "sig=***&x"
    assert values.redact("cs%26ab") == "cs%26***"
    assert values.redact('"ab"') == '"***"'
    assert values.redact("ab") == "***"


def test_a_huge_secret_is_masked_in_every_form_without_entering_the_pattern() -> None:
    """A hostile provider's 60 kB secret (non-ASCII, so its encodings grow ninefold) is masked
    by plain search: a pattern holding it would take seconds of CPU to compile per error."""
    huge = "s\u00e9cret/\u4e2d " * 6000
    values = SecretValues([CONSUMER_SECRET, huge])
    for form in forms_of(huge) | {quote(huge, safe="").lower()}:
        assert len(form) > LONG_SECRET_FORM
        masked = values.redact(f"before {form} after {CONSUMER_SECRET}")
        assert masked == "before *** after ***", (form[:40], masked[:80])
    assert values._pattern is not None
    assert len(values._pattern.pattern) < 1000  # only the short secret's forms are in the pattern
    assert huge[:40] not in values._pattern.pattern


def test_a_cut_excerpt_never_holds_part_of_a_secret() -> None:
    secret = "abcdefghijklmnopqrstuvwxyz0123456789"
    text = "x" * 190 + secret + " tail"
    excerpt = quote_body(text, secrets=SecretValues([secret]))
    assert "abcdefghij" not in excerpt
    assert excerpt.startswith("x" * 190 + "***")


# ------------------------------------------------------------------ 2. PLAINTEXT over plain http


def test_plaintext_over_http_is_refused_at_registration(hostile: FaultServer) -> None:
    app = Flask("plaintext")
    oauth = OAuth(app)
    settings = hostile_settings(hostile.url)
    del settings["allow_plaintext_over_http"]
    with pytest.raises(ConfigurationError) as caught:
        oauth.register("demo", **settings)
    message = str(caught.value)
    assert "PLAINTEXT" in message
    assert "allow_plaintext_over_http=True" in message
    assert "https://" in message
    assert hostile.seen == [], "nothing was sent"


def test_plaintext_over_http_is_refused_at_first_use_when_the_config_completes_it(hostile: FaultServer) -> None:
    app = Flask("plaintext-config")
    app.secret_key = "k"
    oauth = OAuth(app)
    settings = hostile_settings(hostile.url)
    del settings["allow_plaintext_over_http"]
    del settings["client_id"]  # not checkable as a whole yet: the config may fill it in later
    oauth.register("demo", **settings)
    app.config["DEMO_CLIENT_ID"] = CONSUMER_KEY
    with app.test_request_context("/"), pytest.raises(ConfigurationError, match="PLAINTEXT"):
        oauth.demo.authorize_redirect_sync("/callback")
    assert hostile.seen == []


def test_plaintext_opt_out_covers_loopback_hosts_only() -> None:
    app = Flask("plaintext-remote")  # kept: the registry checks the settings for the apps it serves
    oauth = OAuth(app)
    with pytest.raises(ConfigurationError, match="covers loopback hosts only"):
        oauth.register("demo", **hostile_settings("http://provider.example"))
    oauth.register("local", **hostile_settings("http://localhost:8080"))
    oauth.register("tls", **{**hostile_settings("https://provider.example"), "allow_plaintext_over_http": False})
    with pytest.raises(ConfigurationError, match="allowed_origins entry"):
        oauth.register("mixed", **hostile_settings("https://provider.example", allowed_origins=["http://cdn.example"]))


# ------------------------------------------------------------------ 3. bounded reads and deadlines


@pytest.mark.parametrize(
    ("fault", "expected_limit"),
    [
        (Fault.stream(50 * 1024 * 1024), MAX_TOKEN_RESPONSE),
        (Fault.endless(), MAX_TOKEN_RESPONSE),
        (Fault.ok(b"a&" * (2 * 1024 * 1024), headers=FORM), MAX_TOKEN_RESPONSE),
        (Fault.ok("&".join(f"f{i}=v" for i in range(MAX_TOKEN_FIELDS + 1)), headers=FORM), MAX_TOKEN_FIELDS),
        (
            Fault.ok(
                json.dumps({f"f{i}": i for i in range(MAX_TOKEN_FIELDS + 1)}),
                headers={"Content-Type": "application/json"},
            ),
            MAX_TOKEN_FIELDS,
        ),
    ],
    ids=["50MB", "endless", "4MB-of-fields", "too-many-fields", "too-many-json-members"],
)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_token_answers_are_read_within_bounds(
    kind: str,
    fault: Fault,
    expected_limit: int,
    hostile: FaultServer,
    make_app: Callable[..., ClientApp],
    witness: Witness,
) -> None:
    hostile.script("/request_token", fault)
    ca = make_app(hostile.url)
    with pytest.raises(ResponseTooLargeError) as caught:
        ca.client.get(PREFIX[kind] + "/login")
    error = caught.value
    assert isinstance(error, InvalidTokenResponseError), "handlers written for the older error still catch it"
    assert error.limit == expected_limit
    if fault.kind in ("stream", "endless"):
        # The rest of the answer was never read: the server saw the client leave.
        assert hostile.wait_for_outcomes(1) == [("/request_token", "client-gone")]
    witness.error(error)
    witness.assert_clean()


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_deeply_nested_json_is_not_a_crash(kind: str, hostile: FaultServer, make_app: Callable[..., ClientApp]) -> None:
    nested = '{"a":' * 20_000 + "1" + "}" * 20_000  # within the byte limit, beyond the parser's depth
    hostile.script(
        "/request_token", Fault.ok(nested[: MAX_TOKEN_RESPONSE - 1], headers={"Content-Type": "application/json"})
    )
    ca = make_app(hostile.url)
    with pytest.raises(InvalidTokenResponseError):
        ca.client.get(PREFIX[kind] + "/login")


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_trickling_token_endpoint_is_cut_at_the_derived_deadline(
    kind: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    """One byte every 0.1 s for 10 s never trips httpx's 1 s read timeout; the deadline (0.1 x 3 + 1 s) does."""
    hostile.script("/request_token", Fault.trickle(10.0, 0.1))
    ca = make_app(hostile.url, client_kwargs={"timeout": httpx.Timeout(0.1, read=1.0)})
    page = ca.client.get(PREFIX[kind] + "/login")
    assert page.status_code == 504, page.get_data(as_text=True)
    (error,) = witness.errors
    assert isinstance(error, RequestTimeoutError)
    assert error.deadline == pytest.approx(1.3)
    assert "deadline" in str(error)
    # The call ended before the server's own answer did.
    assert hostile.wait_for_outcomes(1) == [("/request_token", "client-gone")]
    witness.assert_clean()


@pytest.mark.parametrize("per", ["call", "remote"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_resource_call_with_a_deadline_ends_by_it(
    kind: str, per: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    hostile.script("/api/slow", Fault.trickle(10.0, 0.1))
    ca = make_app(hostile.url, **({"deadline": 0.5} if per == "remote" else {}))
    query = {"path": "slow", **({"deadline": "0.5"} if per == "call" else {})}
    page = ca.client.get(PREFIX[kind] + "/call", query_string=query)
    assert page.status_code == 504, page.get_data(as_text=True)
    (error,) = witness.errors
    assert isinstance(error, RequestTimeoutError)
    assert error.deadline == 0.5
    assert hostile.wait_for_outcomes(1) == [("/api/slow", "client-gone")]
    witness.assert_clean()


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_silent_server_is_cut_at_the_deadline_not_at_the_read_timeout(
    kind: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    """No byte at all, a 5 s read timeout, a 0.3 s deadline: the deadline is the error."""
    hostile.script("/api/silent", Fault.hang(5.0))
    ca = make_app(hostile.url)
    page = ca.client.get(PREFIX[kind] + "/call", query_string={"path": "silent", "deadline": "0.3"})
    assert page.status_code == 504
    (error,) = witness.errors
    assert isinstance(error, RequestTimeoutError)
    assert error.deadline == 0.3


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_resource_call_without_a_deadline_may_take_longer_than_the_derived_one(
    kind: str, hostile: FaultServer, make_app: Callable[..., ClientApp]
) -> None:
    """Resource calls get no derived deadline: a slow download (1.6 s) goes beyond the login's 1.3 s and completes."""
    hostile.script("/api/download", Fault.trickle(1.6, 0.1))
    ca = make_app(hostile.url, client_kwargs={"timeout": httpx.Timeout(0.1, read=1.0)})
    page = ca.client.get(PREFIX[kind] + "/call", query_string={"path": "download"})
    assert page.status_code == 200, page.get_data(as_text=True)
    assert page.get_json()["text"] == "x" * 16
    assert hostile.wait_for_outcomes(1) == [("/api/download", "finished")]


@pytest.mark.parametrize("value", [0, -1, "5", True, float("nan"), float("inf")])
def test_deadline_values_are_checked(value: Any) -> None:
    app = Flask("deadline-values")  # kept: the registry checks the settings for the apps it serves
    oauth = OAuth(app)
    with pytest.raises(ConfigurationError, match="deadline"):
        oauth.register("demo", **hostile_settings("https://provider.example", deadline=value))


def test_a_per_call_deadline_is_checked(hostile: FaultServer, make_app: Callable[..., ClientApp]) -> None:
    ca = make_app(hostile.url)
    with ca.app.test_request_context("/"), pytest.raises(ConfigurationError, match="deadline"):
        ca.oauth.demo.get_sync("x", token=("t", "s"), deadline="soon")
    assert hostile.seen == []


MEMORY_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, tracemalloc
    from flask import Flask
    from flask_oauth1_async import OAuth, OAuth1Error

    url, backend = sys.argv[1], sys.argv[2]
    app = Flask("memory-child")
    app.secret_key = "memory-child-key"
    oauth = OAuth(app)
    paths = ("warm", "huge", "endless", "fields")
    for path in paths:
        oauth.register(
            path, client_id="ck", client_secret="cs", request_token_url=f"{url}/{path}",
            authorize_url=url + "/authorize", access_token_url=url + "/access_token",
            client_kwargs={"async_transport": backend, "timeout": 10.0},
        )

    def call(path, mode):
        remote = oauth.create_client(path)
        with app.test_request_context("/"):
            if mode == "sync":
                remote.authorize_redirect_sync("/cb")
            else:
                asyncio.run(remote.authorize_redirect_async("/cb"))

    results = {}
    tracemalloc.start()
    for mode in ("sync", "async"):
        call("warm", mode)  # clients, loops and lazy imports: not what is measured
        for path in paths[1:]:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            try:
                call(path, mode)
                error = None
            except OAuth1Error as exc:
                error = type(exc).__name__
            results[f"{path}-{mode}"] = {"error": error, "peak": tracemalloc.get_traced_memory()[1] - before}
    oauth.close()
    print(json.dumps(results))
    """
)


def test_memory_stays_bounded_against_huge_and_endless_answers() -> None:
    """Measured in a child process: tracemalloc's peak around each login start, sync and awaited."""
    ok = urlencode({"oauth_token": "t", "oauth_token_secret": "s", "oauth_callback_confirmed": "true"})
    with FaultServer(name="memory") as server:
        server.script("/warm", Fault.ok(ok, headers=FORM))
        server.script("/huge", Fault.stream(50 * 1024 * 1024))
        server.script("/endless", Fault.endless())
        server.script("/fields", Fault.ok(b"a&" * (2 * 1024 * 1024), headers=FORM))
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, server.url, _backends.default_async_transport],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(results) == {f"{p}-{m}" for p in ("huge", "endless", "fields") for m in VIEW_KINDS}
    for name, result in results.items():
        assert result["error"] == "ResponseTooLargeError", (name, result)
        # A generous bound: 64 KiB are kept; a 50 MB answer read whole would be 50 MB and more.
        assert result["peak"] < 16 * 1024 * 1024, (name, result)


# ------------------------------------------------------------------ 4. signatures only for the remote's origins


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_signed_call_to_another_origin_is_refused_before_anything_is_sent(
    kind: str, hostile: FaultServer, elsewhere: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    ca = make_app(hostile.url)
    with pytest.raises(OriginNotAllowedError) as caught:  # a programming error: no default handler
        ca.client.get(PREFIX[kind] + "/call", query_string={"path": elsewhere.url + "/steal"})
    error = caught.value
    assert witness.errors == [error]
    assert isinstance(error, ConfigurationError)
    assert error.origin == elsewhere.url
    assert "allowed_origins" in str(error)
    assert elsewhere.seen == []
    witness.assert_clean()


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_unsigned_calls_may_go_anywhere(
    kind: str, hostile: FaultServer, elsewhere: FaultServer, make_app: Callable[..., ClientApp]
) -> None:
    ca = make_app(hostile.url)
    page = ca.client.get(PREFIX[kind] + "/call", query_string={"path": elsewhere.url + "/open", "unsigned": "1"})
    assert page.status_code == 200
    (seen,) = elsewhere.seen
    assert "authorization" not in seen.headers


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_allowed_origins_are_signed_for(
    kind: str, hostile: FaultServer, elsewhere: FaultServer, make_app: Callable[..., ClientApp]
) -> None:
    ca = make_app(hostile.url, allowed_origins=[elsewhere.url + "/"])
    page = ca.client.get(PREFIX[kind] + "/call", query_string={"path": elsewhere.url + "/upload"})
    assert page.status_code == 200
    (seen,) = elsewhere.seen
    assert seen.headers["authorization"].startswith("OAuth ")


@pytest.mark.parametrize(
    "value",
    [
        "https://up.example.com/path",
        "up.example.com",
        "ftp://up.example.com",
        "https://u:p@up.example.com",
        "https://x?q",
    ],
)
def test_allowed_origins_must_be_origins(value: str) -> None:
    app = Flask("origins")  # kept: the registry checks the settings for the apps it serves
    oauth = OAuth(app)
    with pytest.raises(ConfigurationError, match="not an origin"):
        oauth.register("demo", **hostile_settings("https://provider.example", allowed_origins=[value]))
    with pytest.raises(ConfigurationError, match="list of origins"):
        oauth.register("other", **hostile_settings("https://provider.example", allowed_origins="https://a.example"))


def test_presets_list_their_providers_other_origins() -> None:
    sent: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"stat": "ok"})

    app = Flask("presets")
    oauth = OAuth(app)
    transport = httpx.MockTransport(provider)
    for name, preset in (("flickr", providers.FLICKR), ("twitter", providers.TWITTER), ("smugmug", providers.SMUGMUG)):
        providers.register(
            oauth, name, preset, client_id="k", client_secret="s", client_kwargs={"transport": transport}
        )
    token = ("t", "ts")
    with app.test_request_context("/"):
        oauth.flickr.post_sync("https://up.flickr.com/services/upload/", token=token, data={"title": "x"})
        oauth.twitter.post_sync("https://upload.twitter.com/1.1/media/upload.json", token=token)
        oauth.smugmug.post_sync("https://upload.smugmug.com/", token=token, content=b"jpeg")
        with pytest.raises(OriginNotAllowedError):
            oauth.flickr.get_sync("https://elsewhere.example/", token=token)
    oauth.close()
    assert [r.url.host for r in sent] == ["up.flickr.com", "upload.twitter.com", "upload.smugmug.com"]
    assert all(r.headers["authorization"].startswith("OAuth ") for r in sent)


# ------------------------------------------------------------------ 5. token endpoints and redirects


def _nonce(authorization: str | None) -> str:
    fields = dict(parse_qsl((authorization or "").removeprefix("OAuth ").replace('"', "").replace(", ", "&")))
    return fields["oauth_nonce"]


@pytest.mark.parametrize("step", ["request_token", "access_token"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_same_origin_token_redirects_are_signed_anew(
    kind: str, step: str, provider_tls: FakeProvider, make_app: Callable[..., ClientApp]
) -> None:
    """A real provider checks both hops; each carries a nonce of its own."""
    fake = provider_tls
    url = fake.request_token_url if step == "request_token" else fake.access_token_url
    fake.answer_next(step, status=307, headers={"Location": url})
    settings = register_settings(fake)
    settings["client_kwargs"] = {**settings["client_kwargs"], "follow_redirects": True}
    ca = make_app(fake.url, **{**settings, "allow_plaintext_over_http": False})
    started = ca.client.get(PREFIX[kind] + "/login")
    assert started.status_code == 302, started.get_data(as_text=True)
    _, callback, _ = fake._authorize(started.headers["Location"], user="alice", deny=False, timeout=10)
    assert callback is not None
    finished = ca.client.get(PREFIX[kind] + "/callback?" + callback.partition("?")[2])
    assert finished.status_code == 200, finished.get_data(as_text=True)
    hops = fake.received(step)
    assert len(hops) == 2
    assert _nonce(hops[0].authorization) != _nonce(hops[1].authorization)
    assert hops[1].valid


@pytest.mark.parametrize("target", ["another-host", "plain-http"])
@pytest.mark.parametrize("step", ["request_token", "access_token"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_token_redirects_to_another_origin_are_refused(
    kind: str,
    step: str,
    target: str,
    provider_tls: FakeProvider,
    elsewhere: FaultServer,
    make_app: Callable[..., ClientApp],
    witness: Witness,
) -> None:
    """PLAINTEXT in the form body: a followed 307 would carry the consumer secret to the other origin."""
    fake = provider_tls
    location = elsewhere.url + "/steal" if target == "another-host" else fake.url.replace("https://", "http://") + "/x"
    fake.answer_next(step, status=307, headers={"Location": location})
    settings = register_settings(fake)
    client_kwargs = {**settings["client_kwargs"], "follow_redirects": True, "signature_type": "body"}
    ca = make_app(fake.url, **{**settings, "allow_plaintext_over_http": False, "client_kwargs": client_kwargs})
    if step == "request_token":
        with pytest.raises(RedirectRefusedError) as caught:
            ca.client.get(PREFIX[kind] + "/login")
        error = caught.value
    else:
        started = ca.client.get(PREFIX[kind] + "/login")
        assert started.status_code == 302, started.get_data(as_text=True)
        _, callback, _ = fake._authorize(started.headers["Location"], user="alice", deny=False, timeout=10)
        assert callback is not None
        with pytest.raises(RedirectRefusedError) as caught:
            ca.client.get(PREFIX[kind] + "/callback?" + callback.partition("?")[2])
        error = caught.value
    assert error.status_code == 307
    assert error.location == location
    assert elsewhere.seen == []
    witness.error(error)
    witness.assert_clean((fake.client_secret,))


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_token_redirects_are_not_followed_without_follow_redirects(
    kind: str, hostile: FaultServer, elsewhere: FaultServer, make_app: Callable[..., ClientApp]
) -> None:
    hostile.script("/request_token", Fault.redirect(elsewhere.url + "/steal", 307))
    ca = make_app(hostile.url)
    with pytest.raises(ProviderHTTPError) as caught:
        ca.client.get(PREFIX[kind] + "/login")
    assert caught.value.status_code == 307
    assert elsewhere.seen == []


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_max_redirects_bounds_every_chain(
    kind: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    for hop in range(4):
        hostile.script(f"/api/hop{hop}", Fault.redirect(f"/api/hop{hop + 1}", 302))
    ca = make_app(hostile.url, client_kwargs={"max_redirects": 2})
    page = ca.client.get(PREFIX[kind] + "/call", query_string={"path": "hop0", "follow": "1"})
    assert page.status_code == 502
    (error,) = witness.errors
    assert isinstance(error, TransportError)
    assert "more than 2 redirects" in str(error)
    assert [s.path for s in hostile.seen] == ["/api/hop0", "/api/hop1", "/api/hop2"]


def test_max_redirects_must_be_a_count() -> None:
    app = Flask("max-redirects")  # kept: the registry checks the settings for the apps it serves
    oauth = OAuth(app)
    with pytest.raises(ConfigurationError, match="max_redirects"):
        oauth.register("demo", **hostile_settings("https://provider.example", client_kwargs={"max_redirects": -1}))


# ------------------------------------------------------------------ 6. three ways to a 500


@pytest.mark.parametrize("code", [307, 308])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_form_post_answered_by_a_followed_307_resends_the_form(
    kind: str, code: int, hostile: FaultServer, make_app: Callable[..., ClientApp]
) -> None:
    hostile.script("/api/moved", Fault.redirect("/api/here", code))
    hostile.script("/api/here", Fault.ok("landed"))
    ca = make_app(hostile.url)
    page = ca.client.get(
        PREFIX[kind] + "/call", query_string={"path": "moved", "method": "POST", "form": "1", "follow": "1"}
    )
    assert page.status_code == 200, page.get_data(as_text=True)
    assert page.get_json() == {"status": 200, "text": "landed"}
    first, hop = hostile.seen
    assert hop.path == "/api/here"
    assert hop.method == "POST"
    assert dict(parse_qsl(hop.body.decode())) == {"a": "1", "b": "x y"}
    assert _nonce(first.headers["authorization"]) != _nonce(hop.headers["authorization"])


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "nul\x00byte", "non-ascii é"])
@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_bad_header_value_is_a_transport_error_on_every_backend(
    kind: str, backend: str, value: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    ca = make_app(hostile.url, client_kwargs={"async_transport": backend})
    page = ca.client.get(PREFIX[kind] + "/call", query_string={"path": "x", "header": value})
    assert page.status_code == 502, page.get_data(as_text=True)
    (error,) = witness.errors
    assert isinstance(error, TransportError)
    assert [s for s in hostile.seen if "x-injected" in s.headers] == []


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_bad_access_token_header_is_a_transport_error(
    kind: str, backend: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    ca = make_app(
        hostile.url, access_token_headers={"X-Bad": "line\r\nbreak"}, client_kwargs={"async_transport": backend}
    )
    page = ca.login(kind)
    assert page.status_code == 502, page.get_data(as_text=True)
    assert isinstance(witness.errors[-1], TransportError)
    witness.assert_clean()


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_transport_failure_gets_a_plain_502_page(
    kind: str, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    dead = closed_port_url("").rstrip("/")
    ca = make_app(dead)
    page = ca.client.get(PREFIX[kind] + "/login")
    assert page.status_code == 502
    assert page.mimetype == "text/plain"
    assert "could not be reached" in page.get_data(as_text=True)
    assert any(
        r.levelno == logging.WARNING and "provider call failed" in r.getMessage() for r in witness.caplog.records
    )
    witness.assert_clean()


def test_an_app_handler_for_a_broader_class_wins_over_the_transport_default(
    make_app: Callable[..., ClientApp],
) -> None:
    ca = make_app(closed_port_url("").rstrip("/"))

    @ca.app.errorhandler(OAuth1Error)
    def handled(exc: OAuth1Error) -> tuple[Response, int]:
        return jsonify(handled=type(exc).__name__), 599

    page = ca.client.get("/s/login")
    assert page.status_code == 599
    assert page.get_json() == {"handled": "TransportError"}


# ------------------------------------------------------------------ 7. smaller things


@pytest.mark.parametrize("field_name", ["oauth_token", "oauth_token_secret"])
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_huge_request_token_is_refused_before_it_reaches_the_cookie(
    kind: str, field_name: str, hostile: FaultServer, make_app: Callable[..., ClientApp]
) -> None:
    fields = {"oauth_token": REQUEST_TOKEN, "oauth_token_secret": REQUEST_SECRET, "oauth_callback_confirmed": "true"}
    fields[field_name] = "t" * 10_000
    hostile.script("/request_token", Fault.ok(urlencode(fields), headers=FORM))
    ca = make_app(hostile.url)
    with pytest.raises(InvalidTokenResponseError, match=f"at most {MAX_REQUEST_TOKEN}"):
        ca.client.get(PREFIX[kind] + "/login")
    with ca.client.session_transaction() as stored:
        assert "_oauth1_demo" not in stored


def test_verify_false_warns_once_per_remote() -> None:
    app = Flask("verify")
    oauth = OAuth(app)
    with pytest.warns(InsecureSettingWarning, match="verify'\\]=False") as warned:
        oauth.register("demo", **hostile_settings("https://provider.example", client_kwargs={"verify": False}))
    assert len(warned) == 1
    oauth.init_app(Flask("verify-2"))  # checked again for the new app: no second warning
    with app.app_context():
        oauth._binding("demo")  # first use: no warning either
    oauth.close()


def test_query_signatures_warn_at_registration() -> None:
    app = Flask("query")  # kept: the registry checks the settings for the apps it serves
    oauth = OAuth(app)
    with pytest.warns(InsecureSettingWarning, match="signature_type='query'.*INFO"):
        oauth.register(
            "demo", **hostile_settings("https://provider.example", client_kwargs={"signature_type": "QUERY"})
        )


def test_the_error_tree_names_the_new_errors() -> None:
    from flask_oauth1_async import errors

    for cls in (OriginNotAllowedError, ResponseTooLargeError, RedirectRefusedError):
        assert cls.__name__ in (errors.__doc__ or "")


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_good_login_still_works_with_plaintext_on_loopback(
    kind: str, hostile: FaultServer, make_app: Callable[..., ClientApp], witness: Witness
) -> None:
    """The control: the hostile server answering well gives a token, and the witness sees its traffic."""
    answer = urlencode({"oauth_token": ACCESS_TOKEN, "oauth_token_secret": ACCESS_SECRET, "screen_name": "al"})
    hostile.script("/access_token", Fault.ok(answer, headers=FORM))
    ca = make_app(hostile.url)
    page = ca.login(kind)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert page.get_json()["screen_name"] == "al"
    assert len(witness.spans.get_finished_spans()) >= 2
    witness.pages.clear()  # the page holds the token the view chose to show
    witness.assert_clean()
