#!/usr/bin/env python3
"""A reveal.js slide deck per chapter, exported from its executed notebook, readable offline.

Two commands::

    python scripts/make_slides.py tag notebooks/*.ipynb            # write each cell's slide type
    python scripts/make_slides.py tag --check notebooks/*.ipynb    # fail if one is missing or stale
    python scripts/make_slides.py build _build/jupyter_execute/notebooks _build/html

``tag`` writes ``metadata.slideshow.slide_type`` (the field JupyterLab's property inspector and
nbconvert read) into every cell by one rule (:func:`slide_type`): a chapter's title and each
``##`` section open a new slide, ``###`` subsections a sub-slide (reveal.js' vertical
direction), the Colab install cell is skipped, every other cell continues the slide above it.

``build`` exports the executed notebooks (``make book`` leaves them in
``_build/jupyter_execute/notebooks``) with nbconvert's slides exporter into ``<site>/slides/``:
the prose, equations, figures and tables, without the code (the notebook is where to read it) and
without the exercises' hints and solutions, and with what the book renders and nbconvert does not
turned into plain Markdown first
(:func:`plain_markdown`: glued values, citations, equation numbers, cross-references). reveal.js
and RequireJS come from ``node_modules`` (``npm ci``: ``package.json``) and MathJax from the
book's own ``_static/mathjax``: a deck, like the book, loads nothing from outside the site.
"""

from __future__ import annotations

import argparse
import ast
import json
import posixpath
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import nbformat

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = REPO / "scripts" / "slides_template"
BIBLIOGRAPHY = REPO / "book" / "references.bib"
NODE_MODULES = REPO / "node_modules"
#: what a deck needs from reveal.js (``dist``: the script, its styles and themes; the speaker-notes plugin)
REVEAL_PARTS = ("dist", "plugin/notes")
STATIC = "_static/slides"

SLIDE, SUBSLIDE, SKIP, CONTINUE = "slide", "subslide", "skip", "-"


# ----------------------------------------------------------------------------------------------
# Which cell opens a slide


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _first_line(text: str) -> str:
    """The first line that is neither blank, a MyST target ``(name)=`` nor a MyST comment ``% ...``."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not re.fullmatch(r"\(.+\)=", stripped) and not stripped.startswith("%"):
            return stripped
    return ""


def slide_type(cell: dict[str, Any]) -> str:
    """The reveal.js slide type of one notebook cell.

    A Markdown cell whose first line is a ``#`` or ``##`` heading opens a slide, a ``###`` heading
    a sub-slide; a code cell that installs packages (the Colab cell: ``pip install``) is skipped;
    every other cell continues the slide above it (``-``).
    """
    text = _source(cell)
    if cell["cell_type"] == "markdown":
        heading = re.match(r"(#{1,6})\s", _first_line(text))
        if heading:
            return SLIDE if len(heading.group(1)) <= 2 else SUBSLIDE
        return CONTINUE
    if cell["cell_type"] == "code" and re.search(r"""\bpip\b["',\s]+install\b""", text):
        return SKIP
    return CONTINUE


def tag_notebook(notebook: dict[str, Any]) -> int:
    """Write :func:`slide_type` into every cell's ``metadata.slideshow``; returns how many cells changed."""
    changed = 0
    for cell in notebook["cells"]:
        wanted = slide_type(cell)
        show = cell.setdefault("metadata", {}).setdefault("slideshow", {})
        if show.get("slide_type") != wanted:
            show["slide_type"] = wanted
            changed += 1
    return changed


def tag(paths: list[Path], check: bool) -> int:
    """Tag (or with ``check``, only verify) the notebooks at ``paths``; exit status 1 when one is stale."""
    stale = []
    for path in paths:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        changed = tag_notebook(notebook)
        if changed and check:
            stale.append(f"{path}: {changed} cell(s) without their slide type")
        elif changed:
            nbformat.write(nbformat.from_dict(notebook), str(path))
            print(f"{path}: {changed} cell(s) tagged")
    for line in stale:
        print(line, file=sys.stderr)
    if stale:
        print("run: python scripts/make_slides.py tag notebooks/*.ipynb", file=sys.stderr)
    return 1 if stale else 0


