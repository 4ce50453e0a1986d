"""Sphinx configuration for the flask_oauth1_async documentation (built by ``nox -s docs``)."""

from __future__ import annotations

import importlib.util

import flask_oauth1_async

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

exclude_patterns = ["_build", "requirements.txt"]
templates_path: list[str] = []
default_role = "code"

html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_title = f"flask_oauth1_async {release}"
# The title is one long word: docs/_static/sidebar.css sizes it so that the
# sidebar wraps it at the space before the version, never inside the name.
html_static_path = ["_static"]
html_css_files = ["sidebar.css"] if html_theme == "furo" else []
