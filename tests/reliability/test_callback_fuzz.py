"""Fuzzed OAuth callbacks against a quickstart-style app: never a 500, never a secret.

The app is what the README's quick start gives: ``oauth = OAuth(app)``, one
``register``, a login view and a callback view (``def`` and ``async def``)
that call ``authorize_access_token()`` with no error handler of their own, so
only the handler the library installs stands between a bad callback and a
500. The provider is the fake provider users get
(:class:`flask_oauth1_async.testing.FakeProvider`, oauthlib's endpoints) on
127.0.0.1; the client app is driven with Flask's test client.

Each generated example starts a real login (request token, consent at the
provider, which gives a genuine ``oauth_token`` and ``oauth_verifier``), then
sends one generated callback: ``oauth_token`` and ``oauth_verifier`` each
genuine, missing, repeated, empty, 100 KB, unicode, with NUL, percent garbage
or simply wrong; ``denied`` / ``oauth_problem`` / ``error`` variants; the
session cookie genuine, missing, tampered, truncated or garbage; and
sometimes the same callback twice. A genuine token with a wrong verifier makes
the provider refuse the access-token exchange.

Checked for every answer: status is not 500 (nor any 5xx); no secret
(consumer secret, request-token secret, access-token secret, verifier) in the
body, in any header, or in any log record captured at DEBUG on the root
logger (records emitted on the provider's own server threads are the
provider's business and are left out).

Hypothesis runs 500 examples, derandomised and without an example database,
so every run generates the same callbacks. Today this test FAILS: a genuine
``oauth_token`` with a wrong verifier gives 500 (issue 10, item 1).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from flask import Flask, jsonify, url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_oauth1_async import OAuth
from flask_oauth1_async.testing import FakeProvider

EXAMPLES = 500
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROVIDER_THREADS = "fake-oauth1-provider"  # the fake provider's server threads


@dataclass
class Rig:
    app: Flask
    oauth: OAuth
    provider: FakeProvider
    consent: httpx.Client

    def access_secrets(self) -> list[str]:
        """The secret of every access token the provider issued so far."""
        return [self.provider.token_secret(token) or "" for token in self.provider.access_tokens()]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with FakeProvider(tls=False) as provider:
        app = Flask("quickstart")
        app.secret_key = "fuzz-secret-key"
        oauth = OAuth(app)
        oauth.register("demo", **{k: v for k, v in provider.register_kwargs().items() if k != "client_kwargs"})

        @app.route("/s/login")
        def s_login() -> Any:
            return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

        @app.route("/s/callback")
        def s_callback() -> Any:
            token = oauth.demo.authorize_access_token()
            return jsonify(screen_name=token["screen_name"])

        @app.route("/a/callback")
        async def a_callback() -> Any:
            token = await oauth.demo.authorize_access_token()
            return jsonify(screen_name=token["screen_name"])

        with httpx.Client(trust_env=False, timeout=10) as consent:
            yield Rig(app, oauth, provider, consent)
        oauth.close()


# ------------------------------------------------------------------ strategies

_unicode = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
_with_nul = st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=10), st.text(max_size=10))
_percent_garbage = st.lists(
    st.sampled_from(["%", "%z", "%zz", "%0", "%00", "%E9", "%C3", "%FF%FE", "%%", "%25", "%u00e9", "a", "+", "&", "="]),
    min_size=1,
    max_size=12,
).map("".join)
_huge = st.sampled_from(["A", "é", "%"]).map(lambda c: c * (100 * 1024 // len(c.encode())))

# A value spec is (kind, payload): "genuine" uses the login's real value,
# "raw" goes into the query string as is (percent garbage), "text" is encoded.
_value = st.one_of(
    st.just(("genuine", "")),
    st.just(("missing", "")),
    st.just(("text", "")),
    st.tuples(st.just("text"), _unicode),
    st.tuples(st.just("text"), _with_nul),
    st.tuples(st.just("raw"), _percent_garbage),
    st.tuples(st.just("text"), _huge),
    st.tuples(st.just("text"), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=30)),
)
_field = st.one_of(
    _value.map(lambda v: [v]),
    st.lists(_value, min_size=2, max_size=3),  # repeated parameter
)
_denial = st.sampled_from(
    [
        None,
        ("denied", ("genuine", "")),
        ("denied", ("text", "")),
        ("denied", ("text", "someone-elses-token")),
        ("oauth_problem", ("text", "user_refused")),
        ("oauth_problem", ("text", "permission_denied")),
        ("error", ("text", "access_denied")),
        ("oauth_problem", ("text", "token_rejected")),
    ]
)
_session = st.sampled_from(["genuine", "genuine", "genuine", "missing", "tampered", "truncated", "garbage"])


@dataclass(frozen=True)
class Callback:
    token: list[tuple[str, str]]
    verifier: list[tuple[str, str]]
    denial: tuple[str, tuple[str, str]] | None
    session: str
    view: str
    twice: bool


_callbacks = st.builds(
    Callback,
    token=_field,
    verifier=_field,
    denial=_denial,
    session=_session,
    view=st.sampled_from(["/s/callback", "/a/callback"]),
    twice=st.booleans(),
)
# Make sure the interesting core case is generated often: a genuine token with a wrong verifier.
_wrong_verifier = st.builds(
    Callback,
    token=st.just([("genuine", "")]),
    verifier=_field.filter(lambda f: all(kind != "genuine" and kind != "missing" for kind, _ in f)),
    denial=st.just(None),
    session=st.just("genuine"),
    view=st.sampled_from(["/s/callback", "/a/callback"]),
    twice=st.booleans(),
)
# And genuine callbacks (sometimes replayed, sometimes with a broken cookie).
_genuine = st.builds(
    Callback,
    token=st.just([("genuine", "")]),
    verifier=st.just([("genuine", "")]),
    denial=st.just(None),
    session=_session,
    view=st.sampled_from(["/s/callback", "/a/callback"]),
    twice=st.booleans(),
)
CALLBACKS = st.one_of(_callbacks, _callbacks, _wrong_verifier, _genuine)


# ------------------------------------------------------------------ helpers


def _encode(key: str, spec: tuple[str, str], genuine: str) -> str | None:
    kind, payload = spec
    if kind == "missing":
        return None
    if kind == "genuine":
        return f"{key}={quote(genuine, safe='')}"
    if kind == "raw":
        return f"{key}={payload}"
    return f"{key}={quote(payload, safe='')}"


def _query(case: Callback, oauth_token: str, verifier: str) -> str:
    parts: list[str | None] = [_encode("oauth_token", spec, oauth_token) for spec in case.token]
    parts += [_encode("oauth_verifier", spec, verifier) for spec in case.verifier]
    if case.denial is not None:
        key, spec = case.denial
        parts.append(_encode(key, spec, oauth_token))
    return "&".join(p for p in parts if p is not None)


def _get_session_cookie(client: Any) -> str | None:
    """The test client's session cookie value (Werkzeug 2.3 has get_cookie; older ones a cookie_jar)."""
    getter = getattr(client, "get_cookie", None)
    if getter is not None:
        found = getter("session")
        return None if found is None else str(found.value)
    for cookie in client.cookie_jar:
        if cookie.name == "session":
            return str(cookie.value)
    return None


