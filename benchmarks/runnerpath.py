"""What the opt-in runner costs per async-view request, piece by piece (issue 19).

:class:`flask_oauth1_async.runner.AsyncRunner` runs a view in the request
thread, on a loop taken from a bank of idle loops. One request through it is:
Flask's ``ensure_sync`` (which asks the runner's ``async_to_sync`` for a
wrapper), ``AsyncRunner.run`` (checks, the per-process bank, ``take`` /
``give_back``), a task made by the runner's task factory and run with
``run_until_complete``, the ``_run_view`` wrapper (``ThreadSensitiveContext``,
the view's task set, ``copy_context``) and ``_restore`` of the context
afterwards. Each piece is timed on its own here, beside whole empty-view
requests, all interleaved:

* per request (``app.test_client()``): an empty ``def`` view, an empty async
  view with Flask's runner (asgiref) and with ``AsyncRunner``, and two
  ``def`` views that run an empty coroutine themselves, on a long-lived loop
  with ``run_until_complete`` (bare asyncio) and with ``AsyncRunner.run``:
  in a request, so the differences between these rows take the empty async
  view apart where it runs (bare asyncio, the runner's own code over it,
  Flask's handling of an ``async def`` view);
* per view call, outside Flask: ``AsyncRunner.run`` of an empty coroutine,
  asgiref's ``async_to_sync`` of it, and the bare asyncio floor
  (``run_until_complete`` on an idle long-lived loop);
* the runner's pieces (they use the runner's private names, so a piece the
  package no longer has is left out rather than failing the run).

The pieces timed alone cost less than in a request (measured: the same
``run_until_complete`` costs about twice as much inside a Flask request as in
a tight loop, with caches warm for it alone), so they show the order of each
piece, while the request rows give the in-place split.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from asgiref.sync import ThreadSensitiveContext, async_to_sync
from flask import Flask, Response

from flask_oauth1_async.runner import AsyncRunner

from .stats import Plan, Runner, Sample, interleave, set_ratios

PIECES: dict[str, str] = {
    "request-empty-sync": "request: empty def view (test_client)",
    "request-empty-async": "request: empty async view, Flask's runner (asgiref)",
    "request-empty-runner": "request: empty async view, AsyncRunner",
    "request-def-loop": "request: def view running an empty coroutine with run_until_complete on a long-lived loop",
    "request-def-runner": "request: def view running an empty coroutine with AsyncRunner.run",
    "asgiref-run": "view call: asgiref async_to_sync(empty coroutine)() (Flask's runner), outside Flask",
    "runner-run": "view call: AsyncRunner.run(empty coroutine), outside Flask (the runner's whole cost)",
    "loop-run": "bare asyncio: run_until_complete(empty coroutine) on an idle long-lived loop",
    "ensure-sync": "piece: Flask's app.ensure_sync(view) with the runner (the wrapper made per request)",
    "bank": "piece: the loop bank, take() + give_back() (runner._Bank)",
    "task": "piece: create_task with the runner's task factory + run_until_complete, empty coroutine",
    "run-view": "piece: the _run_view wrapper of an empty coroutine, awaited on a running loop",
    "tsc": "piece: async with ThreadSensitiveContext(): pass, on a running loop",
    "context": "piece: contextvars.copy_context() + runner._restore() in a request context",
}


def _timed(fn: Callable[[], Any]) -> Runner:
    def run(n: int) -> list[int]:
        out = [0] * n
        for i in range(n):
            t0 = perf_counter_ns()
            fn()
            out[i] = perf_counter_ns() - t0
        return out

    return run


def _timed_on_loop(loop: asyncio.AbstractEventLoop, make: Callable[[], Any]) -> Runner:
    """Time ``await make()`` *n* times inside one coroutine on *loop* (the loop entry is not timed)."""

    async def batch(n: int) -> list[int]:
        out = [0] * n
        for i in range(n):
            t0 = perf_counter_ns()
            await make()
            out[i] = perf_counter_ns() - t0
        return out

    return lambda n: loop.run_until_complete(batch(n))


def measure(plan: Plan) -> dict[str, Sample]:
    """Time every piece of :data:`PIECES` that this version of the package has."""
    from flask_oauth1_async import runner as runner_module

    plain, with_runner = Flask("bench_runnerpath"), Flask("bench_runnerpath_runner")
    runner = AsyncRunner(with_runner)
    bare = AsyncRunner()  # not on an app: AsyncRunner.run outside Flask
    loop = asyncio.new_event_loop()

    async def noop() -> None:
        return None

    async def empty() -> Response:
        return Response("ok")

    for app in (plain, with_runner):

        @app.get("/sync")
        def empty_sync() -> Response:
            return Response("ok")

        @app.get("/async")
        async def empty_async() -> Response:
            return Response("ok")

        @app.get("/def-loop")
        def def_loop() -> Response:
            return loop.run_until_complete(empty())

        @app.get("/def-runner")
        def def_runner() -> Response:
            return bare.run(empty)

    runners: dict[str, Runner] = {}
    plain_client, runner_client = plain.test_client(), with_runner.test_client()

    def request(client: Any, path: str) -> Callable[[], Any]:
        def go() -> None:
            if client.get(path).status_code != 200:
                raise RuntimeError(f"{path} failed")

        return go

    runners["request-empty-sync"] = _timed(request(plain_client, "/sync"))
    runners["request-empty-async"] = _timed(request(plain_client, "/async"))
    runners["request-empty-runner"] = _timed(request(runner_client, "/async"))
    runners["request-def-loop"] = _timed(request(plain_client, "/def-loop"))
    runners["request-def-runner"] = _timed(request(plain_client, "/def-runner"))
    runners["asgiref-run"] = _timed(lambda: async_to_sync(noop)())
    runners["runner-run"] = _timed(lambda: bare.run(noop))
    runners["loop-run"] = _timed(lambda: loop.run_until_complete(noop()))

    def ensure_sync() -> None:
        with_runner.ensure_sync(noop)

    runners["ensure-sync"] = _timed(ensure_sync)

    bank_type = getattr(runner_module, "_Bank", None)
    if bank_type is not None:
        bank = bank_type(4)

        def take_give_back() -> None:
            bank.give_back(bank.take())

        runners["bank"] = _timed(take_give_back)
    factory = getattr(runner_module, "_task_factory", None)
    run_view, outcome_type = getattr(runner_module, "_run_view", None), getattr(runner_module, "_Outcome", None)
    restore = getattr(runner_module, "_restore", None)
    task_loop = asyncio.new_event_loop()
    if factory is not None:
        task_loop.set_task_factory(factory)

        def task() -> None:
            task_loop.run_until_complete(task_loop.create_task(noop()))

        runners["task"] = _timed(task)
    if run_view is not None and outcome_type is not None:
        runners["run-view"] = _timed_on_loop(loop, lambda: run_view(noop, outcome_type(), 5.0))

    async def tsc() -> None:
        async with ThreadSensitiveContext():
            pass

    runners["tsc"] = _timed_on_loop(loop, tsc)
    if restore is not None:

        def context() -> None:
            restore(contextvars.copy_context())

        def in_request(n: int) -> list[int]:
            with plain.test_request_context("/"):
                return _timed(context)(n)

        runners["context"] = in_request

    labels = {key: PIECES[key] for key in runners}
    try:
        samples = interleave(runners, dict.fromkeys(runners, plan), labels)
    finally:
        runner.close()
        bare.close()
        if bank_type is not None:
            bank.close()
        loop.close()
        task_loop.close()
    refs: dict[str, str | None] = dict.fromkeys(samples, None)
    for key in ("request-empty-async", "request-empty-runner", "request-def-loop", "request-def-runner"):
        refs[key] = "request-empty-sync"
    set_ratios(samples, refs)
    return samples


# ------------------------------------------------- httpx's transport and sniffio

SNIFFIO: dict[str, str] = {
    "raw": "raw AsyncClient on the runner's loop (sniffio not importable: as installed)",
    "raw-stub": "the same, with a stand-in sniffio module in sys.modules",
    "ours": "ours, awaited in a view run by AsyncRunner (sniffio not importable: as installed)",
    "ours-stub": "the same, with a stand-in sniffio module in sys.modules",
    "failed-import": "one failed `import sniffio` (what httpcore pays per async lock setup without it)",
    "req-sync": "request: ours in a def view (ours-sync), as in shape (b)",
    "req-runner": "request: ours in an async view, AsyncRunner, httpx transport (sniffio not importable)",
    "req-runner-stub": "request: the same, with the stand-in sniffio module",
}


class _Counting:
    """Counts the calls of httpcore's ``current_async_library`` while it is installed."""

    def __init__(self) -> None:
        import httpcore._synchronization as sync

        self.module, self.original, self.calls = sync, sync.current_async_library, 0

    def __enter__(self) -> _Counting:
        def counted() -> str:
            self.calls += 1
            result: str = self.original()
            return result

        self.module.current_async_library = counted
        return self

    def __exit__(self, *exc: object) -> None:
        self.module.current_async_library = self.original


