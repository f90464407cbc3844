"""Checks over the built book (``_build/html``): what a reader of the rendered pages would see.

Without a build these tests skip, saying so; with ``REC_UNLEARN_REQUIRE_BOOK=1`` (CI, after
``make book``) a missing build is a failure instead. ``REC_UNLEARN_BOOK_HTML`` points them at
another build folder (default ``_build/html`` beside ``_config.yml``).

Each check is a function from one page's HTML to a list of problems (empty: the page is
fine), so that the unit tests at the end can feed it a broken page and see it complain.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup, Tag

REPO = Path(__file__).resolve().parents[1]
REQUIRE_ENV = "REC_UNLEARN_REQUIRE_BOOK"
SITE_ENV = "REC_UNLEARN_BOOK_HTML"
TRACEBACK = "Traceback (most recent call last)"
MATHJAX_SCRIPT = re.compile(r"(^|/)_static/mathjax/[^/?#]+\.js(\?|#|$)")


# ----------------------------------------------------------------------------------------------
# The book: its table of contents and its built pages


def toc_files(toc_path: Path = REPO / "_toc.yml") -> list[str]:
    """Every ``file:`` of a Jupyter Book ``_toc.yml`` (root first), without extension."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    found = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                found.append(node["file"])
            for key in ("parts", "chapters", "sections", "entries"):
                walk(node.get(key))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [str(PurePosixPath(f).with_suffix("")) if f.endswith((".md", ".ipynb")) else f for f in found]


def site_dir() -> Path:
    return Path(os.environ.get(SITE_ENV) or REPO / "_build" / "html")


def built_site() -> Path:
    """The build folder; skips the test without one, or fails it under ``REC_UNLEARN_REQUIRE_BOOK=1``."""
    root = site_dir()
    if not (root / "index.html").is_file():
        reason = f"no built book at {root} (run `make book` first; CI builds it, then runs these tests)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return root


@pytest.fixture(scope="module")
def site() -> Path:
    return built_site()


def pages(root: Path) -> list[Path]:
    """Every HTML page of the site, the theme's and extensions' static files excluded."""
    return sorted(p for p in root.rglob("*.html") if not p.relative_to(root).parts[0].startswith("_"))


@functools.lru_cache(maxsize=64)
def soup_of(html: str) -> BeautifulSoup:
    """The parsed page, parsed once for all checks (which therefore never change it)."""
    return BeautifulSoup(html, "html.parser")


def _count_outside(body: Tag, needle: str, code: str) -> int:
    """How often ``needle`` occurs in ``body``'s text outside the elements matched by ``code``."""
    matched = body.select(code)
    ids = {id(el) for el in matched}
    inside = [el for el in matched if not any(id(p) in ids for p in el.parents)]
    return body.get_text().count(needle) - sum(el.get_text().count(needle) for el in inside)


def article(soup: BeautifulSoup) -> Tag:
    """The page's own content, without the theme's navigation, header and footer."""
    for selector in ("article.bd-article", "article", "[role=main]", "main", "body"):
        found = soup.select_one(selector)
        if found is not None:
            return found
    return soup


def _local_target(page: Path, root: Path, url: str) -> Path | None:
    """The file a relative ``url`` of ``page`` points to, or None for a link off the site."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("//"):
        return None
    if not parts.path:
        return page
    path = unquote(parts.path)
    target = (root / path.lstrip("/")) if path.startswith("/") else (page.parent / path)
    return Path(os.path.normpath(target))


def _is_external(url: str) -> bool:
    parts = urlsplit(url.strip())
    return bool(parts.netloc) or parts.scheme in {"http", "https"} or url.strip().startswith("//")


# ----------------------------------------------------------------------------------------------
# The checks: each takes one page (its HTML, where it lies, the site's root) and returns problems


def resource_problems(html: str, page: Path, root: Path) -> list[str]:
    """Scripts and stylesheets come from the site itself, and exist there (the book reads offline)."""
    soup = soup_of(html)
    problems = []
    urls = [(s["src"], "script") for s in soup.find_all("script", src=True)]
    for link in soup.find_all("link", href=True):
        rel = {r.lower() for r in link.get("rel", [])}
        kind = (link.get("as") or "").lower()
        if "stylesheet" in rel or ({"preload", "modulepreload"} & rel and kind in {"script", "style", "font"}):
            urls.append((link["href"], "stylesheet" if "stylesheet" in rel else f"preloaded {kind}"))
    for style in soup.find_all("style"):
        for url in re.findall(r"@import\s+(?:url\()?['\"]?([^'\")\s;]+)", style.get_text()):
            urls.append((url, "imported stylesheet"))
    for url, kind in urls:
        if _is_external(url):
            problems.append(f"loads a {kind} from outside the site: {url}")
            continue
        target = _local_target(page, root, url)
        if target is not None and not target.is_file():
            problems.append(f"loads a {kind} that is not in the site: {url}")
    return problems


def mathjax_problems(html: str, page: Path, root: Path) -> list[str]:
    """A page with formulas loads MathJax from the site's own ``_static/mathjax/``."""
    soup = soup_of(html)
    if not article(soup).select(".math"):
        return []
    scripts = [s["src"] for s in soup.find_all("script", src=True) if "mathjax" in s["src"].lower()]
    local = [s for s in scripts if not _is_external(s) and MATHJAX_SCRIPT.search(s)]
    if not local:
        return [f"has formulas but loads no MathJax from _static/mathjax/ (MathJax scripts: {scripts or 'none'})"]
    return [
        f"MathJax script {src} is missing from the site"
        for src in local
        if not (target := _local_target(page, root, src)) or not target.is_file()
    ]


