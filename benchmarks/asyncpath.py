"""What one awaited call in an async view costs, piece by piece (item 2 of issue 11).

Two measurements, both interleaved like every other comparison:

* **in one async view** (``app.ensure_sync``, one request per batch): the
  bridge to the background loop with nothing to do (``loop_thread.run`` of an
  empty coroutine), the thread-sensitive hop a plain ``def fetch_token``
  takes (``sync_to_async(thread_sensitive=True)``, which Flask's runner
  serves on the request thread), the same function through
  ``asyncio.to_thread`` (not thread-sensitive: for scale only), an ``async
  def`` function awaited directly, building and signing a request without
  sending it, and our whole call with an explicit token (httpx and aiohttp
  transports);
* **one call per request** (``app.test_client()``): an empty async view, and
  one call per async view with the token given explicitly, from a plain
  ``def fetch_token``, and from an ``async def fetch_token`` (the token is
  looked up once per request, so the differences are the hop per request).
"""

from __future__ import annotations

import asyncio
from time import perf_counter_ns
from typing import Any

from asgiref.sync import sync_to_async
from flask import Response

from flask_oauth1_async._loop_thread import loop_thread

from .flavours import CLIENT_ID, CLIENT_SECRET, FAST, TOKEN, Clients
from .stats import Plan, Runner, Sample, interleave, set_ratios

IN_VIEW: dict[str, str] = {
    "bridge-noop": "bridge to the background loop, empty coroutine (loop_thread.run)",
    "hop-thread-sensitive": "plain function via sync_to_async(thread_sensitive=True) (a def fetch_token's hop)",
    "hop-to-thread": "plain function via asyncio.to_thread (not thread-sensitive; scale only)",
    "hop-async": "async def function awaited directly (an async def fetch_token)",
    "build-sign": "build + sign one request, no send (client.build_request + our signer)",
    "ours-async": "ours, whole awaited call, token= given (httpx transport)",
    "ours-async-fast": "ours, whole awaited call, token= given (aiohttp transport)",
}

PER_REQUEST: dict[str, str] = {
    "empty-async": "empty async view",
    "hop-only": "async view doing only the thread-sensitive hop (no call)",
    "explicit": "async view, one call, token= given",
    "fetch-sync": "async view, one call, token from a plain def fetch_token",
    "fetch-async": "async view, one call, token from an async def fetch_token",
    "explicit-fast": "async view, one call, token= given, aiohttp transport",
    "fetch-sync-fast": "async view, one call, def fetch_token, aiohttp transport",
}


def _fetch_sync() -> dict[str, str]:
    return TOKEN


async def _fetch_async() -> dict[str, str]:
    return TOKEN


def register_remotes(clients: Clients) -> None:
    """Remotes with a ``fetch_token`` of each kind (called before the app serves requests)."""
    for scheme in ("http", "https"):
        origins = [clients.base_urls[scheme]]  # the calls are signed for the upstream's absolute URLs
        common = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "allowed_origins": origins}
        clients.oauth.register(f"up_{scheme}_fetch_sync", fetch_token=_fetch_sync, **common)
        clients.oauth.register(f"up_{scheme}_fetch_async", fetch_token=_fetch_async, **common)
        clients.oauth.register(f"up_{scheme}_fetch_sync_fast", fetch_token=_fetch_sync, client_kwargs=FAST, **common)


def add_views(clients: Clients) -> None:
    app = clients.app

    def ok() -> Response:
        return Response("200", mimetype="text/plain")

    @app.get("/p/<scheme>/hop-only")
    async def hop_only(scheme: str) -> Response:
        await sync_to_async(_fetch_sync, thread_sensitive=True)()
        return ok()

    remotes = {
        "explicit": ("up_{}", True),
        "fetch-sync": ("up_{}_fetch_sync", False),
        "fetch-async": ("up_{}_fetch_async", False),
        "explicit-fast": ("up_{}_fast", True),
        "fetch-sync-fast": ("up_{}_fetch_sync_fast", False),
    }

    @app.get("/p/<scheme>/<key>")
    async def one_call(scheme: str, key: str) -> Response:
        name, explicit = remotes[key]
        remote = getattr(clients.oauth, name.format(scheme))
        url = clients.url(scheme)
        response = await (remote.get(url, token=TOKEN) if explicit else remote.get(url))
        return Response(str(response.status_code), status=response.status_code, mimetype="text/plain")


def in_one_view(clients: Clients, scheme: str, plan: Plan) -> dict[str, Sample]:
    app = clients.app
    url = clients.url(scheme)
    ours = getattr(clients.oauth, f"up_{scheme}")
    fast = getattr(clients.oauth, f"up_{scheme}_fast")

    async def noop() -> None:
        return None

    with app.app_context():
        binding = clients.oauth._binding(f"up_{scheme}")
        signer = binding.signer

    async def step(key: str) -> Any:
        if key == "bridge-noop":
            return await loop_thread.run(noop())
        if key == "hop-thread-sensitive":
            return await sync_to_async(_fetch_sync, thread_sensitive=True)()
        if key == "hop-to-thread":
            return await asyncio.to_thread(_fetch_sync)
        if key == "hop-async":
            return await _fetch_async()
        if key == "build-sign":
            request = binding.pool.async_client(loop_thread.home()).build_request("GET", url)
            return signer.sign(request, token=TOKEN["oauth_token"], token_secret=TOKEN["oauth_token_secret"])
        if key == "ours-async":
            return await ours.get(url, token=TOKEN)
        return await fast.get(url, token=TOKEN)

    def runner(key: str) -> Runner:
        async def view(n: int) -> list[int]:
            out = [0] * n
            for i in range(n):
                t0 = perf_counter_ns()
                await step(key)
                out[i] = perf_counter_ns() - t0
            return out

        def run(n: int) -> list[int]:
            with app.test_request_context("/asyncpath"):
                result: list[int] = app.ensure_sync(view)(n)
            return result

        return run

    samples = interleave({k: runner(k) for k in IN_VIEW}, dict.fromkeys(IN_VIEW, plan), IN_VIEW)
    set_ratios(samples, {k: (None if k == "ours-async" else "ours-async") for k in IN_VIEW})
    return samples


def per_request(clients: Clients, scheme: str, plan: Plan) -> dict[str, Sample]:
    client = clients.app.test_client()

    def runner(key: str) -> Runner:
        path = "/b/empty-async" if key == "empty-async" else f"/p/{scheme}/{key}"

        def run(n: int) -> list[int]:
            out = [0] * n
            for i in range(n):
                t0 = perf_counter_ns()
                response = client.get(path)
                out[i] = perf_counter_ns() - t0
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}")
            return out

        return run

    samples = interleave({k: runner(k) for k in PER_REQUEST}, dict.fromkeys(PER_REQUEST, plan), PER_REQUEST)
    refs: dict[str, str | None] = {"empty-async": None, "hop-only": "empty-async", "explicit": None}
    refs.update({"fetch-sync": "explicit", "fetch-async": "explicit", "explicit-fast": "explicit"})
    refs["fetch-sync-fast"] = "explicit-fast"
    set_ratios(samples, refs)
    return samples
