"""The package's structure, as docs/how-it-works.rst describes it: layers, no import cycle, modules of a size.

The module table of the contributors' page lists every module of the
package, in layers: a module imports only modules listed below it (type-only
imports included), so there is no import cycle. These tests read the
package's imports with :mod:`ast` and hold them against that table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_oauth1_async"
DOC = ROOT / "docs" / "how-it-works.rst"
#: Subpackages listed as one entry; their own internal imports are not layered.
SUBPACKAGES = ("_backends", "compat", "testing", "contrib")
#: Layers over the core that are allowed to be larger (a migration layer, the fake provider's parts).
NOT_CORE = ("compat", "testing")
CORE_MAX_LINES = 550


def _entry_of(module: str) -> str:
    """The table entry of a dotted module name under the package (``_backends.aiohttp`` -> ``_backends/``)."""
    head = module.split(".", 1)[0]
    return f"{head}/" if head in SUBPACKAGES else f"{head}.py"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules that *module* imports (relative and absolute, at any depth, TYPE_CHECKING included)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            elif (node.module or "").startswith("flask_oauth1_async"):
                name = (node.module or "").removeprefix("flask_oauth1_async").lstrip(".")
            else:
                continue
            subs = [f"{name}.{a.name}".lstrip(".") for a in node.names if f"{name}.{a.name}".lstrip(".") in modules]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(name)  # names taken from the module itself (or the package's __init__, as "")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("flask_oauth1_async"):
                    found.add(alias.name.removeprefix("flask_oauth1_async").lstrip("."))
    return {name for name in found if name != module}


def _table() -> list[list[str]]:
    """The rows of the module table (between its rules): the entries named in each row's first column."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("Which module owns what", 1)[1].split("Where a new feature goes", 1)[0]
    lines = section.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("=")]
    body = lines[rules[1] + 1 : rules[2]]  # rule, header, rule, rows..., rule
    rows: list[list[str]] = []
    continues = False
    for line in body:
        if line.startswith(" "):
            continue  # the second column continues
        names = re.findall(r"``([\w./]+)``", line[:40])
        if continues and rows:
            rows[-1].extend(names)  # a first column ending in a comma continues on the next line
        else:
            rows.append(names)
        continues = line[:40].rstrip().endswith(",")
    return rows


def test_the_table_names_every_module_and_no_other() -> None:
    listed = [name for row in _table() for name in row if name != "aiohttp.py"]
    modules = {_entry_of(m) for m in _modules() if m}
    assert len(listed) == len(set(listed)), f"a module is listed twice: {listed}"
    assert set(listed) == modules, (
        f"in the table, not in the package: {sorted(set(listed) - modules)}; "
        f"in the package, not in the table: {sorted(modules - set(listed))}"
    )


def test_every_module_imports_only_modules_listed_below_it() -> None:
    order = {name: index for index, row in enumerate(_table()) for name in row}
    modules = _modules()
    wrong = []
    for module, path in modules.items():
        entry = _entry_of(module)
        for imported in _imports(module, path, modules):
            if imported == "":
                wrong.append(f"{module} imports the package's __init__ (an import cycle)")
                continue
            target = _entry_of(imported)
            if target == entry:
                continue  # inside one subpackage
            if order[target] <= order[entry]:
                wrong.append(f"{module} ({entry}) imports {imported} ({target}), which is not below it")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_core_module_is_much_over_500_lines() -> None:
    big = {
        m: n
        for m, path in _modules().items()
        if m.split(".", 1)[0] not in NOT_CORE
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > CORE_MAX_LINES
    }
    assert not big, f"core modules over {CORE_MAX_LINES} lines: {big}"
