"""Run mypy --strict on the typing modules: the API's static types are part of its contract.

Also a documented limit of the dual methods: ``asyncio.create_task(remote.get(...))``
works at runtime, but type-checks only with the explicit ``get_async()``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api as mypy_api  # a test dependency: a missing mypy must fail, not skip

ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "typing"


def _run(path: Path) -> tuple[str, int]:
    stdout, stderr, status = mypy_api.run(
        ["--strict", "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental", str(path)]
    )
    return stdout + stderr, status


def test_dual_and_explicit_variants_type_check() -> None:
    output, status = _run(TYPING / "check_api.py")
    assert status == 0, output
    assert "Success: no issues found" in output


def test_misuse_is_rejected_on_exactly_the_marked_lines() -> None:
    source = (TYPING / "check_errors.py").read_text()
    expected = {
        (number, code)
        for number, line in enumerate(source.splitlines(), start=1)
        for code in re.findall(r"# E: ([\w-]+)", line)
    }
    assert len(expected) == 5
    output, status = _run(TYPING / "check_errors.py")
    assert status == 1, output
    found = {
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"check_errors\.py:(\d+): error: .*\[([\w-]+)\]$", output, re.M)
    }
    assert found == expected, output


# ------------------------------------------------------------------ create_task() of a dual call


_CREATE_TASK_SNIPPET = """\
from __future__ import annotations

import asyncio

import httpx
from flask import Flask

from flask_oauth1_async import OAuth

app = Flask(__name__)
oauth = OAuth(app)
remote = oauth.register("demo", client_id="x")


async def view() -> httpx.Response:
    task = asyncio.create_task(remote.{method}("me"))
    response: httpx.Response = await task
    return response
"""


def _mypy_strict(tmp_path: Path, source: str) -> tuple[int, str]:
    path = tmp_path / "snippet.py"
    path.write_text(source)
    output, status = _run(path)
    return status, output


def test_create_task_of_an_async_variant_type_checks(tmp_path: Path) -> None:
    """Control for the next test: the snippet is clean apart from the call under test."""
    status, output = _mypy_strict(tmp_path, _CREATE_TASK_SNIPPET.format(method="get_async"))
    assert status == 0, output


def test_create_task_of_a_dual_call_needs_the_async_variant_in_typed_code(tmp_path: Path) -> None:
    """Documented limit (docs/sync-and-async.rst): at runtime create_task(get()) works (test_dual_mode.py), but
    the dual methods are typed as "a response that can also be awaited", not as a coroutine, so a type
    checker asks for get_async() there. Typing the dual form as a coroutine would make mypy flag every
    un-awaited sync call such as ``oauth.x.post(...)`` used as a statement."""
    status, output = _mypy_strict(tmp_path, _CREATE_TASK_SNIPPET.format(method="get"))
    assert status == 1, output
    assert "[arg-type]" in output, output
