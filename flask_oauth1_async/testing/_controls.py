"""What a test scripts on the fake provider, and what the provider records.

:class:`Script` holds the scripted behaviour (decisions, canned answers,
latency, API routes, the clock, the ``oauth_callback_confirmed`` field) and
the :class:`ProviderCall` records, all behind one lock: the provider's
request threads read it while the test thread writes it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENDPOINTS", "Answer", "ProviderCall", "Route", "Script", "check_endpoint"]

#: The endpoint names (re-exported, and documented, by ``provider``).
ENDPOINTS = ("request_token", "authorize", "access_token", "api")

FORM = "application/x-www-form-urlencoded"


def check_endpoint(endpoint: str) -> None:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; choose one of {', '.join(ENDPOINTS)}")


@dataclass(frozen=True)
class ProviderCall:
    """One request that reached the fake provider.

    ``signed`` says whether it carried an OAuth signature at all (in the
    ``Authorization`` header, the query or a form body); ``valid`` whether
    oauthlib accepted that signature, nonce, timestamp and token. ``token`` is
    the ``oauth_token`` it was sent with (None for unsigned or consumer-only
    calls) and ``user`` the test user that token belongs to.
    """

    endpoint: str
    method: str
    #: The path below the API base (``"account/verify_credentials.json"``) for API
    #: calls, the URL path for the others.
    path: str
    #: The query parameters, in order, OAuth parameters included.
    query: tuple[tuple[str, str], ...]
    signed: bool
    valid: bool
    token: str | None
    user: str | None
    status: int
    signature_method: str | None = None
    body: str = ""
    content_type: str | None = None
    #: The ``oauth_consumer_key`` the request was signed with, if any.
    consumer_key: str | None = None
    #: The request headers, as received (``call.headers.get("Authorization")``).
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: The request URI exactly as sent (``https://127.0.0.1:PORT/api/me?q=caf%C3%A9``):
    #: the URI a signature base string is built from.
    url: str = ""
    #: Which TCP connection carried the request (1-based, in the order the provider
    #: accepted them); requests on one kept-alive connection share the number.
    connection: int = 0

    @property
    def args(self) -> dict[str, str]:
        """The query parameters without the ``oauth_*`` ones, as a dict."""
        return {k: v for k, v in self.query if not k.startswith("oauth_")}

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header, if one was sent."""
        return self.headers.get("Authorization")

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class Answer:
    """A canned answer that replaces an endpoint's work (``remaining`` None: until reset)."""

    status: int
    body: str
    content_type: str
    headers: Mapping[str, str]
    remaining: int | None


@dataclass
class Route:
    """What an API path answers (see :meth:`FakeProvider.respond`)."""

    status: int
    payload: Any
    handler: Callable[[ProviderCall], Any] | None
    headers: Mapping[str, str]
    #: None: the payload is JSON; otherwise it is sent as is, with this content type.
    content_type: str | None = None


@dataclass
class Decision:
    """How the next authorization ends: approved as *user*, or denied."""

    approve: bool
    user: str | None = None
    callback_params: Mapping[str, str] | None = None


@dataclass
class Script:
    """Everything scripted, and the records; every access holds :attr:`lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    decisions: deque[Decision] = field(default_factory=deque)
    answers: dict[str, deque[Answer]] = field(default_factory=lambda: {name: deque() for name in ENDPOINTS})
    latency: dict[str, float] = field(default_factory=dict)
    routes: dict[tuple[str | None, str], Route] = field(default_factory=dict)
    public: set[str] = field(default_factory=set)
    #: True: ``oauth_callback_confirmed=true`` (oauthlib's answer); False: ``=false``; None: left out.
    callback_confirmed: bool | None = True
    #: Seconds the provider's clock is ahead of the real one (negative: behind).
    clock_offset: int = 0
    calls: list[ProviderCall] = field(default_factory=list)

    def reset(self) -> None:
        with self.lock:
            self.decisions.clear()
            for queue in self.answers.values():
                queue.clear()
            self.latency.clear()
            self.routes.clear()
            self.public.clear()
            self.callback_confirmed = True
            self.clock_offset = 0
            self.calls.clear()

    # -- read by the provider's request threads

    def next_decision(self) -> Decision | None:
        with self.lock:
            return self.decisions.popleft() if self.decisions else None

    def wait(self, endpoint: str) -> None:
        """Sleep the latency scripted for *endpoint* (or for every endpoint)."""
        with self.lock:
            delay = self.latency.get(endpoint, self.latency.get("*", 0.0))
        if delay:
            time.sleep(delay)

    def take_answer(self, endpoint: str) -> Answer | None:
        """The canned answer for this request of *endpoint*, if one is scripted."""
        with self.lock:
            queue = self.answers[endpoint]
            answer = queue[0] if queue else None
            if answer is not None and answer.remaining is not None:
                answer.remaining -= 1
                if answer.remaining <= 0:
                    queue.popleft()
        return answer

    def route(self, method: str, path: str) -> Route | None:
        """The route of *path*: an exact one first, then the one with the longest ``prefix*`` that matches."""
        with self.lock:
            found = self.routes.get((method, path)) or self.routes.get((None, path))
            if found is not None:
                return found
            matching = [
                (len(key), route_method is not None, route)
                for (route_method, key), route in self.routes.items()
                if key.endswith("*") and path.startswith(key[:-1]) and route_method in (None, method)
            ]
        if not matching:
            return None
        return max(matching, key=lambda item: (item[0], item[1]))[2]

    def is_public(self, path: str) -> bool:
        with self.lock:
            return path in self.public

    def offset(self) -> int:
        with self.lock:
            return self.clock_offset

    def confirmed(self) -> bool | None:
        with self.lock:
            return self.callback_confirmed

    def record(self, call: ProviderCall) -> None:
        with self.lock:
            self.calls.append(call)

    def recorded(self) -> list[ProviderCall]:
        with self.lock:
            return list(self.calls)
