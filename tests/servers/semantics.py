"""Routes of the matrix app that show what an async view sees when it runs (the runner's semantics).

Installed by :mod:`tests.servers.app` for the library client; checked by
tests/servers/test_semantics.py against the package's runner and, as the
reference, against Flask's own ``async_to_sync``. Every route exists as a
``def`` view and as an ``async def`` view where the point applies to both.

``/sem/context/<kind>``    what the view, a task it starts (async) and a thread given
                           ``copy_current_request_context`` see of ``request``,
                           ``session``, ``g``, ``current_app`` and a context variable;
                           a context variable set by the view is read back by
                           ``after_request`` (header ``X-Sem-After``)
``/sem/session/set``       puts ``sem=session-value`` in the session
``/sem/pending/start``     an async view that starts a task and returns while it waits
``/sem/pending/status``    whether that task was cancelled (by its token; per process)
``/sem/error/<kind>``      raises :class:`SemError`; the handler answers its type and frames
``/sem/block/async``       an async view that blocks its thread (``time.sleep``) until
                           ``/sem/release`` is called or 5 s pass
``/sem/ping/<kind>``       a view that answers at once
``/sem/ts/async``          two ``sync_to_async(thread_sensitive=True)`` calls; each waits
                           (at most 3 s) until another request's call is in flight too
``/sem/where``             where an awaited call of this view keeps its client: the kind of
                           the running loop's home, or the background loop
``/sem/stats``             the runner's loops in this process
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import secrets
import threading
import time
import traceback
from typing import Any

from asgiref.sync import sync_to_async
from flask import Flask, current_app, g, request, session
from flask import copy_current_request_context as copy_context_of_request

__all__ = ["SemError", "install"]

BEFORE = contextvars.ContextVar("sem_before", default="unset")
FROM_VIEW = contextvars.ContextVar("sem_from_view", default="unset")

#: Tokens of the tasks a view left pending that were cancelled (this process).
_CANCELLED: set[str] = set()
_RELEASE = threading.Event()
_ts_lock = threading.Lock()
_ts_cond = threading.Condition(_ts_lock)
_ts_state = {"in_flight": 0, "max": 0}


class SemError(Exception):
    """Raised by the error routes."""


def _seen(where: str) -> dict[str, Any]:
    return {
        "where": where,
        "q": request.args.get("q"),
        "session": session.get("sem"),
        "g": getattr(g, "sem", None),
        "app": current_app.name,
        "before": BEFORE.get(),
    }


def _hold_thread_sensitive() -> int:
    """Count this call in flight; wait (bounded) until another request's call is in flight too."""
    with _ts_cond:
        _ts_state["in_flight"] += 1
        _ts_state["max"] = max(_ts_state["max"], _ts_state["in_flight"])
        _ts_cond.notify_all()
        _ts_cond.wait_for(lambda: _ts_state["in_flight"] >= 2, timeout=3.0)
        _ts_state["max"] = max(_ts_state["max"], _ts_state["in_flight"])
    time.sleep(0.05)
    with _ts_cond:
        _ts_state["in_flight"] -= 1
    return threading.get_ident()


def install(app: Flask) -> None:
    """Add the ``/sem/...`` routes to *app*."""

    @app.before_request
    def sem_before() -> None:
        BEFORE.set("set-before")
        g.sem = "g-value"

    @app.after_request
    def sem_after(response: Any) -> Any:
        response.headers["X-Sem-After"] = FROM_VIEW.get()
        return response

    @app.errorhandler(SemError)
    def sem_error(error: SemError) -> Any:
        frames = [frame.name for frame in traceback.extract_tb(error.__traceback__)]
        return {"type": type(error).__name__, "message": str(error), "frames": frames}, 500

    @app.get("/sem/session/set")
    def sem_session_set() -> Any:
        session["sem"] = "session-value"
        return {"ok": True}

    @app.get("/sem/context/def")
    def sem_context_def() -> Any:
        FROM_VIEW.set("def-view")
        box: list[dict[str, Any]] = []
        thread = threading.Thread(target=copy_context_of_request(lambda: box.append(_seen("thread"))))
        thread.start()
        thread.join(5.0)
        return {"view": _seen("view"), "thread": box[0] if box else None}

    @app.get("/sem/context/async")
    async def sem_context_async() -> Any:
        FROM_VIEW.set("async-view")

        async def in_task() -> dict[str, Any]:
            await asyncio.sleep(0)
            return _seen("task")

        task = await asyncio.create_task(in_task())
        thread = await asyncio.to_thread(copy_context_of_request(lambda: _seen("thread")))
        return {"view": _seen("view"), "task": task, "thread": thread}

    @app.get("/sem/pending/start")
    async def sem_pending_start() -> Any:
        token = secrets.token_hex(8)
        started = asyncio.Event()

        async def waiter() -> None:
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                _CANCELLED.add(token)
                raise

        asyncio.create_task(waiter())  # noqa: RUF006 - left pending on purpose
        await started.wait()
        return {"token": token, "pid": os.getpid()}

    @app.get("/sem/pending/status")
    def sem_pending_status() -> Any:
        return {"cancelled": request.args["token"] in _CANCELLED, "pid": os.getpid()}

    @app.get("/sem/error/def")
    def sem_error_def() -> Any:
        raise SemError("from a def view")

    @app.get("/sem/error/async")
    async def sem_error_async() -> Any:
        await asyncio.sleep(0)
        raise SemError("from an async view")

    @app.get("/sem/block/async")
    async def sem_block_async() -> Any:
        _RELEASE.clear()
        released = _RELEASE.wait(5.0)  # blocks this thread, and its event loop
        return {"released": released, "pid": os.getpid()}

    @app.get("/sem/release")
    def sem_release() -> Any:
        _RELEASE.set()
        return {"pid": os.getpid()}

    @app.get("/sem/ping/def")
    def sem_ping_def() -> Any:
        return {"pid": os.getpid()}

    @app.get("/sem/ping/async")
    async def sem_ping_async() -> Any:
        await asyncio.sleep(0)
        return {"pid": os.getpid()}

    @app.get("/sem/ts/async")
    async def sem_ts_async() -> Any:
        first = await sync_to_async(_hold_thread_sensitive, thread_sensitive=True)()
        second = await sync_to_async(_hold_thread_sensitive, thread_sensitive=True)()
        return {"idents": [first, second], "max_in_flight": _ts_state["max"], "pid": os.getpid()}

    @app.get("/sem/where")
    async def sem_where() -> Any:
        from flask_oauth1_async._loops import home_of_running_loop

        home = await home_of_running_loop()
        return {"home": home.kind if home is not None else "background loop (hop)", "pid": os.getpid()}

    @app.get("/sem/stats")
    def sem_stats() -> Any:
        runner = app.extensions.get("flask_oauth1_async.runner")
        bank = runner._bank.peek() if runner is not None else None
        return {"loops": len(bank.homes) if bank is not None else 0, "pid": os.getpid()}
