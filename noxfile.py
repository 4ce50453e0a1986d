"""Development sessions. ``nox -l`` lists them; ``nox`` runs the default set.

Interpreters are looked up on PATH and, for pyenv users whose shims only
expose the global version, in ``$PYENV_ROOT/versions``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import nox
from packaging.version import Version

nox.options.sessions = [
    "tests",  # on the Pythons no other session runs: see _default_sessions() below
    "tests_aiohttp",
    "tests_runner",
    "tests_lowest",
    "tests_httpx2",
    "lint",
    "typecheck",
    "docs",
    "build",
    "e2e",
    "servers",
]
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


#: httpx2 needs Python 3.11 or newer.
HTTPX2_PYTHON = "3.12" if PYTHONS and "3.12" in PYTHONS else DEFAULT_PYTHON


def _default_sessions() -> list[str]:
    """The default run: ``tests`` on the Pythons no other default session runs, then the rest.

    DEFAULT_PYTHON runs the whole suite in tests_aiohttp, tests_runner and
    tests_lowest, and HTTPX2_PYTHON in tests_httpx2, so a ``tests`` pass there
    would add minutes and no test; ``nox -s tests`` still runs every Python.
    The newest Python found always runs ``tests`` (the whole suite as it ships).
    """
    if not PYTHONS:
        return nox.options.sessions
    elsewhere = {DEFAULT_PYTHON, HTTPX2_PYTHON} - {PYTHONS[-1]}
    own = [f"tests-{version}" for version in PYTHONS if version not in elsewhere]
    return own + [name for name in nox.options.sessions if name != "tests"]


nox.options.sessions = _default_sessions()


def _group(name: str) -> list[str]:
    return nox.project.dependency_groups(PYPROJECT, name)


#: pytest-xdist workers for the test sessions. The suite is xdist-safe: every server
#: binds port 0 on 127.0.0.1, temporary files come from tempfile/tmp_path, and the
#: provider fixtures are per worker. Three workers on two cores: a third of the
#: suite's time is spent waiting on sockets and subprocesses (measured on 2 cores:
#: 2 workers 2:51, 3 workers 2:24, 4 workers 2:34). ``NOX_PYTEST_WORKERS=0`` runs in
#: one process; ``-- -n 4`` on the command line overrides it too (the last ``-n`` wins).
PYTEST_WORKERS = os.environ.get("NOX_PYTEST_WORKERS", "3")

#: The lowest version of every runtime dependency, as declared in pyproject.toml.
#: tests_lowest installs exactly these; keep the two lists in step.
LOWEST = {
    "flask[async]": "2.0.3",
    "werkzeug": "2.0.3",
    "httpx": "0.28.0",
    "asgiref": "3.7.2",
    "authlib": "1.9.0",
    "cryptography": "45.0.1",
    "blinker": "1.6.2",
}


def _pytest(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    session.run(
        "pytest",
        "-n",
        PYTEST_WORKERS,
        "-p",
        "no:cacheprovider",
        *args,
        *session.posargs,
        env={"PYTHONFAULTHANDLER": "1", **(env or {})},
    )


#: Interpreters that run the whole suite in the default run; the others skip the tests
#: marked ``slow`` (tests/reliability, tests/interop, the provider self-tests and the
#: hypothesis equivalence suite: see tests/conftest.py). Every test still runs in the
#: default run: on these Pythons, and again in tests_lowest and tests_httpx2.
FULL_SUITE_PYTHONS = ("3.13",)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (real provider over HTTP/HTTPS, both view kinds), three workers.

    The newest Python runs everything; older ones skip the ``slow`` tests, which
    tests_lowest (on the default Python) and tests_httpx2 run in full as well.
    ``-- -m ""`` runs everything anywhere.
    """
    session.install("-e", ".", *_group("tests"))
    newest = PYTHONS[-1] if PYTHONS else None
    if session.python in FULL_SUITE_PYTHONS or session.python == newest:
        _pytest(session)
    else:
        _pytest(session, "-m", "not slow")