# ----------------------------------------------------------------------------------------------
# What the book renders and a plain notebook does not


def citation_labels(bib: Path = BIBLIOGRAPHY) -> dict[str, tuple[str, str]]:
    """key -> (authors, year) of every entry of the book's BibTeX file, as the book cites them
    (author-year: one author's last name, two joined by "and", "et al." beyond two)."""
    from pybtex.database import parse_file

    labels = {}
    for key, entry in parse_file(str(bib)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(p.last_names) for p in people]
        if not names:
            authors = entry.fields.get("title", key)
        elif len(names) == 1:
            authors = names[0]
        elif len(names) == 2:
            authors = f"{names[0]} and {names[1]}"
        else:
            authors = f"{names[0]} et al."
        labels[key] = (authors.replace("{", "").replace("}", ""), entry.fields.get("year", "n.d."))
    return labels


def glued_values(notebook: dict[str, Any], glue_file: Path | None = None) -> dict[str, str]:
    """name -> text of every value a cell glued: from the outputs' ``scrapbook`` records (a notebook run by
    ``jupyter execute``), and from ``glue_file``, where the book's build moves them (myst-nb writes
    ``<name>.glue.json`` beside the executed ``<name>.ipynb`` and takes the records out of the outputs)."""
    records = [output for cell in notebook["cells"] for output in cell.get("outputs", [])]
    if glue_file is not None and glue_file.is_file():
        records += json.loads(glue_file.read_text(encoding="utf-8")).values()
    values = {}
    for output in records:
        record = output.get("metadata", {}).get("scrapbook", {})
        data = output.get("data", {})
        text = data.get(f"{record.get('mime_prefix', '')}text/plain", data.get("text/plain"))
        name = record.get("name")
        if name and text is not None:
            values[name] = "".join(text) if isinstance(text, list) else text
    return values


def _glue_text(value: str, spec: str) -> str:
    """A glued value as ``{glue:text}`` shows it: a string without its quotes, ``spec`` applied to a number."""
    try:
        literal = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        literal = value
    if spec:
        return format(literal, spec)
    return literal if isinstance(literal, str) else value


def book_link(target: str) -> str:
    """A notebook's link to a page of the book (``../book/notation.md``, ``01_backbones``), as a deck in
    ``slides/`` reaches that page of the built site (``../book/notation.html``)."""
    path, _, fragment = target.partition("#")
    page = posixpath.normpath(posixpath.join("notebooks", path))
    page = posixpath.splitext(page)[0] if page.endswith((".md", ".ipynb")) else page
    return f"../{page}.html" + (f"#{fragment}" if fragment else "")


def page_title(target: str) -> str:
    """The first heading of the book's page that a notebook's ``{doc}`` role names (else the name itself)."""
    page = posixpath.normpath(posixpath.join("notebooks", target))
    for suffix in (".md", ".ipynb"):
        source = REPO / f"{page}{suffix}"
        if source.is_file():
            text = source.read_text(encoding="utf-8")
            cells = json.loads(text)["cells"] if suffix == ".ipynb" else [{"source": text}]
            for cell in cells:
                heading = re.search(r"^#\s+(.+)$", _source(cell), re.M)
                if heading:
                    return heading.group(1).strip()
    return posixpath.basename(page)


