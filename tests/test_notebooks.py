"""The chapters' shared structure: one install cell, one import style, the profile read by the library."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from rec_unlearn_lib.notebook import REPOSITORY_URL, install_cell

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_the_repository_address_is_kept_in_step() -> None:
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["repository"]["url"] == REPOSITORY_URL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_opens_with_install_parameters_and_setup(path: Path) -> None:
    cells = _code_cells(path)
    assert "".join(cells[0]["source"]) == install_cell()
    params = cells[1]
    assert "parameters" in params.get("metadata", {}).get("tags", [])
    assert "PROFILE = rul.get_profile()" in "".join(params["source"])
    assert "rul.notebook.setup(PROFILE, SEED" in "".join(cells[2]["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_uses_one_import_style_and_no_outputs(path: Path) -> None:
    for cell in _code_cells(path):
        source = "".join(cell["source"])
        assert not re.search(r"^\s*from rec_unlearn_lib\b|^\s*import rec_unlearn_lib(?! as rul$)", source, re.M), source
        assert not cell.get("outputs") and cell.get("execution_count") is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_figure_cell_has_a_caption_alt_text_and_one_output_to_wrap(path: Path) -> None:
    """A cell whose plot the book wraps as a named figure (``mystnb.figure``) carries a caption and alt text, and
    records or displays nothing else: the book would wrap each such output under the same name."""
    for cell in _code_cells(path):
        options = cell.get("metadata", {}).get("mystnb", {})
        if "figure" not in options:
            continue
        source = "".join(cell["source"])
        assert options["figure"].get("caption") and options["figure"].get("name"), source[:80]
        assert options.get("image", {}).get("alt"), source[:80]
        assert not re.search(r"\bglue\(|\bdisplay\(", source), options["figure"]["name"]


def test_glue_prints_for_jupyter_readers_but_not_while_the_book_is_built(capsys, monkeypatch) -> None:
    from rec_unlearn_lib.notebook import BOOK_BUILD_ENV, glue
    monkeypatch.delenv(BOOK_BUILD_ENV, raising=False)
    glue("answer", "42 %")
    assert capsys.readouterr().out == "answer: 42 %\n"
    monkeypatch.setenv(BOOK_BUILD_ENV, "1")
    glue("answer", "42 %")
    assert capsys.readouterr().out == ""
