"""Sphinx configuration of gdfast's documentation.

Build from the repository root, with gdfast importable (installed, or on PYTHONPATH):

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""
import gdfast

project = "gdfast"
author = "the gdfast developers"
copyright = "2026, the gdfast developers"
version = release = gdfast.__version__

extensions = [
    "myst_parser",            # the pages are Markdown
    "sphinx.ext.autodoc",     # the API reference, from the docstrings
    "numpydoc",               # ... which are written in numpydoc format
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]

# Markdown: anchors for headings down to ###, so pages can link to sections.
myst_heading_anchors = 3
# The pages' code blocks are doctests (tests/test_docs.py runs them): show them as Python.
highlight_language = "python"

# The reference documents objects by their public names only; the estimators' members are
# listed by autodoc, not by numpydoc's autosummary tables.
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

html_theme = "alabaster"          # ships with Sphinx: the build needs no download
html_title = f"gdfast {release}"
html_static_path = []
