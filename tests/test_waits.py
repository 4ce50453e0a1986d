"""Nothing waits forever: each wait on another thread or loop is bounded, and ends when the other side dies.

* the background loop that cannot start fails the call at once
  (:class:`~flask_oauth1_async.TransportError`), and one that does not say it
  started within its bound fails the call then;
* a call in flight on a loop that dies fails at once (tests/reliability/test_loop_death.py);
* closing clients that live on a loop held by a thread that never runs it again
  gives up after its bound;
* the runner's greenlet loop that dies fails the view waiting on it (under gevent:
  tests/servers/test_green.py).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from flask_oauth1_async import TransportError
from flask_oauth1_async import _loop_thread as loop_thread_mod
from flask_oauth1_async._loop_thread import LoopThread
from flask_oauth1_async._loops import LoopHome


def test_a_loop_that_cannot_start_fails_the_call_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> asyncio.AbstractEventLoop:
        raise RuntimeError("Cannot run the event loop while another loop is running")

    lt = LoopThread("test-broken-start")
    monkeypatch.setattr(loop_thread_mod.asyncio, "new_event_loop", broken)
    with pytest.raises(TransportError, match="could not start: RuntimeError: Cannot run the event loop"):
        lt.get_loop()
    monkeypatch.undo()
    try:  # the next use starts a working loop: nothing was left half-started
        assert asyncio.run(lt.run(asyncio.sleep(0, result="ok"))) == "ok"
        assert lt.generation == 2
    finally:
        lt.stop()


def test_a_loop_that_never_says_it_started_fails_the_call_after_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    hold = threading.Event()
    real_new = asyncio.new_event_loop

    def stuck() -> asyncio.AbstractEventLoop:
        hold.wait(30)  # the thread is alive but never gets to run its loop
        return real_new()

    lt = LoopThread("test-stuck-start", start_timeout=0.5)
    monkeypatch.setattr(loop_thread_mod.asyncio, "new_event_loop", stuck)
    try:
        with pytest.raises(TransportError, match=r"did not start within 0\.5 s"):
            lt.get_loop()
    finally:
        hold.set()
        monkeypatch.undo()
        lt.stop()


def test_closing_clients_on_a_loop_that_is_never_run_again_gives_up_after_its_bound() -> None:
    loop = asyncio.new_event_loop()
    home = LoopHome(loop, "taken")
    taken = threading.Event()
    gone = threading.Event()

    def holder() -> None:  # takes the loop (as a request thread of the runner does), then dies holding it
        home.in_use.acquire()
        taken.set()
        gone.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert taken.wait(10)
        ran: list[Any] = []

        async def close() -> None:
            ran.append(True)

        assert home.run_blocking(close(), timeout=0.2) is None  # gave up: the loop never ran it
        assert ran == []
    finally:
        gone.set()
        thread.join(10)
        home.in_use.release()
        loop.run_until_complete(asyncio.sleep(0))  # the scheduled close runs when the loop runs again
        loop.close()
    assert ran == [True]
