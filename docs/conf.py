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