def traceback_problems(html: str) -> list[str]:
    """No cell output (nor any text outside code cells' sources) shows a Python traceback."""
    body = article(soup_of(html))
    problems = []
    for out in body.select("div.output, div.cell_output"):
        classes = set(out.get("class", []))
        text = out.get_text()
        if "traceback" in classes:
            problems.append(f"an error output cell: {' '.join(text.split())[:160]!r}")
        elif "stderr" in classes and (TRACEBACK in text or re.search(r"^\w*(Error|Exception)\b.*:", text, re.M)):
            problems.append(f"a traceback in a stderr output: {' '.join(text.split())[:160]!r}")
    if not problems and _count_outside(body, TRACEBACK, "div.cell_input") > 0:
        problems.append(f"the page shows {TRACEBACK!r}")
    return problems


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG, (1, 1) for an SVG or WebP, None if ``data`` is no image."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return (1, 1)
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower():
        return (1, 1)
    return None


def _image_problem(src: str, page: Path, root: Path) -> str | None:
    """Why ``src`` does not give a visible image, or None if it does."""
    if src.startswith("data:"):
        header, _, payload = src.partition(",")
        if not header.startswith("data:image/"):
            return f"not an image: {header[:40]}"
        try:
            data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else unquote(payload).encode()
        except (binascii.Error, ValueError):
            return "embedded data that are not base64"
        what = "embedded image"
    elif _is_external(src):
        return f"an image from outside the site: {src}"
    else:
        target = _local_target(page, root, src)
        if target is None or not target.is_file():
            return f"image file missing from the site: {src}"
        data, what = target.read_bytes(), f"image file {src}"
    size = image_size(data)
    if size is None:
        return f"{what} is not a PNG, JPEG, GIF, WebP or SVG image ({len(data)} bytes)"
    if min(size) <= 0:
        return f"{what} is {size[0]}x{size[1]} pixels"
    return None


def figure_problems(html: str, page: Path, root: Path) -> list[str]:
    """A notebook page holds at least one figure: an ``<img>`` in its content (the theme's logos
    and buttons under ``_static/`` do not count) whose data or file is really there."""
    body = article(soup_of(html))
    images = [
        img["src"]
        for img in body.find_all("img", src=True)
        if img["src"].startswith("data:") or "_static/" not in img["src"]
    ]
    if not images:
        return ["no figure: no <img> in the page's content (were the notebooks executed?)"]
    broken = [p for src in images if (p := _image_problem(src, page, root))]
    if len(broken) == len(images):
        return [f"no figure loads: {broken[0]}"]
    return broken


def alt_text_problems(html: str) -> list[str]:
    """Every figure in a page's content has alt text for screen readers: not missing, not empty, and not the
    image's own file name (what Sphinx writes when a notebook cell sets no ``mystnb.image.alt``)."""
    body = article(soup_of(html))
    problems = []
    for img in body.find_all("img", src=True):
        if "_static/" in img["src"] and not img["src"].startswith("data:"):
            continue                      # the theme's logos and buttons
        alt = (img.get("alt") or "").strip()
        if not alt or alt == img["src"] or re.search(r"\.(png|jpe?g|gif|svg|webp)$", alt, re.I):
            problems.append(f"a figure without alt text: {img['src'][:60]}")
    return problems


