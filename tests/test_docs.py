"""The documentation's examples: every Python block of README.md and docs/ runs as a doctest, and
so do the examples in the docstrings of every gdfast module (the API reference shows them)."""
import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import gdfast.datasets

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
PAGES = [p for p in PAGES if "_build" not in p.parts and p.exists()]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
IMPORT = re.compile(r"^>>> (?:from|import) (\w+)", re.MULTILINE)


def _id(path):
    return str(path.relative_to(ROOT))


@pytest.mark.skipif(not PAGES, reason="run from a source checkout (README.md and docs/)")
@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_python_block_is_a_doctest(page):
    # an example without prompts would never run, and the closing fence right after an
    # expected output would be read as part of it
    for block in PYTHON_BLOCK.findall(page.read_text(encoding="utf-8")):
        assert block.lstrip().startswith(">>>"), f"{_id(page)}: a python block without >>>"
        assert block.endswith("\n\n"), \
            f"{_id(page)}: no blank line before a closing fence:\n{block}"


@pytest.mark.skipif(not PAGES, reason="run from a source checkout (README.md and docs/)")
@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_page_examples_run(page):
    text = page.read_text(encoding="utf-8")
    for module in sorted(set(IMPORT.findall(text))):
        pytest.importorskip(module)          # e.g. scikit-learn or scipy, optional extras
    result = doctest.testfile(str(page), module_relative=False, optionflags=FLAGS,
                              encoding="utf-8")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"


MODULES = sorted(m.name for m in pkgutil.walk_packages(gdfast.__path__, "gdfast.")
                 if not m.name.startswith("gdfast._kernels"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if name.startswith("gdfast._sklearn"):
        pytest.importorskip("sklearn")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"


def test_the_public_api_has_docstring_examples():
    # the pages of the API reference that show examples: at least one runs in each
    for obj in (gdfast, gdfast.fit, gdfast.FitResult, gdfast.datasets, gdfast.GDClassifier,
                gdfast.GDRegressor):
        assert sum(len(t.examples) for t in doctest.DocTestFinder().find(obj)) > 0, obj
