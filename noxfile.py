"""Development sessions. ``nox -l`` lists them; ``nox`` runs the default set.

Interpreters are looked up on PATH and, for pyenv users whose shims only
expose the global version, in ``$PYENV_ROOT/versions``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import nox

nox.options.sessions = ["tests", "tests_aiohttp", "tests_lowest", "lint", "typecheck", "docs", "e2e"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
WANTED = ["3.10", "3.11", "3.12", "3.13"]


def _works(exe: str) -> bool:
    try:
        return subprocess.run([exe, "-c", "pass"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _available_pythons() -> list[str]:
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = []
    for version in WANTED:
        exe = shutil.which(f"python{version}")
        if exe is None or not _works(exe):
            candidates = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")))
            if not candidates:
                continue
            os.environ["PATH"] = os.path.dirname(candidates[-1]) + os.pathsep + os.environ["PATH"]
        found.append(version)
    return found


PYTHONS = _available_pythons() or None
DEFAULT_PYTHON = "3.11" if PYTHONS and "3.11" in PYTHONS else (PYTHONS[-1] if PYTHONS else None)


def _group(name: str) -> list[str]:
    return nox.project.dependency_groups(PYPROJECT, name)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (real provider over HTTP/HTTPS, both view kinds)."""
    session.install("-e", ".", *_group("tests"))
    session.run("pytest", *session.posargs, env={"PYTHONFAULTHANDLER": "1"})


@nox.session(python=DEFAULT_PYTHON)
def tests_aiohttp(session: nox.Session) -> None:
    """Run the suite with every awaited call on the aiohttp backend (the ``aiohttp`` extra)."""
    session.install("-e", ".[aiohttp]", *_group("tests"))
    env = {"PYTHONFAULTHANDLER": "1", "FLASK_OAUTH1_ASYNC_TEST_ASYNC_BACKEND": "aiohttp"}
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs, env=env)


@nox.session(python=DEFAULT_PYTHON)
def tests_lowest(session: nox.Session) -> None:
    """Run the suite against the lowest supported Flask 2.x, Werkzeug, httpx and asgiref."""
    session.install("-e", ".", *_group("tests"))
    session.install("flask[async]==2.0.3", "werkzeug==2.0.3", "httpx==0.28.0", "asgiref==3.7.2")
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=DEFAULT_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and the typing tests."""
    session.install("-e", ".", *_group("typing"))
    session.run("mypy", "--strict")


@nox.session(python=DEFAULT_PYTHON)
def docs(session: nox.Session) -> None:
    """Build the HTML docs with sphinx-build -W (warnings are errors)."""
    session.install("-e", ".", "-r", "docs/requirements.txt")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def demo(session: nox.Session) -> None:
    """Run the offline demo: a demo OAuth 1.0a provider and the login example, on 127.0.0.1.

    Arguments after ``--`` go to examples/run_demo.py (``--port``, ``--provider-port``).
    """
    session.install("-e", ".", "cachelib")
    session.run("python", "examples/run_demo.py", *session.posargs)


CHROMIUM = "/usr/bin/chromium"


def _ensure_chromium(session: nox.Session) -> None:
    """Install Debian's chromium when it is missing and we may (root + apt-get); else fail loudly."""
    if os.path.exists(CHROMIUM):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        session.log(f"{CHROMIUM} is missing: installing Debian's chromium package")
        session.run("apt-get", "update", "-qq", external=True)
        session.run(
            "apt-get", "install", "-y", "-qq", "chromium", external=True, env={"DEBIAN_FRONTEND": "noninteractive"}
        )
    if not os.path.exists(CHROMIUM):
        session.error(
            f"{CHROMIUM} is missing: install Debian's browser with 'apt-get install -y chromium' "
            "(as root). Playwright's own browser download is never used."
        )


@nox.session(python=DEFAULT_PYTHON)
def e2e(session: nox.Session) -> None:
    """Drive the demo in headless Chromium with Playwright (Debian's chromium, never a downloaded one)."""
    _ensure_chromium(session)
    session.install("-e", ".", "cachelib", "pytest", "playwright")
    session.run("pytest", "e2e", "-p", "no:cacheprovider", *session.posargs, env={"PYTHONFAULTHANDLER": "1"})


@nox.session(python=DEFAULT_PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks vs raw httpx and Authlib, gunicorn included; writes benchmarks/results/latest.md.

    ``-- --quick`` for a short run, ``-- --only server`` for the real-server part alone.
    """
    session.install("-e", ".[aiohttp]", "authlib", "requests", "starlette", "oauthlib", "trustme", "certifi", "psutil")
    session.install("gunicorn", "h2")
    session.run("python", "-m", "benchmarks", *session.posargs, env={"PYTHONFAULTHANDLER": "1"})