def _ids(soup: BeautifulSoup) -> set[str]:
    return {t["id"] for t in soup.find_all(id=True)} | {t["name"] for t in soup.find_all("a", attrs={"name": True})}


def reference_problems(html: str, page: Path, root: Path, ids_of=None) -> list[str]:
    """Citations and cross-references resolve: no ``??``, no citation without its link, no
    reference left as plain text, and every link into another page (the bibliography's
    ``#id``\\ s included) lands on a page and an anchor that exist."""
    soup = soup_of(html)
    own_ids = _ids(soup)
    body = article(soup)
    problems = []
    if _count_outside(body, "??", "pre, div.cell_input") > 0:
        problems.append("shows '??' (an unresolved citation, equation or reference)")
    for cite in body.select(".bibtex-citation, span.citation, a.citation-reference"):
        if cite.name != "a" and not cite.find("a", href=True):
            problems.append(f"a citation that links nowhere: {cite.get_text(strip=True)!r}")
    for xref in body.select(".xref"):
        # Python names that Sphinx cannot link (the standard library's, torch's, ...) are shown as
        # code on purpose (nitpick_ignore_regex in _config.yml); documents, labels, equations,
        # terms and citations must resolve.
        if xref.find_parent("a") is None and not set(xref.get("class", [])) & {"py", "c", "cpp", "js"}:
            problems.append(f"an unresolved cross-reference: {xref.get_text(strip=True)!r}")
    ids_of = ids_of or _make_ids_of()
    for a in body.find_all("a", href=True):
        href = a["href"]
        if href in {"", "#"} or _is_external(href) or urlsplit(href).scheme:
            continue
        target = _local_target(page, root, href)
        fragment = unquote(urlsplit(href).fragment)
        if target is None:
            continue
        if target == page:
            if fragment and fragment not in own_ids:
                problems.append(f"links to an anchor that does not exist: {href}")
        elif not target.exists():
            problems.append(f"links to a page that is not in the site: {href}")
        elif fragment and target.suffix == ".html" and fragment not in ids_of(target):
            problems.append(f"links to an anchor that does not exist: {href}")
    return problems


def _make_ids_of():
    cache: dict[Path, set[str]] = {}

    def ids_of(path: Path) -> set[str]:
        if path not in cache:
            cache[path] = _ids(soup_of(path.read_text(encoding="utf-8")))
        return cache[path]

    return ids_of


def map_problems(html: str, page: Path, root: Path, chapters: Iterable[str]) -> list[str]:
    """The introduction's own text (not the sidebar) links every chapter of the table of contents."""
    body = article(soup_of(html))
    linked = set()
    for a in body.find_all("a", href=True):
        target = _local_target(page, root, a["href"])
        if target is not None:
            linked.add(target.resolve())
    return [
        f"does not link the chapter {chapter} ({chapter}.html)"
        for chapter in chapters
        if (root / f"{chapter}.html").resolve() not in linked
    ]


# ----------------------------------------------------------------------------------------------
# The tests over the built book


def _report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}: {p}" for page, items in problems.items() for p in items)


def _each_page(root: Path, check, selected: Iterable[Path] | None = None) -> dict[str, list[str]]:
    found = {}
    for page in selected if selected is not None else pages(root):
        problems = check(page.read_text(encoding="utf-8"), page) if page.is_file() else ["the page is missing"]
        if problems:
            found[str(page.relative_to(root))] = list(dict.fromkeys(problems))
    return found


def test_every_chapter_of_the_toc_has_its_page(site: Path) -> None:
    missing = [f"{f}.html" for f in toc_files() if not (site / f"{f}.html").is_file()]
    assert not missing, f"chapters of _toc.yml with no page in {site}: {missing}"


def test_the_home_page_leads_to_the_root(site: Path) -> None:
    root_page = f"{toc_files()[0]}.html"
    assert root_page in (site / "index.html").read_text(encoding="utf-8"), f"index.html does not lead to {root_page}"


def test_every_notebook_page_shows_a_figure(site: Path) -> None:
    notebooks = [site / f"{f}.html" for f in toc_files() if (REPO / f"{f}.ipynb").is_file()]
    assert notebooks, "no notebook chapter in _toc.yml"
    problems = _each_page(site, lambda html, page: figure_problems(html, page, site), notebooks)
    assert not problems, "notebook pages without a figure:\n" + _report(problems)


