"""The offline demo, driven in a real browser (headless Chromium through Playwright).

The test starts ``examples/run_demo.py`` - the demo provider and the login
example - as a subprocess on free 127.0.0.1 ports, clicks through the pages
like a person would, and stops the demo with SIGTERM (which must end it
cleanly). It runs twice: with request tokens in the session cookie and in a
cachelib ``FileSystemCache``.

Run it with ``nox -s e2e``. It needs Debian's ``/usr/bin/chromium`` (no
browser is downloaded); without it the tests fail, they are not skipped.
Screenshots land in ``e2e-screenshots/`` at the repository root.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "e2e-screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Each demo API call waits this long at the provider (DEMO_API_LATENCY_MS).
LATENCY_MS = 300
STARTUP_TIMEOUT = 30.0


@dataclass
class Demo:
    """A running demo: its URLs and the cache mode it was started with."""

    url: str
    provider_url: str
    cache: str
    log: Path

    def shot(self, page: Page, name: str) -> Path:
        """Save a full-page screenshot as ``e2e-screenshots/<cache>-<name>.png``."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{self.cache}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} not found: these tests drive Debian's Chromium "
            "('apt-get install -y chromium'), or set E2E_CHROMIUM to another chromium binary",
            pytrace=False,
        )
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _read_lines(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


@pytest.fixture(scope="module", params=["session", "filesystem"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    cache = request.param
    instance = tmp_path_factory.mktemp(f"instance-{cache}")
    log = instance / "servers.log"
    env = {
        **os.environ,
        "OAUTH1_PROVIDER": "demo",
        "OAUTH1_CACHE": cache,
        "LOGIN_APP_INSTANCE": str(instance),
        "DEMO_API_LATENCY_MS": str(LATENCY_MS),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SECRET_KEY", None)
    with open(log, "w") as log_file:
        proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, str(ROOT / "examples" / "run_demo.py"), "--port", "0", "--provider-port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        urls: dict[str, str] = {}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while len(urls) < 2:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the demo did not start within {STARTUP_TIMEOUT} s:\n{log.read_text()}")
            match = re.match(r"(Demo provider|Login app):\s+(http://127\.0\.0\.1:\d+/)", line)
            if match:
                urls[match.group(1)] = match.group(2)
        yield Demo(urls["Login app"], urls["Demo provider"], cache, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"the demo did not stop within 20 s of SIGTERM:\n{log.read_text()}")
    reader.join(5)
    assert proc.stdout is not None
    proc.stdout.close()
    output = []
    while not lines.empty():
        output.append(lines.get())
    assert code == 0, f"the demo exited with {code}:\n{log.read_text()}"
    assert "Stopped." in "".join(output)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


# ----------------------------------------------------------------- helpers


def approve(page: Page, demo: Demo, username: str) -> None:
    """On the provider's consent page: type a user name and click Approve."""
    expect(page).to_have_url(re.compile(re.escape(demo.provider_url) + r"oauth/authorize\?oauth_token="))
    expect(page.get_by_role("heading", name="Demo Provider")).to_be_visible()
    page.fill("#username", username)
    page.get_by_role("button", name="Approve").click()


def sign_in(page: Page, demo: Demo, kind: str, username: str, screenshot: str | None = None) -> str:
    """Sign in through the *kind* ("sync" or "async") pages; return the callback URL used."""
    callbacks: list[str] = []
    page.on("request", lambda req: callbacks.append(req.url) if f"/{kind}/authorize?" in req.url else None)
    page.goto(demo.url)
    page.click(f"#{kind}-login")
    if screenshot:
        expect(page.get_by_role("button", name="Approve")).to_be_visible()
        page.fill("#username", username)
        demo.shot(page, screenshot)
    approve(page, demo, username)
    expect(page).to_have_url(f"{demo.url}{kind}/profile")
    assert len(callbacks) == 1, callbacks
    return callbacks[0]


# ----------------------------------------------------------------- tests


def test_home_page_links_sync_and_async_views(page: Page, demo: Demo) -> None:
    page.goto(demo.url)
    expect(page.get_by_role("heading", name="Sign in with Demo Provider")).to_be_visible()
    for link in ("#sync-login", "#sync-profile", "#sync-fanout", "#async-login", "#async-profile", "#async-fanout"):
        expect(page.locator(link)).to_be_visible()
    expect(page.locator("header")).to_contain_text("Not signed in")
    expect(page.locator("main")).to_contain_text(f"Request tokens wait in: {demo.cache}")
    demo.shot(page, "01-home")


def test_sync_login_shows_the_users_name(page: Page, demo: Demo) -> None:
    callback = sign_in(page, demo, "sync", "alice", screenshot="02-consent")
    expect(page.locator("#screen-name")).to_have_text("alice")
    expect(page.locator("#view-kind")).to_have_text("sync")
    expect(page.locator("#current-user")).to_have_text("alice")
    expect(page.locator("#profile-json")).to_contain_text('"screen_name": "alice"')
    demo.shot(page, "03-sync-profile")

    # The token is in SQLite: the async view finds it through fetch_token too.
    page.goto(f"{demo.url}async/profile")
    expect(page.locator("#screen-name")).to_have_text("alice")
    expect(page.locator("#view-kind")).to_have_text("async")

    # A request token works once: opening the callback URL again is refused.
    page.goto(callback)
    expect(page.locator("#error-title")).to_have_text("This sign-in link is no longer valid")
    expect(page.locator("#error-code")).to_have_text("invalid_callback_token (unknown)")
    expect(page.locator("#current-user")).to_have_text("alice")  # still signed in

    page.goto(demo.url)
    page.get_by_role("link", name="Sign out").click()
    expect(page.locator("main")).to_contain_text("You are signed out.")
    expect(page.locator("header")).to_contain_text("Not signed in")


def test_async_login_shows_the_users_name(page: Page, demo: Demo) -> None:
    sign_in(page, demo, "async", "bob_async")
    expect(page.locator("#screen-name")).to_have_text("bob_async")
    expect(page.locator("#view-kind")).to_have_text("async")
    expect(page.locator("#current-user")).to_have_text("bob_async")
    demo.shot(page, "04-async-profile")

    page.goto(f"{demo.url}sync/profile")
    expect(page.locator("#screen-name")).to_have_text("bob_async")
    expect(page.locator("#view-kind")).to_have_text("sync")


def test_fan_out_pages(page: Page, demo: Demo) -> None:
    sign_in(page, demo, "async", "carol")
    calls = 4

    page.goto(f"{demo.url}async/fanout")
    expect(page.locator("#view-kind")).to_have_text("async")
    statuses = page.locator("tr.result td.status")
    expect(statuses).to_have_count(calls)
    expect(statuses).to_have_text(["200"] * calls)
    expect(page.locator("#results")).to_contain_text('"screen_name": "carol"')
    together = float(page.locator("#elapsed-ms").inner_text())
    demo.shot(page, "05-async-fanout")

    page.goto(f"{demo.url}sync/fanout")
    expect(page.locator("#view-kind")).to_have_text("sync")
    expect(page.locator("tr.result td.status")).to_have_text(["200"] * calls)
    one_by_one = float(page.locator("#elapsed-ms").inner_text())

    # Every call waits LATENCY_MS at the provider, so the loop pays for all of
    # them (a lower bound, which a slow machine cannot break). That gather()
    # overlaps the calls is proven by counting in tests/test_concurrency.py;
    # the page's own timing is only printed here.
    assert one_by_one >= calls * LATENCY_MS * 0.95
    print(f"[e2e] fan-out page: gather {together:.0f} ms, loop {one_by_one:.0f} ms (not asserted)")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_denied_login_shows_a_friendly_page(page: Page, demo: Demo, kind: str) -> None:
    page.goto(demo.url)
    page.click(f"#{kind}-login")
    expect(page.get_by_role("button", name="Deny")).to_be_visible()
    with page.expect_response(re.compile(rf"/{kind}/authorize\?denied=")) as answer:
        page.get_by_role("button", name="Deny").click()
    assert answer.value.status == 403
    expect(page.locator("#error-title")).to_have_text("Sign-in cancelled")
    expect(page.locator("#error-code")).to_have_text("access_denied")
    expect(page.locator("header")).to_contain_text("Not signed in")
    demo.shot(page, f"06-{kind}-denied")


def test_invalid_callbacks_show_a_friendly_page(page: Page, demo: Demo) -> None:
    response = page.goto(f"{demo.url}sync/authorize?oauth_token=never-issued&oauth_verifier=x")
    assert response is not None
    assert response.status == 400
    expect(page.locator("#error-title")).to_have_text("This sign-in link is no longer valid")
    expect(page.locator("#error-code")).to_have_text("invalid_callback_token (unknown)")
    demo.shot(page, "07-invalid-callback")

    response = page.goto(f"{demo.url}async/authorize")
    assert response is not None
    assert response.status == 400
    expect(page.locator("#error-code")).to_have_text("invalid_callback_token (missing)")


def test_a_login_started_in_another_browser_is_refused(browser: Browser, page: Page, demo: Demo) -> None:
    # The provider redirects the *other* browser back with a valid token and
    # verifier, but the request token belongs to this page's session (login CSRF).
    page.goto(demo.url)
    page.click("#sync-login")
    page.fill("#username", "mallory")
    with page.expect_request(re.compile(r"/sync/authorize\?oauth_token=")) as callback:
        page.route(re.compile(r"/sync/authorize\?"), lambda route: route.abort())
        page.get_by_role("button", name="Approve").click()
    other = browser.new_context()
    try:
        victim = other.new_page()
        response = victim.goto(callback.value.url)
        assert response is not None
        assert response.status == 400
        expect(victim.locator("#error-code")).to_have_text("invalid_callback_token (unknown)")
        expect(victim.locator("header")).to_contain_text("Not signed in")
    finally:
        other.close()


def test_pages_that_need_a_token_send_you_to_sign_in(page: Page, demo: Demo) -> None:
    for path in ("sync/profile", "async/profile", "async/fanout"):
        page.goto(demo.url + path)
        expect(page).to_have_url(demo.url)
        expect(page.locator(".flash")).to_have_text("Please sign in first.")
