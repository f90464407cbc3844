"""The chapters' slide decks (scripts/make_slides.py): which cell opens a slide, the MyST the book renders
turned into Markdown a deck renders the same way, and a deck built offline from a small executed notebook."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


slides = _load("make_slides", REPO / "scripts" / "make_slides.py")
book_html = _load("book_html_checks", REPO / "tests" / "test_book_html.py")


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str, **metadata) -> dict:
    return {"cell_type": "code", "metadata": metadata, "source": text, "outputs": [], "execution_count": None}


@pytest.mark.parametrize("cell, wanted", [
    (md("# Influence functions\n\n**What you will learn**"), "slide"),
    (md("## 2. The derivation\ntext"), "slide"),
    (md("### 2.1 Up-weighting\ntext"), "subslide"),
    (md("(sec-derivation)=\n## 2. The derivation"), "slide"),          # a MyST target before the heading
    (md("% a comment\n\n### 4.2 The Hessian"), "subslide"),
    (md("Some prose with a # inside, not a heading."), "-"),
    (md("#hashtag is not a heading"), "-"),
    (code('subprocess.run([sys.executable, "-m", "pip", "install", "-q", "x"])'), "skip"),
    (code("!pip install rec_unlearn_lib"), "skip"),
    (code("PROFILE = 'quick'", tags=["parameters"]), "-"),
    (code("fig = plot(table)"), "-"),
])
def test_slide_type(cell: dict, wanted: str) -> None:
    assert slides.slide_type(cell) == wanted


def test_tagging_writes_every_cell_and_is_idempotent() -> None:
    notebook = {"cells": [md("# Title"), code("x = 1"), md("### Part")]}
    assert slides.tag_notebook(notebook) == 3
    assert [c["metadata"]["slideshow"]["slide_type"] for c in notebook["cells"]] == ["slide", "-", "subslide"]
    assert slides.tag_notebook(notebook) == 0


def test_the_committed_notebooks_carry_their_slide_types() -> None:
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    assert slides.tag(notebooks, check=True) == 0, "run: python scripts/make_slides.py tag notebooks/*.ipynb"


def test_a_stale_notebook_fails_the_check(tmp_path: Path, capsys) -> None:
    path = tmp_path / "x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title")]), str(path))
    assert slides.tag([path], check=True) == 1
    assert "1 cell(s) without their slide type" in capsys.readouterr().err
    assert slides.tag([path], check=False) == 0 and slides.tag([path], check=True) == 0


CITATIONS = {"koh2017influence": ("Koh and Liang", "2017"), "chen2022receraser": ("Chen et al.", "2022")}


def test_plain_markdown_renders_what_the_book_renders() -> None:
    text = ("(sec-x)=\n## 2. Results\n% an authoring comment\n"
            "The error is {glue:text}`err` over {glue:text}`n:,d` rows ({glue:text}`share:.1%`), "
            "as {cite:t}`koh2017influence` derive and others use {cite:p}`koh2017influence,chen2022receraser`.\n"
            "$$\nJ(\\theta)\n$$ (eq-j)\n\nBy {eq}`eq-j` and {eq}`eq-k`:\n$$ x $$ (eq-k)\n"
            "See {doc}`../book/notation`, {doc}`the chapter <01_backbones>`, [the intro](../book/intro.md#map), "
            "{ref}`the bibliography <bibliography>` and [a site](https://example.org/a.md).\n")
    glue = {"err": "'21 %'", "n": "80000", "share": "0.0812"}
    equations = slides.equation_numbers({"cells": [md(text)]})
    assert equations == {"eq-j": 1, "eq-k": 2}
    out = slides.plain_markdown(text, glue, equations, CITATIONS)
    assert out.startswith("## 2. Results\nThe error is 21 % over 80,000 rows (8.1%)")
    assert "as Koh and Liang (2017) derive" in out
    assert "(Koh and Liang, 2017; Chen et al., 2022)" in out
    assert "J(\\theta)\n\\tag{1} $$" in out and "$$ x \\tag{2} $$" in out and "By (1) and (2):" in out
    assert "[Notation](../book/notation.html)" in out
    assert "[the chapter](../notebooks/01_backbones.html)" in out
    assert "[the intro](../book/intro.html#map)" in out
    assert "the bibliography and [a site](https://example.org/a.md)" in out
    assert not [role for role in ("{glue", "{cite", "{eq}", "{doc}", "{ref}") if role in out]
    assert "an authoring comment" not in out and "(sec-x)=" not in out


@pytest.mark.parametrize("text, missing", [
    ("{glue:text}`absent`", "absent"), ("{cite:p}`nobody2020`", "nobody2020"), ("{eq}`eq-none`", "eq-none")])
def test_plain_markdown_names_what_it_cannot_find(text: str, missing: str) -> None:
    with pytest.raises(KeyError, match=missing):
        slides.plain_markdown(text, {}, {}, CITATIONS)


def test_citation_labels_read_the_books_bibliography() -> None:
    labels = slides.citation_labels()
    assert labels["chen2022receraser"] == ("Chen et al.", "2022")
    assert labels["koh2017influence"] == ("Koh and Liang", "2017")


def _executed_notebook(path: Path) -> None:
    glued = nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "'0.87'"},
                                   metadata={"scrapbook": {"name": "auc", "mime_prefix": "application/papermill.record/"}})
    printed = nbformat.v4.new_output("stream", name="stdout", text="auc: 0.87\n")
    cells = [nbformat.v4.new_markdown_cell("# A chapter\n\nWhat you will learn {cite:p}`koh2017influence`."),
             nbformat.v4.new_code_cell("!pip install x"),
             nbformat.v4.new_markdown_cell("## 1. A section\n\nThe AUC is {glue:text}`auc` and $a^2$:\n$$ b $$ (eq-b)"),
             nbformat.v4.new_code_cell("glue('auc', '0.87')", outputs=[glued, printed]),
             nbformat.v4.new_markdown_cell("### 1.1 A subsection\n\nBy {eq}`eq-b`."),
             nbformat.v4.new_markdown_cell("## Exercises\n\n1. Try it.\n\n<details><summary>Hint</summary>\n\n"
                                           "Look at (1).\n\n</details>\n")]
    notebook = nbformat.v4.new_notebook(cells=cells)
    slides.tag_notebook(notebook)
    nbformat.write(notebook, str(path))


def _source_of(path: Path) -> str:
    return "".join(slides._source(c) for c in nbformat.read(str(path), as_version=4).cells)


def _fake_assets(root: Path) -> tuple[Path, Path]:
    """A site with the book's MathJax, and node_modules with reveal.js and RequireJS (stand-in files)."""
    site, node_modules = root / "site", root / "node_modules"
    for path in (site / "_static" / "mathjax" / "tex-chtml.js", node_modules / "reveal.js" / "dist" / "reveal.js",
                 node_modules / "reveal.js" / "dist" / "reveal.css",
                 node_modules / "reveal.js" / "dist" / "theme" / "simple.css",
                 node_modules / "reveal.js" / "plugin" / "notes" / "notes.js", node_modules / "requirejs" / "require.js"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/* stand-in */")
    return site, node_modules


def test_a_deck_is_built_offline_from_an_executed_notebook(tmp_path: Path) -> None:
    executed = tmp_path / "executed"
    executed.mkdir()
    _executed_notebook(executed / "07_demo.ipynb")
    site, node_modules = _fake_assets(tmp_path)
    decks = slides.build(executed, site, node_modules, progress=lambda line: None)
    assert decks == [site / "slides" / "07_demo.slides.html"]
    deck = decks[0].read_text(encoding="utf-8")
    assert book_html.resource_problems(deck, decks[0], site) == []           # nothing from outside the site
    assert '../_static/mathjax/tex-chtml.js' in deck and "../_static/slides/reveal.js/dist/reveal.js" in deck
    assert deck.count("<section") >= 4                        # title, section, subsection, exercises
    assert "(Koh and Liang, 2017)" in deck and "The AUC is 0.87" in deck and "By (1)." in deck
    assert "\\tag{1}" in deck and "pip install" not in deck                  # the install cell is skipped
    assert "glue(&#39;auc&#39;" not in deck and "glue('auc'" not in deck    # no code, only what it shows
    assert "Hint" in _source_of(executed / "07_demo.ipynb") and "Hint" not in deck
    assert "application/papermill.record" not in deck and "auc: 0.87" in deck


def test_a_deck_needs_the_executed_notebooks_and_reveal(tmp_path: Path) -> None:
    site, node_modules = _fake_assets(tmp_path)
    with pytest.raises(FileNotFoundError, match="build the book first"):
        slides.build(tmp_path / "nothing", site, node_modules)
    executed = tmp_path / "executed"
    executed.mkdir()
    _executed_notebook(executed / "07_demo.ipynb")
    with pytest.raises(FileNotFoundError, match="npm ci"):
        slides.build(executed, site, tmp_path / "no_node_modules")
