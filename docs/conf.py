"""Sphinx's settings for geows' documentation (docs/build.sh builds it; tests/test_docs.py
builds it with warnings as errors).

Sphinx with MyST rather than MkDocs: the Python plugin API's reference comes from
geows/plugin/api.py's docstrings through autodoc, cross-references that do not resolve are
errors (-n), and the pages generated from the code (directives, command line, C header) are
an extension of a few lines (_ext/geows_reference.py) in the language the code is in. The
pages stay Markdown, as the README is.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

project = "geows"
author = "the geows developers"
copyright = "the geows developers, Apache License 2.0"

extensions = ["myst_parser", "sphinx.ext.autodoc", "geows_reference"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Every cross-reference must resolve (sphinx-build -n): a page, a heading, a Python name.
nitpicky = True
# Names autodoc meets in signatures that are not geows' to document.
nitpick_ignore = [("py:class", "geows.http.Request"), ("py:class", "Request"),
                  ("py:class", "_Channel"), ("py:class", "geows.plugin.threads.T")]
nitpick_ignore_regex = [("py:class", r"collections\.abc\..*|typing\..*")]

myst_enable_extensions = ["colon_fence", "deflist"]
# `[text](#a-heading)` and `[text](page.md#a-heading)` link to headings by their slugs.
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "separated"

# Commands and options stay as typed: -- is not a dash, " is not a curly quote.
smartquotes = False

html_theme = "furo"
html_title = "geows"
# Nothing fetched from elsewhere: the built site opens offline.
html_permalinks_icon = "#"