@nox.session(python=HTTPX2_PYTHON)
def tests_httpx2(session: nox.Session) -> None:
    """Run the whole suite on httpx2 (the maintained fork of httpx) instead of httpx.

    ``FLASK_OAUTH1_ASYNC_HTTP=httpx2`` makes the package use httpx2, and the
    tests' own ``import httpx`` is aliased to it (tests/conftest.py).
    """
    session.install("-e", ".[httpx2]", *_group("tests"))
    _pytest(session, env={"FLASK_OAUTH1_ASYNC_HTTP": "httpx2"})


def _lowest_out_of_step() -> list[str]:
    """Differences between LOWEST and the ``>=`` bounds of ``[project] dependencies``."""
    declared = {}
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, _, bound = requirement.partition(">=")
        declared[name.strip()] = bound.split(",")[0].strip()
    problems = [
        f"{name}: declared >={declared.get(name)}, tested {version}"
        for name, version in LOWEST.items()
        if name not in declared or Version(declared[name]) != Version(version)
    ]
    problems += [f"{name}: declared >={bound}, not in LOWEST" for name, bound in declared.items() if name not in LOWEST]
    return problems


#: tests_aiohttp and tests_runner change how this process runs awaited calls and async
#: views; the tests marked ``mode_free`` (tests/conftest.py: static checks, the signer
#: alone, apps run only in subprocesses) would run exactly as in the other sessions.
MODE_FREE_LEFT_OUT = ("-m", "not mode_free")


@nox.session(python=DEFAULT_PYTHON)
def tests_aiohttp(session: nox.Session) -> None:
    """Run the suite with every awaited call on the aiohttp backend (the ``aiohttp`` extra)."""
    session.install("-e", ".[aiohttp]", *_group("tests"))
    _pytest(session, *MODE_FREE_LEFT_OUT, env={"FLASK_OAUTH1_ASYNC_TEST_ASYNC_BACKEND": "aiohttp"})


@nox.session(python=DEFAULT_PYTHON)
def tests_runner(session: nox.Session) -> None:
    """Run the suite with every app's async views on the opt-in runner (``AsyncRunner``).

    ``FLASK_OAUTH1_ASYNC_TEST_RUNNER=1`` makes tests/conftest.py run
    ``Flask.async_to_sync`` through one :class:`flask_oauth1_async.runner.AsyncRunner`.
    """
    session.install("-e", ".", *_group("tests"))
    _pytest(session, *MODE_FREE_LEFT_OUT, env={"FLASK_OAUTH1_ASYNC_TEST_RUNNER": "1"})


@nox.session(python=DEFAULT_PYTHON)
def tests_lowest(session: nox.Session) -> None:
    """Run the suite against the lowest declared version of every runtime dependency."""
    problems = _lowest_out_of_step()
    if problems:
        session.error("LOWEST in noxfile.py and pyproject.toml disagree: " + "; ".join(problems))
    session.install("-e", ".", *_group("tests"))
    session.install(*(f"{name}=={version}" for name, version in LOWEST.items()))
    # The sqlalchemy extra has its own floor: Flask-SQLAlchemy 3.1 needs Flask 2.2.5,
    # above the core's 2.0.3. Its tests (SQLite and PostgreSQL) and the example app,
    # which uses it (also run by tests/test_docs_commands.py), run in the tests
    # sessions; here the core's lowest versions are what is tested.
    session.log("tests_lowest leaves out the sqlalchemy extra's tests (Flask-SQLAlchemy 3.1 needs Flask >= 2.2.5)")
    _pytest(session, "tests", "--ignore-glob=tests/test_sqlalchemy_*.py", "--ignore=tests/test_docs_commands.py")


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
    session.install("-e", ".[sqlalchemy,testing]", "-r", "docs/requirements.txt")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)


#: What the default sessions read from the source tree: an unpacked sdist must have all of it.
SDIST_NEEDS_FILES = [
    "pyproject.toml",
    "noxfile.py",
    "README.md",
    "LICENSE",
    "CHANGES.rst",
    "docs/requirements.txt",
    ".ci/run",
]
SDIST_NEEDS_DIRS = ["flask_oauth1_async", "tests", "e2e", "docs", "examples", "stubs", "benchmarks"]
_NOT_SHIPPED = ("__pycache__", ".pyc", "docs/_build/", "e2e-screenshots/", "examples/instance/")


