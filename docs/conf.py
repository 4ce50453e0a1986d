"""Sphinx configuration for the flask_oauth1_async documentation (built by ``nox -s docs``)."""

from __future__ import annotations

import importlib.util
import os
import sys

import flask_oauth1_async

_DOCS = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_DOCS)

# The benchmark page includes the headline tables of the committed Markdown
# report (benchmarks/results/latest.md), converted here at build time.
sys.path.insert(0, _ROOT)
from benchmarks.docs_snippet import write_snippet  # noqa: E402

write_snippet(
    os.path.join(_ROOT, "benchmarks", "results", "latest.md"),
    os.path.join(_DOCS, "_generated", "benchmark-headline.inc"),
)


def _write_settings(path: str, settings: object) -> None:
    """Render declared settings (flask_oauth1_async.config) as a definition list, the only copy of their text."""
    import textwrap

    lines = []
    for name, setting in settings.items():  # type: ignore[attr-defined]
        lines.extend([f".. _setting-{name}:", "", f"``{name}``"])
        lines.extend(
            textwrap.wrap(
                setting.doc,
                width=76,
                initial_indent="    ",
                subsequent_indent="    ",
                break_on_hyphens=False,
                break_long_words=False,
            )
        )
        lines.append("")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = "\n".join(lines) + "\n"
    from pathlib import Path

    target = Path(path)
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current != text:  # rewrite only on change, so that Sphinx rebuilds only what changed
        target.write_text(text, encoding="utf-8")


from flask_oauth1_async import config as _config  # noqa: E402

_write_settings(os.path.join(_DOCS, "_generated", "settings.inc"), _config.SETTINGS)
_write_settings(os.path.join(_DOCS, "_generated", "signing-options.inc"), _config.SIGNING_OPTIONS)


def _write_config_keys(path: str) -> None:
    """The ``{NAME}_*`` config keys, one line each, from the same declarations."""
    from pathlib import Path

    rows = [(f"``{{NAME}}_{key.upper()}``", f":ref:`{key} <setting-{key}>`") for key in _config.CONFIG_KEYS]
    width = max(len(left) for left, _ in rows)
    rule = "=" * width + "  " + "=" * 40
    lines = [rule, *(f"{left.ljust(width)}  {right}" for left, right in rows), rule]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


_write_config_keys(os.path.join(_DOCS, "_generated", "config-keys.inc"))

project = "flask_oauth1_async"
author = "flask_oauth1_async developers"
copyright = "flask_oauth1_async developers"
release = flask_oauth1_async.__version__
version = ".".join(release.split(".")[:2])

# No intersphinx: the docs build offline.
extensions = ["sphinx.ext.autodoc"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"show-inheritance": True}

exclude_patterns = ["_build", "_generated", "requirements.txt"]
templates_path: list[str] = []
default_role = "code"

html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_title = f"flask_oauth1_async {release}"
# The title is one long word: docs/_static/sidebar.css sizes it so that the
# sidebar wraps it at the space before the version, never inside the name.
html_static_path = ["_static"]
html_css_files = ["sidebar.css"] if html_theme == "furo" else []
