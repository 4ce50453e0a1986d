"""Run a script as if only what a documented ``pip install`` line installs were there.

A fresh virtualenv after ``pip install -e ".[sqlalchemy]" cachelib`` holds
this project with its dependencies and that extra's, cachelib, and what
those require in turn. :func:`installed_by` computes that set of
distribution names from the installed metadata (markers evaluated, extras
followed), offline. ``python -m tests.support.fresh_install SCRIPT ARGS...``
then runs *SCRIPT* with an import hook that makes every other installed
distribution unimportable, the way it would be missing from that fresh
virtualenv: importing one raises the same :class:`ModuleNotFoundError` the
reader would see. The standard library, the script's own directory and this
repository's package stay importable. The allowed set comes in the
``FRESH_INSTALL_ALLOWED`` environment variable (names separated by spaces).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import os
import re
import runpy
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import Requirement

__all__ = ["ENV", "installed_by", "pip_targets"]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "flask_oauth1_async"
ENV = "FRESH_INSTALL_ALLOWED"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_targets(line: str) -> list[tuple[str, frozenset[str]]]:
    """``(distribution, extras)`` for each target of a ``pip install ...`` line (``.`` is this project)."""
    words = shlex.split(line)
    if words[:2] != ["pip", "install"]:
        raise ValueError(f"not a pip install line: {line!r}")
    targets = []
    for word in words[2:]:
        if word.startswith("-"):
            if word not in ("-e", "--editable"):
                raise ValueError(f"unexpected pip option {word!r} in {line!r}")
            continue
        name, _, extras = word.partition("[")
        extra_set = frozenset(e.strip() for e in extras.rstrip("]").split(",") if e.strip())
        targets.append((PROJECT if name in (".", "./") else name, extra_set))
    return targets


def installed_by(targets: Iterable[tuple[str, frozenset[str]]]) -> set[str]:
    """The normalised names of every distribution that installing *targets* brings in."""
    found: set[str] = set()
    todo = [(name, extras) for name, extras in targets]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        key = (_norm(name), extras)
        if key in seen:
            continue
        seen.add(key)
        found.add(_norm(name))
        for text in importlib.metadata.requires(name) or []:
            req = Requirement(text)
            wanted = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras))
            if wanted:
                todo.append((req.name, frozenset(req.extras)))
    return found


def _module_owners() -> dict[str, set[str]]:
    """Top-level importable name -> the distributions that install it, from their RECORD files.

    (``importlib.metadata.packages_distributions()`` reads only ``top_level.txt``
    on Python 3.10, which wheels built by flit and others do not have.)
    """
    owners: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        name = _norm(dist.metadata["Name"] or "")
        tops = set((dist.read_text("top_level.txt") or "").split())
        for path in dist.files or []:
            first = path.parts[0]
            if first == ".." or first.endswith((".dist-info", ".egg-info", ".data")) or first == "__pycache__":
                continue
            if len(path.parts) > 1:
                tops.add(first)
            elif first.endswith((".py", ".so", ".pyd")):
                tops.add(first.split(".", 1)[0])
        for top in tops:
            owners.setdefault(top, set()).add(name)
    return owners


class _OnlyInstalled(importlib.abc.MetaPathFinder):
    def __init__(self, allowed: set[str], local: Sequence[Path]) -> None:
        self.allowed = allowed
        self.local = local
        self.providers = _module_owners()

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        top = fullname.partition(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return None
        if any((where / top).exists() or (where / f"{top}.py").exists() for where in self.local):
            return None
        dists = self.providers.get(top)
        if dists and not dists & self.allowed:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def main(argv: list[str]) -> None:
    script, *args = argv
    allowed = set(os.environ[ENV].split())
    sys.meta_path.insert(0, _OnlyInstalled(allowed, [Path(script).resolve().parent, ROOT]))
    sys.argv = [script, *args]
    sys.path[0] = str(Path(script).resolve().parent)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
