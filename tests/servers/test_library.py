"""The matrix with the library: every setup of tests/servers/setups.py, each check in order.

One test class per variant (``TestGunicornSync``, ...), made from
:class:`LibraryChecks` at import. The checks of a class share one server
(started by the class-scoped ``served`` fixture, stopped by pid at the end)
and run in the order they are written: the logins, one signed call from each
kind of view, the fan-out, a ``def`` view after an ``async def`` one on the
same worker, a bounded load, and SIGTERM last. ``--dist loadscope`` keeps a
class on one pytest-xdist worker. tests/servers/test_baseline.py runs the
same checks on the same servers with an app that calls httpx directly, to
tell our failures from the server's or Flask's.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers import checks
from tests.servers.harness import Served, serve, variant_classes
from tests.servers.setups import Variant, variants

SIGNED = True


@pytest.fixture(scope="class")
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """The variant's provider and server (the class's ``variant``), for the checks of its class."""
    with serve(request.cls.variant) as running:
        yield running


@pytest.fixture(scope="class")
def logged_in(served: Served) -> Iterator[httpx.Client]:
    """A client whose session holds an access token: logged in through the def views, else the async ones.

    A setup whose def login fails (test_login_def_view says so) still gets its
    calls checked, view kind by view kind.
    """
    try:
        client = checks.login(served, "def")
    except AssertionError:
        client = checks.login(served, "async")
    try:
        yield client
    finally:
        client.close()


class LibraryChecks:
    variant: Variant

    def test_login_def_view(self, served: Served) -> None:
        checks.login(served, "def").close()

    def test_login_async_view(self, served: Served) -> None:
        checks.login(served, "async").close()

    def test_signed_call_def_view(self, served: Served, logged_in: httpx.Client) -> None:
        checks.one_call(served, logged_in, "def", SIGNED)

    def test_signed_call_async_view(self, served: Served, logged_in: httpx.Client) -> None:
        checks.one_call(served, logged_in, "async", SIGNED)

    def test_fanout_overlaps(self, served: Served, logged_in: httpx.Client) -> None:
        checks.fanout(served, logged_in, SIGNED)

    def test_def_view_after_async_view(self, served: Served, logged_in: httpx.Client) -> None:
        checks.def_after_async(served, logged_in, SIGNED)

    def test_bounded_load(self, served: Served, logged_in: httpx.Client) -> None:
        checks.bounded_load(served, logged_in, SIGNED)

    def test_sigterm_stops_every_process(self, served: Served) -> None:
        checks.sigterm(served)


globals().update(variant_classes(LibraryChecks, variants("library")))
