"""The baseline: the same servers and checks with an app that calls httpx directly (no library).

When a library check fails on a setup, the same check here says whether the
server and Flask get it right on their own: if the baseline fails too, the
failure is not ours. There is no login here (the login is the library's);
the calls are unsigned, to paths the provider leaves open. One test class
per variant (``TestGunicornSyncHttpx``, ...), as in test_library.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers import checks
from tests.servers.harness import Served, serve, variant_classes
from tests.servers.setups import Variant, variants

SIGNED = False


@pytest.fixture(scope="class")
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """The variant's provider and server (the class's ``variant``), for the checks of its class."""
    with serve(request.cls.variant) as running:
        yield running


@pytest.fixture(scope="class")
def client(served: Served) -> Iterator[httpx.Client]:
    with served.client() as plain:
        yield plain


class BaselineChecks:
    variant: Variant

    def test_call_def_view(self, served: Served, client: httpx.Client) -> None:
        checks.one_call(served, client, "def", SIGNED)

    def test_call_async_view(self, served: Served, client: httpx.Client) -> None:
        checks.one_call(served, client, "async", SIGNED)

    def test_fanout_overlaps(self, served: Served, client: httpx.Client) -> None:
        checks.fanout(served, client, SIGNED)

    def test_def_view_after_async_view(self, served: Served, client: httpx.Client) -> None:
        checks.def_after_async(served, client, SIGNED)

    def test_bounded_load(self, served: Served, client: httpx.Client) -> None:
        checks.bounded_load(served, client, SIGNED)

    def test_sigterm_stops_every_process(self, served: Served) -> None:
        checks.sigterm(served)


globals().update(variant_classes(BaselineChecks, variants("httpx")))
