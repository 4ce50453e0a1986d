"""A module of an optional extra says which extra to install when its dependency is missing.

Each case runs in a fresh interpreter where the dependency cannot be
imported (``sys.modules[name] = None`` makes Python refuse it, as if it were
not installed), imports the module the docs point to, and checks the error.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import sys
    for name in {blocked!r}:
        sys.modules[name] = None
    try:
        import {module}
    except ImportError as exc:
        print(type(exc).__name__, exc.name, sep="|")
        print(exc)
    else:
        print("imported")
    """
)


def _import_without(module: str, blocked: list[str]) -> list[str]:
    source = PROBE.format(module=module, blocked=blocked)
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.splitlines()


@pytest.mark.parametrize("blocked", [["sqlalchemy"], ["sqlalchemy.orm"]])
def test_contrib_sqlalchemy_without_sqlalchemy_names_the_extra(blocked: list[str]) -> None:
    kind, message = _import_without("flask_oauth1_async.contrib.sqlalchemy", blocked)
    assert kind == f"ImportError|{blocked[0]}"  # .name still says which module is missing
    assert 'pip install "flask_oauth1_async[sqlalchemy]"' in message
    assert "SQLAlchemy 2" in message


def test_contrib_sqlalchemy_imports_when_the_extra_is_there() -> None:
    assert _import_without("flask_oauth1_async.contrib.sqlalchemy", []) == ["imported"]
