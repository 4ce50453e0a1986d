"""The "without nox" demo commands of the docs, run the way a reader runs them.

``docs/quickstart.rst`` and ``examples/login_app/README.md`` both say: install
with ``pip install ...``, then ``python examples/run_demo.py``. The test cuts
the two commands out of each page, computes what that ``pip install`` line
would put in a fresh virtualenv (:mod:`tests.support.fresh_install`, from the
installed packages' metadata, offline), and runs the demo script with every
other installed distribution made unimportable. The demo then has to start
both servers on 127.0.0.1, serve its home page, and stop on SIGTERM. An
install line that forgets a dependency of the example fails here with the
``ModuleNotFoundError`` the reader would get.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.fresh_install import ENV, installed_by, pip_targets

ROOT = Path(__file__).resolve().parents[1]

PAGES = {
    "quickstart": (
        ROOT / "docs" / "quickstart.rst",
        re.compile(r"Without nox: ``(pip install [^`]+)``\s+and\s+``(python [^`]+)``"),
    ),
    "example-readme": (
        ROOT / "examples" / "login_app" / "README.md",
        re.compile(r"Without nox: `(pip install [^`]+)`, then `(python [^`]+)`"),
    ),
}


def documented_commands(page: str) -> tuple[str, str]:
    path, pattern = PAGES[page]
    match = pattern.search(" ".join(path.read_text(encoding="utf-8").split()))
    assert match is not None, f"{path.name} no longer has its 'Without nox:' commands"
    return match.group(1), match.group(2)


def test_both_pages_give_the_same_commands() -> None:
    assert documented_commands("quickstart") == documented_commands("example-readme")


def test_the_old_install_line_is_caught() -> None:
    """The check itself: without the extra, Flask-SQLAlchemy is not among what gets installed."""
    assert "flask-sqlalchemy" not in installed_by(pip_targets("pip install -e . cachelib"))
    assert "flask-sqlalchemy" in installed_by(pip_targets('pip install -e ".[sqlalchemy]" cachelib'))


def _run_demo(pip_line: str, run_line: str) -> tuple[int, str, list[int]]:
    """Run the demo under *pip_line*'s packages; return (exit code, output, status of the two home pages)."""
    python, script = run_line.split()
    assert python == "python"
    env = {**os.environ, ENV: " ".join(sorted(installed_by(pip_targets(pip_line)))), "PYTHONUNBUFFERED": "1"}
    # A reader's shell has none of the suite's switches (tests_httpx2 sets the first).
    for name in ("OAUTH1_PROVIDER", "FLASK_OAUTH1_ASYNC_HTTP", "FLASK_OAUTH1_ASYNC_TEST_ASYNC_BACKEND"):
        env.pop(name, None)
    command = [sys.executable, "-m", "tests.support.fresh_install", script, "--port", "0", "--provider-port", "0"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Open http"):
                started.set()
        started.set()  # the process ended without starting

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    statuses: list[int] = []
    try:
        started.wait(60)
        urls = [m.group(1) for line in lines if (m := re.match(r"(?:Demo provider|Login app):\s+(\S+)", line))]
        if proc.poll() is None:
            statuses = [httpx.get(url, timeout=10).status_code for url in urls]
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()
    return proc.returncode, "".join(lines), statuses


@pytest.mark.parametrize("page", sorted(PAGES))
def test_documented_demo_commands_run_on_a_fresh_install(page: str) -> None:
    pip_line, run_line = documented_commands(page)
    code, output, statuses = _run_demo(pip_line, run_line)
    assert "ModuleNotFoundError" not in output, output
    assert statuses == [200, 200], output  # the demo provider's home page and the login app's
    assert code == 0, output
    assert output.rstrip().endswith("Stopped."), output


def test_the_runner_reproduces_the_missing_module() -> None:
    """Run with the line the quickstart used to give: the reader's ModuleNotFoundError, here too."""
    code, output, statuses = _run_demo("pip install -e . cachelib", "python examples/run_demo.py")
    assert code != 0
    assert statuses == []
    assert "No module named 'flask_sqlalchemy'" in output


# ------------------------------------------------------------------ the README's list of nox sessions


def _noxfile_sessions() -> tuple[list[str], set[str]]:
    """(the default sessions, every session) as noxfile.py declares them, read without importing nox."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    defaults: list[str] = []
    every: set[str] = set()
    for node in tree.body:
        # The list literal; a later ``nox.options.sessions = _default_sessions()`` only narrows "tests".
        if (
            isinstance(node, ast.Assign)
            and ast.unparse(node.targets[0]) == "nox.options.sessions"
            and isinstance(node.value, ast.List)
        ):
            defaults = [ast.literal_eval(element) for element in node.value.elts]
        if isinstance(node, ast.FunctionDef) and any("nox.session" in ast.unparse(d) for d in node.decorator_list):
            every.add(node.name)
    return defaults, every


def test_readme_lists_every_nox_session() -> None:
    defaults, every = _noxfile_sessions()
    assert "tests_aiohttp" in defaults
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("`nox -l` lists the sessions") :].split("\n\n", 1)[0]
    named = set(re.findall(r"`(\w+)`", paragraph))
    assert every <= named, f"README's session list leaves out {sorted(every - named)}"
    # "All but `demo` and `bench` run by default."
    assert "All but `demo` and `bench` run by default." in " ".join(paragraph.split())
    assert set(defaults) == every - {"demo", "bench"}
