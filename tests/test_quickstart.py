"""The quickstart's app and the README's headline example, run as a reader would paste them.

``docs/quickstart.rst`` builds one app in ``.. code-block:: python`` blocks whose
``:name:`` starts with ``quickstart-app``. The blocks are cut out of the page in
document order, joined into one module and executed unchanged; the only input
from the outside is the ``DEMO_PROVIDER_URL`` environment variable the app reads.
The app and the demo provider (``examples/demo_provider.py``) are served by real
servers on 127.0.0.1, and a scripted browser signs in through the plain views
and through the async views, then makes signed API calls from both kinds of view.

The README's first ``python`` block is executed the same way, with its
consumer key, secret and ``SECRET_KEY`` from the environment as the README
says. Its endpoints are Twitter/X's, which the tests never contact: only those
URLs (and the one API path) are replaced in the source text by the demo
provider's, see :func:`_readme_source`.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.support.browser import Browser
from tests.support.redirects import default_redirect_code
from tests.support.servers import ServerThread

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.rst"
README = ROOT / "README.md"
MARKER = "quickstart-app"

_DIRECTIVE = re.compile(r"^\.\. code-block:: python\s*$")
_OPTION = re.compile(r"^   :(\w[\w-]*):(.*)$")


def marked_blocks(text: str, marker: str = MARKER) -> list[tuple[str, str]]:
    """``(name, code)`` of every python code-block whose ``:name:`` starts with *marker*, in order."""
    lines = text.splitlines()
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        if not _DIRECTIVE.match(lines[i]):
            i += 1
            continue
        i += 1
        options: dict[str, str] = {}
        while i < len(lines) and (m := _OPTION.match(lines[i])):
            options[m.group(1)] = m.group(2).strip()
            i += 1
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
            body.append(lines[i][3:])
            i += 1
        if options.get("name", "").startswith(marker):
            found.append((options["name"], "\n".join(body).strip("\n") + "\n"))
    return found


def quickstart_source() -> str:
    blocks = marked_blocks(QUICKSTART.read_text(encoding="utf-8"))
    return "\n\n".join(code for _, code in blocks)


def _load_module(name: str, source: str, filename: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - the docs' own code
    return module


def _load_demo_provider() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart_demo_provider", ROOT / "examples" / "demo_provider.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


@pytest.fixture(scope="module")
def demo_provider() -> Iterator[ServerThread]:
    provider = _load_demo_provider()
    app = provider.create_provider(api_latency=0)
    with ServerThread(app, name="demo-provider") as server:
        yield server


@pytest.fixture
def quickstart(demo_provider: ServerThread, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, ServerThread]]:
    """The quickstart's module, executed with DEMO_PROVIDER_URL set, and its app on a real server."""
    monkeypatch.setenv("DEMO_PROVIDER_URL", demo_provider.url)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    module = _load_module("quickstart_app", quickstart_source(), str(QUICKSTART))
    with ServerThread(module.app, name="quickstart-app") as server:
        try:
            yield module, server
        finally:
            module.oauth.close()


def _consent(browser: Browser, app_url: str, login_path: str, user: str) -> httpx.Response:
    """Start a login at *login_path*, approve on the demo provider's consent page as *user*, follow back home."""
    start = browser.get(app_url + login_path)
    assert start.status_code == 302, start.text
    authorize_url = start.headers["Location"]
    assert urlsplit(authorize_url).path == "/oauth/authorize"
    oauth_token = dict(parse_qsl(urlsplit(authorize_url).query))["oauth_token"]
    page = browser.get(authorize_url)
    assert page.status_code == 200
    assert 'name="username"' in page.text
    back = browser.follow(
        authorize_url.split("?", 1)[0],
        method="POST",
        data={"oauth_token": oauth_token, "username": user, "action": "approve"},
    )
    # provider consent -> app callback -> app home page
    callback_path = login_path.replace("login", "authorize")
    assert [urlsplit(u).path for u in back.visited] == ["/oauth/authorize", callback_path, "/"]
    return back.response


def test_quickstart_blocks_are_found_in_order() -> None:
    names = [name for name, _ in marked_blocks(QUICKSTART.read_text(encoding="utf-8"))]
    assert names == [
        "quickstart-app-registry",
        "quickstart-app-login-sync",
        "quickstart-app-login-async",
        "quickstart-app-api",
    ]
    source = quickstart_source()
    assert source.count("OAuth(") == 1  # one registry for the one app
    compile(source, str(QUICKSTART), "exec")


@pytest.mark.parametrize(("login_path", "user"), [("/login", "alice_sync"), ("/async/login", "bob_async")])
def test_quickstart_app_logs_in_and_calls_the_api(
    quickstart: tuple[Any, ServerThread], login_path: str, user: str
) -> None:
    module, server = quickstart
    assert module.app.config["SECRET_KEY"]
    with Browser() as browser:
        home = _consent(browser, server.url, login_path, user)
        assert home.status_code == 200
        assert f"Signed in as {user}" in home.text
        # The signed API call, from the plain view and from the async view:
        # the demo provider checks the signature and answers with the token's user.
        for path in ("/me", "/async/me"):
            resp = browser.get(server.url + path)
            assert resp.status_code == 200, resp.text
            assert resp.json()["screen_name"] == user
        token = module.TOKENS[("demo", resp.json()["id"])]
        assert token["screen_name"] == user
        # Signing out drops the session; the API views then send the browser to log in,
        # with the quickstart's own flask.redirect() calls (Flask's default code).
        own_redirect = default_redirect_code(module.app)
        assert browser.get(server.url + "/logout").status_code == own_redirect
        for path in ("/me", "/async/me"):
            resp = browser.get(server.url + path)
            assert resp.status_code == own_redirect
            assert urlsplit(resp.headers["Location"]).path == "/login"