def test_every_figure_has_alt_text(site: Path) -> None:
    problems = _each_page(site, lambda html, page: alt_text_problems(html))
    assert not problems, "figures without alt text:\n" + _report(problems)


def test_citations_and_references_resolve(site: Path) -> None:
    ids_of = _make_ids_of()
    problems = _each_page(site, lambda html, page: reference_problems(html, page, site, ids_of))
    assert not problems, "unresolved citations or references:\n" + _report(problems)


def test_the_bibliography_has_entries(site: Path) -> None:
    bib = [f for f in toc_files() if "bibliograph" in f]
    assert bib, "no bibliography page in _toc.yml"
    soup = soup_of((site / f"{bib[0]}.html").read_text(encoding="utf-8"))
    assert article(soup).select("[role=doc-biblioentry], .citation"), "the bibliography page lists no entry"


def test_no_page_shows_a_traceback(site: Path) -> None:
    problems = _each_page(site, lambda html, page: traceback_problems(html))
    assert not problems, "pages showing a Python traceback:\n" + _report(problems)


def test_no_page_loads_anything_from_outside_the_site(site: Path) -> None:
    problems = _each_page(site, lambda html, page: resource_problems(html, page, site))
    assert not problems, "pages that need the network (or miss a file):\n" + _report(problems)


def test_math_is_typeset_by_the_sites_own_mathjax(site: Path) -> None:
    problems = _each_page(site, lambda html, page: mathjax_problems(html, page, site))
    assert not problems, "pages whose formulas would stay raw TeX offline:\n" + _report(problems)
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts").is_dir(), "MathJax's fonts are not in the site"


def deck_problems(html: str) -> list[str]:
    """A chapter's slide deck (``slides/<chapter>.slides.html``, :file:`scripts/make_slides.py`): reveal.js from
    the site, the title and at least one section as slides, no MyST role left unrendered."""
    soup = soup_of(html)
    problems = []
    loader = [s["src"] for s in soup.find_all("script", src=True) if s["src"].endswith("require.js")]
    if not loader or any(_is_external(src) for src in loader) or not re.search(
            r"""["'](\.\./)+_static/slides/reveal\.js/dist/reveal\.js["']""", html):
        problems.append("does not load reveal.js from the site's _static/slides/")
    slides = soup.select("div.reveal div.slides > section")
    if len(slides) < 2:
        problems.append(f"has {len(slides)} slide(s): the chapter's title and sections should each open one")
    left = sorted(set(re.findall(r"\{(?:glue:text|cite:[pt]|eq|doc|ref)\}`", soup.get_text())))
    if left:
        problems.append(f"shows MyST roles as text: {', '.join(left)}")
    return problems


def test_every_chapter_has_a_slide_deck(site: Path) -> None:
    chapters = [f for f in toc_files() if (REPO / f"{f}.ipynb").is_file()]
    decks = [site / "slides" / f"{PurePosixPath(f).name}.slides.html" for f in chapters]
    problems = _each_page(site, lambda html, page: deck_problems(html), decks)
    assert not problems, "slide decks:\n" + _report(problems)


def test_chapters_are_numbered_as_the_introduction_says(site: Path) -> None:
    """The notebook chapters carry the numbers 1, 2, ... in the sidebar's order (their file names' prefixes, as in
    the PDF); the pages for readers and teachers carry none."""
    numbers = {}
    for name in toc_files()[1:]:
        span = article(soup_of((site / f"{name}.html").read_text(encoding="utf-8"))).find("h1").find(
            "span", class_="section-number")
        numbers[name] = span.get_text(strip=True) if span else None
    chapters = [name for name in numbers if (REPO / f"{name}.ipynb").is_file()]
    assert [numbers[name] for name in chapters] == [f"{k}." for k in range(1, len(chapters) + 1)], numbers
    assert all(PurePosixPath(name).name.startswith(f"{k:02d}_") for k, name in enumerate(chapters, 1)), chapters
    assert all(numbers[name] is None for name in numbers if name not in chapters), numbers


def test_the_introduction_maps_every_chapter(site: Path) -> None:
    root_doc, *chapters = toc_files()
    intro = site / f"{root_doc}.html"
    problems = map_problems(intro.read_text(encoding="utf-8"), intro, site, chapters)
    assert not problems, f"{root_doc}.html, the map of the book:\n" + "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# The checks themselves: each one complains about a broken page and passes a good one

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="  # 1x1