def _tree_files(root: Path, top: str) -> set[str]:
    found = set()
    for path in (root / top).rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(part in rel for part in _NOT_SHIPPED):
            found.add(rel)
    return found


def _check_sdist(session: nox.Session, sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    root = Path.cwd()
    wanted = set(SDIST_NEEDS_FILES)
    for top in SDIST_NEEDS_DIRS:
        wanted |= _tree_files(root, top)
    missing = sorted(wanted - names)
    if missing:
        session.error(f"{sdist.name} lacks {len(missing)} file(s) the sessions need: {missing[:10]}")
    junk = sorted(n for n in names if any(part in n for part in _NOT_SHIPPED))
    if junk:
        session.error(f"{sdist.name} ships build or cache files: {junk[:10]}")
    session.log(f"{sdist.name}: {len(names)} files, all {len(wanted)} needed files present")


def _check_wheel(session: nox.Session, wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    package = [n for n in names if n.startswith("flask_oauth1_async/")]
    dist_info = [n for n in names if n.split("/", 1)[0].endswith(".dist-info")]
    if "flask_oauth1_async/py.typed" not in names:
        session.error(f"{wheel.name} lacks flask_oauth1_async/py.typed")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in dist_info):
        session.error(f"{wheel.name} lacks its LICENSE (.dist-info/licenses/LICENSE)")
    stray = sorted(set(names) - set(package) - set(dist_info))
    if stray:
        session.error(f"{wheel.name} ships files outside the package: {stray[:10]}")
    tests_inside = [n for n in package if "/tests/" in n or n.rsplit("/", 1)[-1].startswith("test_")]
    if tests_inside:
        session.error(f"{wheel.name} ships tests: {tests_inside[:10]}")
    session.log(f"{wheel.name}: {len(package)} package files, py.typed and LICENSE present, no tests")


def _lowest_backend() -> str:
    """``flit_core==X`` for the lower bound declared in ``[build-system] requires``."""
    (requirement,) = PYPROJECT["build-system"]["requires"]
    match = re.fullmatch(r"flit_core\s*>=\s*([\d.]+)\s*,\s*<\s*[\d.]+", requirement)
    if match is None:
        raise ValueError(f"unexpected build requirement {requirement!r}: update noxfile.build")
    return f"flit_core=={match.group(1)}"


def _unpack(sdist: Path, into: str) -> Path:
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Pythons before the extraction filters; the archive was built here
            tar.extractall(into)  # noqa: S202
    (unpacked,) = Path(into).iterdir()
    return unpacked


@nox.session(python=DEFAULT_PYTHON)
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel, run twine check --strict, check their contents.

    ``python -m build`` runs twice: with the lowest flit_core that pyproject.toml
    declares (pinned through PIP_CONSTRAINT) and with the newest one allowed. The
    sdist is then unpacked and ``nox --list`` runs inside it, to show that its
    noxfile loads there. The newest build is left in ``dist/``.
    """
    session.install("build", "twine", "nox")
    out = Path("dist")
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(_lowest_backend() + "\n")
        for label, outdir, env in [
            (f"lowest backend ({_lowest_backend()})", Path(tmp) / "lowest", {"PIP_CONSTRAINT": str(constraints)}),
            ("newest backend", out, {}),
        ]:
            session.log(f"building with the {label}")
            shutil.rmtree(outdir, ignore_errors=True)
            session.run("python", "-m", "build", "--outdir", str(outdir), ".", env=env)
            sdists, wheels = sorted(outdir.glob("*.tar.gz")), sorted(outdir.glob("*.whl"))
            if len(sdists) != 1 or len(wheels) != 1:
                session.error(f"expected one sdist and one wheel in {outdir}/, found {sdists + wheels}")
            session.run("twine", "check", "--strict", str(sdists[0]), str(wheels[0]))
            _check_sdist(session, sdists[0])
            _check_wheel(session, wheels[0])
        unpacked = _unpack(sorted(out.glob("*.tar.gz"))[0], str(Path(tmp) / "unpacked"))
        session.run("nox", "--list", "--noxfile", str(unpacked / "noxfile.py"), silent=True)
    session.log("the sdist's noxfile loads from the unpacked sdist")


#: The servers of the matrix (tests/servers/setups.py), from PyPI. gunicorn 27 brings the
#: ``-k asgi`` worker (and no eventlet worker any more: eventlet runs its own server there);
#: pyuwsgi 2.0.27 and later run with Python threads on by default.
SERVER_PACKAGES = [
    "gunicorn[gevent]>=27",
    "eventlet",
    "pyuwsgi>=2.0.27",
    "waitress",
    "uvicorn",
    "a2wsgi",
    "hypercorn",
    "granian",
]
#: uWSGI before 2.0.27 (Python threads off by default, as in Debian 12's uwsgi), installed apart
#: with ``pip install --target`` and put in front of PYTHONPATH for that setup only.
LEGACY_UWSGI = "pyuwsgi==2.0.26"
#: pyuwsgi 2.0.26 has wheels up to Python 3.12 only (none for 3.13); granian, gevent and the
#: current pyuwsgi have them for 3.10-3.13. The default Python (3.11) runs the matrix.
SERVERS_PYTHON = DEFAULT_PYTHON
#: pytest-xdist workers for the matrix: its tests mostly wait on servers, so one more than the cores.
SERVERS_WORKERS = os.environ.get("NOX_SERVERS_WORKERS", "3")


@nox.session(python=SERVERS_PYTHON)
def servers(session: nox.Session) -> None:
    """The server matrix: gunicorn, uWSGI, waitress, uvicorn, hypercorn, granian... on 127.0.0.1.

    Each setup serves tests/servers/app.py; the checks log in, call, fan out,
    mix view kinds and SIGTERM the server (tests/servers/). One test class per
    setup, spread over pytest-xdist workers with ``--dist loadscope``.
    ``-- -k uwsgi`` picks setups.
    """
    session.install("-e", ".[testing]", "pytest", "pytest-xdist", "cachelib", *SERVER_PACKAGES)
    legacy = Path(session.virtualenv.location) / "uwsgi-legacy"
    session.run(
        "python", "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade", "--target", str(legacy), LEGACY_UWSGI
    )
    session.run(
        "pytest",
        "tests/servers",
        "-n",
        SERVERS_WORKERS,
        "--dist",
        "loadscope",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={
            "PYTHONFAULTHANDLER": "1",
            "FLASK_OAUTH1_ASYNC_SERVER_MATRIX": "1",
            "SERVERS_UWSGI_LEGACY_PATH": str(legacy),
        },
    )


@nox.session(python=DEFAULT_PYTHON)
def demo(session: nox.Session) -> None:
    """Run the offline demo: a demo OAuth 1.0a provider and the login example, on 127.0.0.1.

    Arguments after ``--`` go to examples/run_demo.py (``--port``, ``--provider-port``).
    """
    session.install("-e", ".[sqlalchemy]", "cachelib")
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
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
            external=True,
            env={"DEBIAN_FRONTEND": "noninteractive"},
        )
    if not os.path.exists(CHROMIUM):
        session.error(
            f"{CHROMIUM} is missing: install Debian's browser with 'apt-get install -y chromium' "
            "(as root; --no-install-recommends is enough). Playwright's own browser download is never used."
        )


@nox.session(python=DEFAULT_PYTHON)
def e2e(session: nox.Session) -> None:
    """Drive the demo in headless Chromium with Playwright (Debian's chromium, never a downloaded one)."""
    _ensure_chromium(session)
    session.install("-e", ".[sqlalchemy]", "cachelib", "pytest", "playwright")
    session.run("pytest", "e2e", "-p", "no:cacheprovider", *session.posargs, env={"PYTHONFAULTHANDLER": "1"})


@nox.session(python=DEFAULT_PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks vs raw httpx and Authlib, gunicorn included; writes benchmarks/results/latest.md.

    ``-- --quick`` for a short run, ``-- --only server`` for the real-server part alone.
    """
    session.install("-e", ".[aiohttp]", "authlib", "requests", "starlette", "oauthlib", "trustme", "certifi", "psutil")
    # gevent, and packaging, which gunicorn's gevent worker imports: the -k gevent run
    session.install("gunicorn", "h2", "gevent", "packaging")
    session.run("python", "-m", "benchmarks", *session.posargs, env={"PYTHONFAULTHANDLER": "1"})