def test_quickstart_missing_token_redirects_to_login(quickstart: tuple[Any, ServerThread]) -> None:
    module, server = quickstart
    with Browser() as browser:
        home = browser.get(server.url + "/")
        assert home.status_code == 200
        assert 'href="/login"' in home.text
        for path in ("/me", "/async/me"):
            resp = browser.get(server.url + path)
            assert resp.status_code == default_redirect_code(module.app)
            assert urlsplit(resp.headers["Location"]).path == "/login"


def test_quickstart_login_follows_the_redirect_to_the_provider(quickstart: tuple[Any, ServerThread]) -> None:
    """Every redirect target the app uses is a view it defines (no BuildError on any page)."""
    module, _ = quickstart
    endpoints = {rule.endpoint for rule in module.app.url_map.iter_rules()}
    source = quickstart_source()
    targets = set(re.findall(r'url_for\("(\w+)"', source))
    assert targets
    assert targets <= endpoints


# ------------------------------------------------------------------ README


def _readme_source(provider_url: str) -> str:
    """The README's first python block, with Twitter/X's host replaced by the local demo provider.

    The paths differ between the two providers, so each endpoint is mapped to
    the demo provider's; nothing else in the block is changed.
    """
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match is not None, "README.md has no python block"
    source = match.group(1)
    mapping = {
        "https://api.x.com/oauth/request_token": provider_url + "/oauth/request_token",
        "https://api.x.com/oauth/access_token": provider_url + "/oauth/access_token",
        "https://api.x.com/oauth/authenticate": provider_url + "/oauth/authorize",
        "https://api.x.com/1.1/": provider_url + "/api/",
        '"account/verify_credentials.json"': '"me"',
    }
    for old, new in mapping.items():
        assert old in source, f"README example no longer contains {old!r}"
        source = source.replace(old, new)
    assert "api.x.com" not in source
    return source


def test_readme_example_runs(demo_provider: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _load_demo_provider()
    monkeypatch.setenv("SECRET_KEY", "readme-test-secret")
    monkeypatch.setenv("TWITTER_CLIENT_ID", provider.DEMO_CLIENT_ID)
    monkeypatch.setenv("TWITTER_CLIENT_SECRET", provider.DEMO_CLIENT_SECRET)
    module = _load_module("readme_app", _readme_source(demo_provider.url), str(README))
    assert module.app.config["SECRET_KEY"] == "readme-test-secret"
    with ServerThread(module.app, name="readme-app") as server, Browser() as browser:
        try:
            start = browser.get(server.url + "/login")
            assert start.status_code == 302, start.text
            authorize_url = start.headers["Location"]
            oauth_token = dict(parse_qsl(urlsplit(authorize_url).query))["oauth_token"]
            assert browser.get(authorize_url).status_code == 200
            back = browser.follow(
                authorize_url.split("?", 1)[0],
                method="POST",
                data={"oauth_token": oauth_token, "username": "readme_user", "action": "approve"},
            )
            assert back.response.status_code == 200, back.response.text
            assert back.response.json()["screen_name"] == "readme_user"
            assert back.response.json()["profile"]["screen_name"] == "readme_user"
        finally:
            module.oauth.close()


# ------------------------------------------------------- what a new user reads first


def test_demo_provider_home_page_shows_the_consumer_and_how_to_run_it(demo_provider: ServerThread) -> None:
    provider = _load_demo_provider()
    with Browser() as browser:
        page = browser.get(demo_provider.url + "/")
    assert page.status_code == 200
    assert f"<code>{provider.DEMO_CLIENT_ID}</code>" in page.text
    assert f"<code>{provider.DEMO_CLIENT_SECRET}</code>" in page.text
    assert "python examples/demo_provider.py" in page.text
    readme = (ROOT / "examples" / "login_app" / "README.md").read_text(encoding="utf-8")
    assert f"`{provider.DEMO_CLIENT_ID}`" in readme
    assert f"`{provider.DEMO_CLIENT_SECRET}`" in readme


def _readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert match is not None
    return [line.split("#", 1)[0].strip() for line in match.group(1).splitlines() if line.strip()]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command, demo_command = _readme_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    commands = [line for line in ci_lines if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert commands == [test_command]
    # Both README commands keep nox out of the system Python (PEP 668) in a git-ignored venv.
    for command in (test_command, demo_command):
        assert command.startswith("python3 -m venv .nox-venv && .nox-venv/bin/python -m pip install nox && ")
    assert demo_command == test_command + " -s demo"
