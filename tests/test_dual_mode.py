"""The dual rule: plain methods block without a running loop and return a PendingCall inside one.

A ``PendingCall`` is a real coroutine: ``asyncio.create_task``,
``ensure_future``, ``gather`` and ``TaskGroup`` accept it, ``close()`` drops it
without a warning or a request, and one that is dropped without being awaited
raises ``NeverAwaitedWarning`` (a control shows the warning recorder sees it).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from flask import Flask, Response, jsonify
from werkzeug.exceptions import InternalServerError

from flask_oauth1_async import NeverAwaitedWarning, OAuth, PendingCall
from flask_oauth1_async._dual import in_event_loop
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.views import WarningRecorder, token_from_headers, token_headers

# Ways to use a PendingCall as if it were the response.
MISUSES: dict[str, Callable[[Any], Any]] = {
    "json()": lambda p: p.json(),
    "status_code": lambda p: p.status_code,
    "index": lambda p: p["user"],
    "iterate": lambda p: list(p),
    "text": lambda p: p.text,
}


def _sync_helper(oauth: OAuth) -> dict[str, Any]:
    """A plain helper a project might share between sync and async code."""
    resp = oauth.demo.get("me")
    return {
        "in_event_loop": in_event_loop(),
        "thread": threading.current_thread().name,
        "type": type(resp).__name__,
        "user": resp.json()["user"],
    }


def _routes(app: Flask, oauth: OAuth) -> None:
    @app.errorhandler(InternalServerError)
    def report_500(exc: InternalServerError) -> tuple[Response, int]:
        original = exc.original_exception
        return jsonify(type=type(original).__name__, message=str(original)), 500

    @app.route("/a/pending")
    async def a_pending() -> Response:
        pending = oauth.demo.get("me")
        kind = type(pending).__name__
        is_pending = isinstance(pending, PendingCall)
        not_response = not isinstance(pending, httpx.Response)
        resp = await pending
        return jsonify(
            kind=kind,
            is_pending=is_pending,
            not_response=not_response,
            awaited_type=type(resp).__name__,
            user=resp.json()["user"],
        )

    @app.route("/a/misuse/<name>")
    async def a_misuse(name: str) -> Response:
        pending = oauth.demo.get("me")
        try:
            MISUSES[name](pending)
        except TypeError as exc:
            return jsonify(type="TypeError", message=str(exc))
        except Exception as exc:  # pragma: no cover - reported to the test
            return jsonify(type=type(exc).__name__, message=str(exc))
        return jsonify(type=None, message="no error")  # pragma: no cover

    @app.route("/a/misuse_post")
    async def a_misuse_post() -> Response:
        pending = oauth.demo.post("echo", data={"a": "1"})
        try:
            pending.json()
        except TypeError as exc:
            return jsonify(type="TypeError", message=str(exc))
        return jsonify(type=None)  # pragma: no cover

    @app.route("/a/return_pending")
    async def a_return_pending() -> Any:
        return oauth.demo.get("me")  # a bug in the view: not awaited

    @app.route("/a/drop")
    async def a_drop() -> Response:
        oauth.demo.get("me")  # never awaited
        gc.collect()
        return jsonify(dropped=True)

    @app.route("/a/twice")
    async def a_twice() -> Response:
        pending = oauth.demo.get("me")
        first = await pending
        try:
            await pending
        except RuntimeError as exc:
            return jsonify(user=first.json()["user"], second="RuntimeError", message=str(exc))
        return jsonify(user=first.json()["user"], second=None)  # pragma: no cover

    @app.route("/a/helper")
    async def a_helper() -> Response:
        sensitive = await sync_to_async(_sync_helper, thread_sensitive=True)(oauth)
        pooled = await sync_to_async(_sync_helper, thread_sensitive=False)(oauth)
        threaded = await asyncio.to_thread(_sync_helper, oauth)
        return jsonify(
            view_thread=threading.current_thread().name,
            sensitive=sensitive,
            pooled=pooled,
            threaded=threaded,
        )

    @app.route("/a/get_sync")
    async def a_get_sync() -> Response:
        resp = oauth.demo.get_sync("me")
        posted = oauth.demo.post_sync("echo", json={"k": 1})
        return jsonify(type=type(resp).__name__, user=resp.json()["user"], echoed=posted.json()["json"])

    @app.route("/s/get_async")
    def s_get_async() -> Response:
        loop_before = in_event_loop()

        async def both() -> tuple[httpx.Response, httpx.Response]:
            return await oauth.demo.get_async("me"), await oauth.demo.get("me")

        first, second = asyncio.run(both())
        return jsonify(
            loop_before=loop_before,
            types=[type(first).__name__, type(second).__name__],
            users=[first.json()["user"], second.json()["user"]],
        )

    @app.route("/s/plain")
    def s_plain() -> Response:
        resp = oauth.demo.get("me")
        return jsonify(type=type(resp).__name__, user=resp.json()["user"])


def _serve(client_app: ClientAppFactory, provider: FakeProvider) -> ClientApp:
    return client_app(provider, _routes, fetch_token=token_from_headers)


def _headers(provider: FakeProvider, user: str = "alice") -> dict[str, str]:
    tok = provider.issue_token(user)
    return {"X-Token": tok["oauth_token"], "X-Secret": tok["oauth_token_secret"]}


def _assert_names_fix(message: str, sync_name: str) -> None:
    assert "await" in message
    assert sync_name in message


def test_plain_call_in_async_view_returns_pending_call(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    resp = http.get(ca.url + "/a/pending", headers=_headers(provider))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "kind": "PendingCall",
        "is_pending": True,
        "not_response": True,
        "awaited_type": "Response",
        "user": "alice",
    }


def test_plain_call_in_sync_view_returns_response(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    resp = http.get(ca.url + "/s/plain", headers=_headers(provider))
    assert resp.json() == {"type": "Response", "user": "alice"}


@pytest.mark.parametrize("misuse", sorted(MISUSES))
def test_using_pending_call_as_response_raises_type_error(
    misuse: str, provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    resp = http.get(ca.url + "/a/misuse/" + misuse, headers=_headers(provider))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["type"] == "TypeError"
    _assert_names_fix(body["message"], "get_sync")
    assert len(provider.received("api", "me")) == 0  # nothing was sent


def test_misuse_message_names_the_right_sync_variant(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    body = http.get(ca.url + "/a/misuse_post", headers=_headers(provider)).json()
    assert body["type"] == "TypeError"
    _assert_names_fix(body["message"], "post_sync")


def test_returning_pending_call_from_view_raises_type_error(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    resp = http.get(ca.url + "/a/return_pending", headers=_headers(provider))
    assert resp.status_code == 500
    body = resp.json()
    assert body["type"] == "TypeError"
    _assert_names_fix(body["message"], "get_sync")


def test_never_awaited_warning_in_view(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)

    def request_then_collect() -> httpx.Response:
        resp = http.get(ca.url + "/a/drop", headers=_headers(provider))
        gc.collect()
        return resp

    with pytest.warns(NeverAwaitedWarning) as record:
        resp = request_then_collect()
    assert resp.json() == {"dropped": True}
    messages = [str(w.message) for w in record if issubclass(w.category, NeverAwaitedWarning)]
    assert len(messages) == 1
    assert "never awaited" in messages[0]
    _assert_names_fix(messages[0], "get_sync")
    assert len(provider.received("api", "me")) == 0


def test_never_awaited_warning_in_test_loop(provider: FakeProvider, client_app: ClientAppFactory) -> None:
    ca = _serve(client_app, provider)
    tok = provider.issue_token("alice")

    async def drop_it() -> None:
        ca.oauth.demo.delete("echo", token=tok)

    def run_then_collect() -> None:
        with ca.app.test_request_context():
            asyncio.run(drop_it())
        gc.collect()

    with pytest.warns(NeverAwaitedWarning, match="delete_sync"):
        run_then_collect()
    assert len(provider.received("api", "echo")) == 0


def test_awaiting_twice_raises_runtime_error(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    body = http.get(ca.url + "/a/twice", headers=_headers(provider)).json()
    assert body["user"] == "alice"
    assert body["second"] == "RuntimeError"
    assert "already awaited" in body["message"]
    assert len(provider.received("api", "me")) == 1


def test_sync_helper_via_sync_to_async_gets_real_response(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    resp = http.get(ca.url + "/a/helper", headers=_headers(provider))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    for key in ("sensitive", "pooled", "threaded"):
        assert body[key]["in_event_loop"] is False
        assert body[key]["type"] == "Response"
        assert body[key]["user"] == "alice"
        assert body[key]["thread"] != body["view_thread"]


def test_get_sync_inside_async_view(provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client) -> None:
    ca = _serve(client_app, provider)
    body = http.get(ca.url + "/a/get_sync", headers=_headers(provider)).json()
    assert body == {"type": "Response", "user": "alice", "echoed": {"k": 1}}


def test_get_async_inside_sync_view_via_asyncio_run(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    resp = http.get(ca.url + "/s/get_async", headers=_headers(provider))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"loop_before": False, "types": ["Response", "Response"], "users": ["alice", "alice"]}


def test_outside_flask_views_with_test_request_context(provider: FakeProvider, client_app: ClientAppFactory) -> None:
    ca = _serve(client_app, provider)
    tok = provider.issue_token("dave")
    with ca.app.test_request_context():
        plain = ca.oauth.demo.get("me", token=tok)
        assert isinstance(plain, httpx.Response)
        assert plain.json()["user"] == "dave"
        awaited = asyncio.run(ca.oauth.demo.get_async("me", token=tok))
        assert isinstance(awaited, httpx.Response)
        assert awaited.json()["user"] == "dave"

        async def dual_in_loop() -> httpx.Response:
            pending = ca.oauth.demo.get("me", token=tok)
            assert isinstance(pending, PendingCall)
            return await pending

        assert asyncio.run(dual_in_loop()).json()["user"] == "dave"
    with ca.app.app_context():  # an app context alone is enough with token=
        assert ca.oauth.demo.get_sync("me", token=tok).json()["user"] == "dave"


# ------------------------------------------------------------------ a PendingCall is a coroutine


def _task_routes(app: Flask, oauth: OAuth) -> None:
    @app.route("/a/create_task")
    async def create_task() -> Response:
        with WarningRecorder() as recorder:
            task = asyncio.create_task(oauth.demo.get("me"))
            task_repr = repr(task)
            created = await task
            future = asyncio.ensure_future(oauth.demo.post("echo", data={"k": "v"}))
            posted = await future
            gathered = await asyncio.gather(oauth.demo.get("me"), oauth.demo.get("text"))
            discarded = oauth.demo.get("me")
            discarded.close()  # the coroutine protocol's way to drop it: no warning, nothing sent
            del discarded
            doomed = asyncio.create_task(oauth.demo.get("me"))
            doomed.cancel()  # before it ever ran
            try:
                await doomed
                doomed_state = "finished"
            except asyncio.CancelledError:
                doomed_state = "cancelled"
        return jsonify(
            task_repr_ok="PendingCall" in task_repr,
            types=[type(r).__name__ for r in (created, posted, *gathered)],
            user=created.json()["user"],
            form=posted.json()["form"],
            text=gathered[1].text,
            doomed=doomed_state,
            warnings=recorder.messages(),
        )

    @app.route("/a/task_group")
    async def task_group() -> Response:
        with WarningRecorder() as recorder:
            async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined,unused-ignore]
                me = tg.create_task(oauth.demo.get("me"))
                echo = tg.create_task(oauth.demo.post("echo", json={"n": 1}))
        return jsonify(
            types=[type(t.result()).__name__ for t in (me, echo)],
            is_response=[isinstance(t.result(), httpx.Response) for t in (me, echo)],
            user=me.result().json()["user"],
            json=echo.result().json()["json"],
            warnings=recorder.messages(),
        )

    @app.route("/a/dropped")
    async def dropped() -> Response:
        with WarningRecorder() as recorder:
            oauth.demo.get("me")  # never awaited: the recorder must see it
        return jsonify(warnings=recorder.messages())


def test_create_task_and_ensure_future_accept_pending_calls(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = client_app(provider, _task_routes, fetch_token=token_from_headers)
    resp = http.get(ca.url + "/a/create_task", headers=token_headers(provider.issue_token("alice")))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "task_repr_ok": True,
        "types": ["Response"] * 4,
        "user": "alice",
        "form": {"k": "v"},
        "text": "hello alice",
        "doomed": "cancelled",
        "warnings": [],
    }
    hits = tuple(len(provider.received("api", path)) for path in ("me", "echo", "text"))
    assert hits == (2, 1, 1)  # the cancelled task sent nothing


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in Python 3.11")
def test_task_group_accepts_pending_calls(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = client_app(provider, _task_routes, fetch_token=token_from_headers)
    resp = http.get(ca.url + "/a/task_group", headers=token_headers(provider.issue_token("bob")))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "types": ["Response", "Response"],
        "is_response": [True, True],
        "user": "bob",
        "json": {"n": 1},
        "warnings": [],
    }


def test_warning_recorder_sees_a_dropped_pending_call(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    """Control: the "no warnings" checks above would see a NeverAwaitedWarning."""
    ca = client_app(provider, _task_routes, fetch_token=token_from_headers)
    resp = http.get(ca.url + "/a/dropped", headers=token_headers(provider.issue_token("alice")))
    assert resp.status_code == 200, resp.text
    (message,) = resp.json()["warnings"]
    assert message.startswith(NeverAwaitedWarning.__name__)
    assert len(provider.received("api", "me")) == 0