def _set_session_cookie(client: Any, value: str) -> None:
    if hasattr(client, "get_cookie"):  # Werkzeug >= 2.3: set_cookie(key, value, domain=...)
        client.set_cookie("session", value, domain="localhost")
    else:  # Werkzeug 2.0-2.2: set_cookie(server_name, key, value)
        client.set_cookie("localhost", "session", value)


def _session_cookie(kind: str, genuine: str) -> str | None:
    if kind == "missing":
        return None
    if kind == "genuine":
        return genuine
    if kind == "truncated":
        return genuine[: len(genuine) // 2]
    if kind == "tampered":
        middle = len(genuine) // 2
        flipped = "A" if genuine[middle] != "A" else "B"
        return genuine[:middle] + flipped + genuine[middle + 1 :]
    return "not-a-session-cookie.at-all"


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s and s in text]


def _format(record: logging.LogRecord) -> str:
    return logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)


def _check_records(records: list[logging.LogRecord], secrets: list[str], stats: Counter[str], what: str) -> None:
    for record in records:
        if record.threadName.startswith(PROVIDER_THREADS):
            continue
        stats["log_records"] += 1
        leaked = _leaks(_format(record), secrets)
        assert not leaked, f"secret in log record {record.name!r} ({_format(record)[:200]!r}) for {what}"


# ------------------------------------------------------------------ the test


def test_fuzzed_callbacks_never_500_and_never_leak(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    stats: Counter[str] = Counter()
    caplog.set_level(logging.DEBUG)  # root logger

    @FUZZ
    @given(case=CALLBACKS)
    def run(case: Callback) -> None:
        caplog.clear()
        browser = rig.app.test_client()
        started = browser.get("/s/login")
        assert started.status_code == 302, started.get_data(as_text=True)
        authorize_url = started.headers["Location"]
        oauth_token = dict(parse_qsl(urlsplit(authorize_url).query))["oauth_token"]
        request_secret = rig.provider.token_secret(oauth_token)
        assert request_secret is not None
        consumer_secret = rig.provider.client_secret
        _check_records(caplog.records, [consumer_secret, request_secret], stats, "the login")
        # The consent step is the test playing the user; its own HTTP client's logs are not the library's.
        consent = rig.consent.get(authorize_url + "&user=alice")
        assert consent.status_code == 302, consent.text
        verifier = dict(parse_qsl(urlsplit(consent.headers["Location"]).query))["oauth_verifier"]
        cookie = _get_session_cookie(browser)
        assert cookie is not None
        secrets = [consumer_secret, request_secret, verifier]

        caplog.clear()
        caller = rig.app.test_client()
        value = _session_cookie(case.session, cookie)
        if value is not None:
            _set_session_cookie(caller, value)
        query = _query(case, oauth_token, verifier)
        answers = [caller.get(case.view, query_string=query)]
        if case.twice:
            answers.append(caller.get(case.view, query_string=query))

        secrets += rig.access_secrets()  # every access-token secret issued so far
        for answer in answers:
            stats["callbacks"] += 1
            stats[f"status_{answer.status_code}"] += 1
            body = answer.get_data(as_text=True)
            assert answer.status_code < 500, f"HTTP {answer.status_code} for {case!r}: {body[:300]!r}"
            assert not _leaks(body, secrets), f"secret in the body for {case!r}"
            headers = "\n".join(f"{k}: {v}" for k, v in answer.headers.items())
            assert not _leaks(headers, secrets), f"secret in a header for {case!r}"
        if case.twice and answers[0].status_code == 200:
            assert answers[1].status_code == 400, "a callback was accepted twice"
        _check_records(caplog.records, secrets, stats, repr(case))
        stats["examples"] += 1

    run()
    print(f"\ncallback fuzz: {dict(sorted(stats.items()))}")
    assert stats["examples"] >= EXAMPLES
    assert stats["status_200"] > 0  # genuine callbacks were among them, and they worked
    assert not any(k.startswith("status_5") for k in stats)
