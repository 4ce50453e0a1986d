"""The public surface: every exported name and public method is documented, errors keep Authlib's base."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest
from authlib.integrations.base_client import OAuthError

import flask_oauth1_async
import flask_oauth1_async.compat.flask_oauthlib as compat
import flask_oauth1_async.errors as errors
import flask_oauth1_async.signing as signing
import flask_oauth1_async.tokens as tokens

MODULES: list[ModuleType] = [flask_oauth1_async, errors, signing, tokens, compat]


def _public_objects() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for module in MODULES:
        assert module.__doc__, f"{module.__name__} has no module docstring"
        for name in module.__all__:
            obj = getattr(module, name)
            if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants and typing aliases carry no docstring of their own
            if not obj.__module__.startswith("flask_oauth1_async"):
                continue  # re-exported from Authlib for convenience (OAuthError)
            found.append((f"{module.__name__}.{name}", obj))
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if inspect.isfunction(member) or isinstance(member, property):
                        found.append((f"{module.__name__}.{name}.{attr}", member))
    return found


@pytest.mark.parametrize(("qualname", "obj"), _public_objects(), ids=lambda v: v if isinstance(v, str) else "")
def test_public_name_has_a_docstring(qualname: str, obj: object) -> None:
    doc = obj.__doc__ if not isinstance(obj, property) else (obj.fget.__doc__ if obj.fget else None)
    assert doc, f"{qualname} has no docstring"
    assert doc.strip(), f"{qualname} has an empty docstring"


def test_every_error_is_an_authlib_oauth_error() -> None:
    classes = [obj for _, obj in inspect.getmembers(errors, inspect.isclass) if issubclass(obj, Exception)]
    ours = [cls for cls in classes if cls.__module__ == errors.__name__]
    assert len(ours) >= 12
    for cls in ours:
        assert issubclass(cls, errors.OAuth1Error), cls
        assert issubclass(cls, OAuthError), cls


def test_error_tree_in_docstring_names_every_class() -> None:
    ours = [name for name, obj in inspect.getmembers(errors, inspect.isclass) if obj.__module__ == errors.__name__]
    for name in ours:
        assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in the errors module docstring"


def test_package_ships_py_typed() -> None:
    from pathlib import Path

    assert (Path(flask_oauth1_async.__file__).parent / "py.typed").is_file()