def sniffio_effect(clients: Any, scheme: str, plan: Plan) -> dict[str, Sample] | str:
    """httpx's async transport with and without a ``sniffio`` module to import (httpcore 1.0).

    httpcore's ``current_async_library()`` runs ``import sniffio`` on every
    async lock, semaphore and event setup; anyio no longer depends on sniffio,
    so it may be missing, and then every one of those imports fails after a
    search of ``sys.path``. The stand-in module answers ``"asyncio"``, as sniffio
    does on an asyncio loop; it is in ``sys.modules`` only during its own
    batches. Calls per awaited call are counted once, outside the timed runs.
    """
    import sys
    import types
    from importlib.util import find_spec

    if find_spec("sniffio") is not None:
        return "skipped: sniffio is installed here, so httpcore's import of it succeeds"
    try:
        import httpcore._synchronization  # noqa: F401 - the function counted below
    except ImportError as exc:  # pragma: no cover - another httpcore
        return f"skipped: {exc}"
    from .flavours import TOKEN

    stub = types.ModuleType("sniffio")
    stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
    app, remote, url = clients.runner_app, getattr(clients.oauth, f"up_{scheme}"), clients.url(scheme)

    async def view(kind: str, n: int) -> list[int]:
        raw = clients.raw_on_running_loop(False)
        out = [0] * n
        for i in range(n):
            t0 = perf_counter_ns()
            if kind.startswith("raw"):
                response = await raw.get(url, auth=clients.auth)
            else:
                response = await remote.get(url, token=TOKEN)
            out[i] = perf_counter_ns() - t0
            if response.status_code != 200:
                raise RuntimeError(f"sniffio run: HTTP {response.status_code}")
        return out

    def runner(kind: str) -> Runner:
        def run(n: int) -> list[int]:
            if kind.endswith("stub"):
                sys.modules["sniffio"] = stub
            try:
                with app.test_request_context("/sniffio"):
                    result: list[int] = app.ensure_sync(view)(kind, n)
            finally:
                if sys.modules.get("sniffio") is stub:
                    del sys.modules["sniffio"]
            return result

        return run

    def failed_import() -> None:
        try:  # noqa: SIM105 - written as httpcore writes it
            import sniffio  # noqa: F401
        except ImportError:
            pass

    def request(kind: str) -> Runner:
        client = (clients.app if kind == "req-sync" else app).test_client()
        path = clients.view_path("ours-sync" if kind == "req-sync" else "ours-async-runner", scheme)

        def run(n: int) -> list[int]:
            if kind.endswith("stub"):
                sys.modules["sniffio"] = stub
            out = [0] * n
            try:
                for i in range(n):
                    t0 = perf_counter_ns()
                    status = client.get(path).status_code
                    out[i] = perf_counter_ns() - t0
                    if status != 200:
                        raise RuntimeError(f"sniffio run: {path} answered {status}")
            finally:
                if sys.modules.get("sniffio") is stub:
                    del sys.modules["sniffio"]
            return out

        return run

    runners = {kind: runner(kind) for kind in ("raw", "raw-stub", "ours", "ours-stub")}
    runners["failed-import"] = _timed(failed_import)
    runners.update({kind: request(kind) for kind in ("req-sync", "req-runner", "req-runner-stub")})
    samples = interleave(runners, dict.fromkeys(runners, plan), SNIFFIO)
    for kind in ("raw", "ours"):
        with _Counting() as counting:
            runner(kind)(10)
        samples[kind].extra["imports_per_call"] = counting.calls / 10
    refs: dict[str, str | None] = {"raw": None, "raw-stub": "raw", "ours": None, "ours-stub": "ours"}
    refs.update({"failed-import": None, "req-sync": None, "req-runner": "req-sync", "req-runner-stub": "req-sync"})
    set_ratios(samples, refs)
    return samples
