"""Run mypy --strict on the typing modules: the API's static types are part of its contract."""

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
    assert len(expected) == 3
    output, status = _run(TYPING / "check_errors.py")
    assert status == 1, output
    found = {
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"check_errors\.py:(\d+): error: .*\[([\w-]+)\]$", output, re.M)
    }
    assert found == expected, output