def _page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><nav><a href='other.html'>nav</a></nav><article class='bd-article'>{body}</article></body></html>"


@pytest.fixture
def tiny_site(tmp_path: Path) -> Path:
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "mathjax" / "tex-chtml.js").write_text("/* MathJax */")
    (tmp_path / "_static" / "theme.css").write_text("body {}")
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "fig.png").write_bytes(base64.b64decode(PNG))
    (tmp_path / "_images" / "empty.png").write_bytes(b"")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "bibliography.html").write_text(_page("<div class='citation' id='id3' role='doc-biblioentry'>Chen</div>"))
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def test_toc_files_reads_parts_chapters_and_sections(tmp_path: Path) -> None:
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n      - file: book/a\n"
        "        sections:\n          - file: notebooks/b.ipynb\n      - url: https://example.org\n"
    )
    assert toc_files(toc) == ["book/intro", "book/a", "notebooks/b"]
    assert toc_files()[0] == "book/intro"


def test_resource_check(tiny_site: Path) -> None:
    page = tiny_site / "book" / "x.html"
    good = _page("", "<script src='../_static/mathjax/tex-chtml.js'></script><link rel='stylesheet' href='../_static/theme.css?v=1'>")
    assert resource_problems(good, page, tiny_site) == []
    for head in (
        "<script defer src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js'></script>",
        "<script src='//cdn.example.org/x.js'></script>",
        "<link rel='stylesheet' href='http://fonts.example.org/a.css'>",
        "<link rel='preload' as='font' href='https://fonts.example.org/a.woff2'>",
        "<style>@import url('https://fonts.example.org/css');</style>",
        "<script src='../_static/missing.js'></script>",
    ):
        assert resource_problems(_page("", head), page, tiny_site), head


def test_mathjax_check(tiny_site: Path) -> None:
    page = tiny_site / "book" / "x.html"
    math = "<span class='math notranslate nohighlight'>\\(x\\)</span>"
    assert mathjax_problems(_page(math, "<script src='../_static/mathjax/tex-chtml.js'></script>"), page, tiny_site) == []
    assert mathjax_problems(_page("no formulas"), page, tiny_site) == []
    cdn = "<script src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js'></script>"
    assert mathjax_problems(_page(math, cdn), page, tiny_site)
    assert mathjax_problems(_page(math), page, tiny_site)
    assert mathjax_problems(_page(math, "<script src='../_static/mathjax/tex-svg.js'></script>"), page, tiny_site)


def test_traceback_check() -> None:
    fine = "<div class='cell_output docutils container'><div class='output stream highlight-myst-ansi'><pre>ok</pre></div></div>"
    assert traceback_problems(_page(fine)) == []
    warning = "<div class='output stderr highlight-myst-ansi'><pre>UserWarning: slow</pre></div>"
    assert traceback_problems(_page(warning)) == []
    quoted = f"<div class='cell_input'><pre>print('{TRACEBACK}')</pre></div>"
    assert traceback_problems(_page(quoted)) == []
    for bad in (
        "<div class='output traceback highlight-ipythontb'><pre>ValueError: no</pre></div>",
        f"<div class='output stderr highlight-myst-ansi'><pre>{TRACEBACK}:\n  File x\nValueError: no</pre></div>",
        "<div class='output stderr'><pre>KeyError: 'x'</pre></div>",
        f"<div class='cell_output'><div class='output stream'><pre>{TRACEBACK}:\nValueError</pre></div></div>",
        f"<p>{TRACEBACK}:</p>",
    ):
        assert traceback_problems(_page(bad)), bad


def test_figure_check(tiny_site: Path) -> None:
    page = tiny_site / "notebooks" / "01.html"
    logo = "<img alt='Colab logo' src='../_static/images/logo_colab.png'>"
    png = base64.b64decode(PNG)
    assert image_size(png) == (1, 1)
    zero_width = png[:16] + (0).to_bytes(4, "big") + png[20:]
    for good in (
        f"<div class='cell_output'><img alt='' src='data:image/png;base64,{PNG}'></div>",
        "<div class='cell_output'><img alt='' src='../_images/fig.png'></div>",
        f"<figure><img src='../_images/fig.png'></figure>{logo}",
    ):
        assert figure_problems(_page(good), page, tiny_site) == [], good
    for bad in (
        "<p>no figure</p>",
        logo,
        "<img src='../_images/missing.png'>",
        "<img src='../_images/empty.png'>",
        "<img src='data:image/png;base64,'>",
        "<img src='data:image/png;base64,@@not base64@@'>",
        "<img src='https://example.org/fig.png'>",
        "<img src='data:image/png;base64," + base64.b64encode(b"not a picture at all").decode() + "'>",
        "<img src='data:image/png;base64," + base64.b64encode(zero_width).decode() + "'>",
    ):
        assert figure_problems(_page(bad), page, tiny_site), bad
    # a logo in the theme's header is no figure of the page
    assert figure_problems(f"<html><body><header>{logo}</header><article>text</article></body></html>", page, tiny_site)