LOCAL_LINK = re.compile(r"\]\((?!\w+:|#|/)(?P<target>[^)\s]+\.(?:md|ipynb)(?:#[^)\s]*)?)\)")
EQUATION_LABEL = re.compile(r"\$\$[ \t]*\((?P<label>[^()\s]+)\)[ \t]*$", re.M)
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`")


def equation_numbers(notebook: dict[str, Any]) -> dict[str, int]:
    """label -> number of every labelled display equation (``$$ ... $$ (label)``), numbered in order as the book
    numbers them (per page)."""
    labels = [m.group("label") for cell in notebook["cells"] if cell["cell_type"] == "markdown"
              for m in EQUATION_LABEL.finditer(_source(cell))]
    return {label: number for number, label in enumerate(labels, start=1)}


def plain_markdown(text: str, glue: dict[str, str], equations: dict[str, int],
                   citations: dict[str, tuple[str, str]]) -> str:
    """``text`` with the book's MyST syntax turned into Markdown that nbconvert renders as the book does.

    * ``{glue:text}`name:spec``` -> the glued value (formatted by ``spec``);
    * ``{cite:p}`a,b``` -> "(A et al., 2022; B, 2009)", ``{cite:t}`a``` -> "A et al. (2022)";
    * ``$$ ... $$ (label)`` -> ``$$ ... \\tag{n} $$`` and ``{eq}`label``` -> "(n)", numbered as the book does;
    * ``{doc}`` and Markdown links to the book's pages: links to the built pages (:func:`book_link`);
    * ``{ref}``, ``{numref}``, ``{term}``: their text (``text <target>`` -> text);
    * MyST targets ``(name)=`` and comments ``% ...`` removed.

    Raises:
        KeyError: a glued name, citation key or equation label that the notebook or bibliography lacks.
    """
    def cite(keys: str, textual: bool) -> str:
        unknown = [k.strip() for k in keys.split(",") if k.strip() not in citations]
        if unknown:
            raise KeyError(f"citation key(s) {unknown} not in {BIBLIOGRAPHY.name}")
        found = [citations[k.strip()] for k in keys.split(",") if k.strip()]
        if textual:
            return "; ".join(f"{authors} ({year})" for authors, year in found)
        return "(" + "; ".join(f"{authors}, {year}" for authors, year in found) + ")"

    def role(match: re.Match) -> str:
        name, body = match.group("role"), match.group("body")
        if name in ("glue:text", "glue:", "glue"):
            key, _, spec = body.partition(":")
            if key not in glue:
                raise KeyError(f"no value glued as {key!r} in the executed notebook")
            return _glue_text(glue[key], spec)
        if name in ("cite:p", "cite", "cite:ps"):
            return cite(body, textual=False)
        if name in ("cite:t", "cite:ts"):
            return cite(body, textual=True)
        if name == "doc":
            text = re.match(r"(?s)(.*?)\s*<([^<>]*)>\s*$", body)
            label, target = (text.group(1), text.group(2)) if text else (page_title(body.strip()), body.strip())
            return f"[{label}]({book_link(target)})"
        if name == "eq":
            if body.strip() not in equations:
                raise KeyError(f"no display equation labelled {body.strip()!r} in the notebook")
            return f"({equations[body.strip()]})"
        text = re.match(r"(?s)(.*?)\s*<[^<>]*>\s*$", body)
        return (text.group(1) if text and text.group(1) else body).strip()

    text = EQUATION_LABEL.sub(lambda m: f"\\tag{{{equations[m.group('label')]}}} $$", text)
    text = ROLE.sub(role, text)
    text = LOCAL_LINK.sub(lambda m: f"]({book_link(m.group('target'))})", text)
    lines = [line for line in text.splitlines()
             if not re.fullmatch(r"\s*\(.+\)=\s*", line) and not line.lstrip().startswith("%")]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


DETAILS = re.compile(r"<details>.*?</details>\s*", re.S)


def without_hints(text: str) -> str:
    """``text`` without its ``<details>`` blocks: the exercises' hints and worked solutions stay out of a deck."""
    return DETAILS.sub("", text)


def plain_notebook(notebook: dict[str, Any], citations: dict[str, tuple[str, str]],
                   glue_file: Path | None = None) -> dict[str, Any]:
    """A copy of ``notebook`` with :func:`plain_markdown` and :func:`without_hints` applied to every Markdown cell
    and without the glue records among the outputs."""
    glue, equations = glued_values(notebook, glue_file), equation_numbers(notebook)
    copy = json.loads(json.dumps(notebook))
    for cell in copy["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = without_hints(plain_markdown(_source(cell), glue, equations, citations))
        else:  # the glue records themselves show nothing (the cell prints each value too)
            cell["outputs"] = [o for o in cell.get("outputs", []) if "scrapbook" not in o.get("metadata", {})]
    return copy


# ----------------------------------------------------------------------------------------------
# The decks


def copy_assets(site: Path, node_modules: Path = NODE_MODULES) -> Path:
    """Copy reveal.js (:data:`REVEAL_PARTS`) and RequireJS from ``node_modules`` into ``<site>/_static/slides``."""
    reveal, require = node_modules / "reveal.js", node_modules / "requirejs" / "require.js"
    missing = [str(p) for p in (reveal / "dist" / "reveal.js", require) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"reveal.js or RequireJS is not installed ({', '.join(missing)}): run `npm ci` "
                                f"in {REPO} (package.json pins both)")
    static = site / STATIC
    for part in REVEAL_PARTS:
        shutil.copytree(reveal / part, static / "reveal.js" / part, dirs_exist_ok=True)
    shutil.copy2(require, static / "require.js")
    return static


def build(executed: Path, site: Path, node_modules: Path = NODE_MODULES,
          progress: Callable[[str], None] = print) -> list[Path]:
    """Export every executed notebook in ``executed`` as ``<site>/slides/<name>.slides.html``; returns the decks.

    Raises:
        FileNotFoundError: no executed notebook in ``executed``, no MathJax in the site, or no reveal.js.
    """
    from nbconvert import SlidesExporter

    notebooks = sorted(executed.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebook in {executed}: build the book first (make book)")
    if not (site / "_static" / "mathjax" / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"no MathJax in {site}/_static/mathjax: build the book first (make book)")
    copy_assets(site, node_modules)
    exporter = SlidesExporter(
        template_name="book_reveal", extra_template_basedirs=[str(TEMPLATE_DIR)],
        reveal_url_prefix=f"../{STATIC}/reveal.js", require_js_url=f"../{STATIC}/require.js",
        mathjax_url="../_static/mathjax/tex-chtml.js", reveal_scroll=True, exclude_anchor_links=True,
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,   # figures and tables, not code reveal_theme="simple",
        reveal_transition="none")
    citations = citation_labels()
    out = site / "slides"
    out.mkdir(parents=True, exist_ok=True)
    decks = []
    for path in notebooks:
        notebook = plain_notebook(nbformat.read(str(path), as_version=4), citations, path.with_suffix(".glue.json"))
        body, _ = exporter.from_notebook_node(nbformat.from_dict(notebook), resources={"metadata": {"name": path.stem}})
        deck = out / f"{path.stem}.slides.html"
        deck.write_text(body, encoding="utf-8")
        decks.append(deck)
        progress(f"{deck.relative_to(site)}: {sum(1 for c in notebook['cells'] if _slide_of(c) == SLIDE)} slides")
    return decks


def _slide_of(cell: dict[str, Any]) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", CONTINUE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tagger = commands.add_parser("tag", help="write (or --check) every cell's slide type")
    tagger.add_argument("notebooks", nargs="+", type=Path)
    tagger.add_argument("--check", action="store_true", help="only check; exit 1 if a notebook is not tagged")
    builder = commands.add_parser("build", help="export the executed notebooks as decks into <site>/slides")
    builder.add_argument("executed", type=Path, help="folder of executed notebooks (_build/jupyter_execute/notebooks)")
    builder.add_argument("site", type=Path, help="the built book (_build/html)")
    args = parser.parse_args(argv)
    if args.command == "tag":
        return tag(args.notebooks, args.check)
    try:
        build(args.executed, args.site)
    except (FileNotFoundError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