def test_alt_text_check() -> None:
    logo = "<img alt='' src='../_static/images/logo_colab.png'>"
    assert alt_text_problems(_page(f"<img alt='Line chart of recall against epoch' src='../_images/a.png'>{logo}")) == []
    for bad in ("<img src='../_images/a.png'>", "<img alt=' ' src='../_images/a.png'>",
                "<img alt='../_images/a.png' src='../_images/a.png'>", f"<img alt='x.PNG' src='data:image/png;base64,{PNG}'>"):
        assert alt_text_problems(_page(bad)), bad


def test_reference_check(tiny_site: Path) -> None:
    page = tiny_site / "book" / "intro.html"
    good = (
        "<p><span class='bibtex-citation' id='id1'>[<a class='reference internal' href='bibliography.html#id3'>Chen"
        " <em>et al.</em>, 2022</a>]</span> and <a class='reference internal' href='#eq'><span class='xref'>(1)</span></a>"
        "<span id='eq'></span></p><pre>x ?? y</pre>"
    )
    assert reference_problems(_page(good), page, tiny_site) == []
    python_name = "<p><code class='xref py py-class docutils literal notranslate'><span class='pre'>torch.Tensor</span></code></p>"
    assert reference_problems(_page(python_name), page, tiny_site) == []
    for bad in (
        "<p>as shown by [??]</p>",
        "<p><span class='bibtex-citation' id='id1'>[]</span></p>",
        "<p><a class='reference internal' href='bibliography.html#id99'>Nobody, 2030</a></p>",
        "<p><a class='reference internal' href='missing.html'>Gone</a></p>",
        "<p><span class='xref std std-ref'>some-label</span></p>",
        "<p><span class='xref std std-doc'>chapter</span></p>",
        "<p><a href='#nowhere'>here</a></p>",
    ):
        assert reference_problems(_page(bad), page, tiny_site), bad


def test_map_check(tiny_site: Path) -> None:
    page = tiny_site / "book" / "intro.html"
    chapters = ["book/notation", "notebooks/01_backbones", "book/bibliography"]
    body = "<a href='notation.html#notation'>N</a><a href='../notebooks/01_backbones.html'>1</a><a href='bibliography.html'>B</a>"
    assert map_problems(_page(body), page, tiny_site, chapters) == []
    problems = map_problems(_page(body.replace("../notebooks/01_backbones.html", "#")), page, tiny_site, chapters)
    assert problems == ["does not link the chapter notebooks/01_backbones (notebooks/01_backbones.html)"]
    # the sidebar links every page on every page: it is no map
    sidebar = "<html><body><nav><a href='../notebooks/01_backbones.html'>1</a></nav><article>intro</article></body></html>"
    assert len(map_problems(sidebar, page, tiny_site, chapters)) == 3


def test_a_missing_build_skips_or_fails_as_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SITE_ENV, str(tmp_path / "nothing"))
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no built book"):
        built_site()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ENV}=1"):
        built_site()


def test_deck_check() -> None:
    good = ("<html><head><script src='../_static/slides/require.js'></script></head><body><div class='reveal'>"
            "<div class='slides'><section><h1>Title</h1></section><section><h2>1. A section</h2></section></div></div>"
            "<script>require(['../_static/slides/reveal.js/dist/reveal.js'])</script></body></html>")
    assert deck_problems(good) == []
    one_slide = good.replace("<section><h2>1. A section</h2></section>", "")
    assert deck_problems(one_slide) == ["has 1 slide(s): the chapter's title and sections should each open one"]
    unrendered = good.replace("1. A section", "as {cite:p}`koh2017influence` show")
    assert deck_problems(unrendered) == ["shows MyST roles as text: {cite:p}`"]
    from_cdn = good.replace("../_static/slides/", "https://unpkg.com/")
    assert deck_problems(from_cdn) == ["does not load reveal.js from the site's _static/slides/"]
