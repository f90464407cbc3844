#!/usr/bin/env python3
"""Open the built book in a real browser, offline, and check what a reader sees.

Serves ``_build/html`` on a free localhost port (``http.server`` in a thread) and runs headless
Chromium (Debian's ``/usr/bin/chromium``) on the home page, one chapter and that chapter's slide
deck (``slides/``, :file:`scripts/make_slides.py`), with every host
but 127.0.0.1 unresolvable, so that anything the pages would fetch from the network fails as it
would offline. For each page it checks, in the DOM after scripts have run:

* MathJax ran from the site and typeset the formulas: ``mjx-container`` elements are there,
  every ``.math`` element holds one, none is a MathJax error, and MathJax's fonts loaded;
* the chapter shows a figure: an ``<img>`` of its content has loaded with a non-zero natural size;
* the page requested nothing that the site lacks (no 404);
* the deck: reveal.js started (``.reveal.ready``), it has slides, no ``$$`` is left as text.

It also saves screenshots (1280x2000) to ``_build/screenshots/home.png``, ``chapter.png`` and
``slides.png``.
The facts are read by a small probe script that the server adds to each HTML page it serves:
it only sets ``data-probe-*`` attributes on ``<html>``, which ``--dump-dom`` then shows.

Exit status 0 when every check passes, 1 with one line per failure otherwise, 2 when the site
or Chromium is missing. Standard library only::

    python scripts/check_book_in_browser.py [--site _build/html] [--out _build/screenshots]
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
VIRTUAL_TIME_MS = 15000

PROBE = """
<script>
/* added by check_book_in_browser.py (not part of the book): report what the page shows */
(function () {
  function report(extra) {
    var d = document.documentElement.dataset;
    var content = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
    var imgs = Array.prototype.filter.call(content.querySelectorAll("img"), function (i) {
      return !/_static\\//.test(i.getAttribute("src") || "");
    });
    var maths = content.querySelectorAll(".math");
    var untypeset = Array.prototype.filter.call(maths, function (m) { return !m.querySelector("mjx-container"); });
    var fonts = [];
    if (document.fonts) document.fonts.forEach(function (f) { if (/^MJX/.test(f.family)) fonts.push(f.status); });
    d.probeMathjax = (window.MathJax && window.MathJax.version) || "";
    d.probeMjx = document.querySelectorAll("mjx-container").length;
    d.probeMath = maths.length;
    d.probeUntypeset = untypeset.length;
    d.probeUntypesetSample = untypeset.length ? untypeset[0].textContent.slice(0, 80) : "";
    d.probeMerror = document.querySelectorAll("mjx-merror").length;
    d.probeFontsLoaded = fonts.filter(function (s) { return s === "loaded"; }).length;
    d.probeFontsFailed = fonts.filter(function (s) { return s === "error"; }).length;
    d.probeImgs = imgs.length;
    d.probeImgsShown = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; }).length;
    d.probeImgSizes = imgs.slice(0, 5).map(function (i) { return i.naturalWidth + "x" + i.naturalHeight; }).join(" ");
    var deck = document.querySelector(".reveal");
    d.probeDeck = deck ? "1" : "";
    d.probeDeckReady = deck && deck.classList.contains("ready") ? "1" : "";
    d.probeDeckSlides = document.querySelectorAll(".reveal .slides > section").length;
    var raw = 0;
    document.querySelectorAll(".jp-MarkdownOutput").forEach(function (m) { raw += (m.textContent.match(/\$\$/g) || []).length; });
    d.probeRawTex = raw;
    if (extra) d.probeError = String(extra);
    d.probeDone = "1";
  }
  function deckReady() {  /* a slide deck initialises reveal.js after load (RequireJS): wait for it, 5 s at most */
    return new Promise(function (resolve) {
      var tries = 0;
      (function poll() {
        var deck = document.querySelector(".reveal");
        if (!deck || deck.classList.contains("ready") || ++tries > 50) return resolve();
        setTimeout(poll, 100);
      })();
    });
  }
  window.addEventListener("load", function () {
    var mj = window.MathJax;
    var typeset = (mj && mj.startup && mj.startup.promise) || Promise.resolve();
    typeset
      .then(function () { return document.fonts ? document.fonts.ready : null; })
      .then(deckReady)
      .then(function () { report(); }, function (e) { report(e); });
  });
})();
</script>
"""


class BookHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site, adds the probe to HTML pages, and records every request's status."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".woff": "font/woff",
        ".woff2": "font/woff2",
        ".svg": "image/svg+xml",
        ".json": "application/json",
    }

    def __init__(self, *args, log: list[tuple[int, str]], **kwargs):
        self._log = log
        super().__init__(*args, **kwargs)

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_file() and path.suffix == ".html":
            body = path.read_bytes()
            marker = body.lower().rfind(b"</body>")
            probe = PROBE.encode()
            body = body[:marker] + probe + body[marker:] if marker >= 0 else body + probe
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return _Bytes(body)
        return super().send_head()

    def log_request(self, code="-", size="-"):
        self._log.append((int(code) if str(code).isdigit() else 0, self.path))

    def log_message(self, format, *args):  # quiet: statuses are kept in self._log
        pass


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, *_):
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


class Server:
    def __init__(self, root: Path) -> None:
        self.log: list[tuple[int, str]] = []
        handler = functools.partial(BookHandler, directory=str(root), log=self.log)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def find_chromium(given: str | None) -> str | None:
    for candidate in (given, os.environ.get("CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def run_chromium(chromium: str, url: str, profile: Path, *extra: str, timeout: float = 180) -> subprocess.CompletedProcess:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--mute-audio",
        # offline: no host resolves but this machine, so a CDN request fails here as it would offline
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={VIRTUAL_TIME_MS}",
        *extra,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def probe_of(dom: str) -> dict[str, str]:
    """The ``data-probe-*`` attributes of the dumped DOM's ``<html>`` element."""
    tag = re.search(r"<html\b[^>]*>", dom, re.I)
    if not tag:
        return {}
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(r'data-probe-([\w-]+)="([^"]*)"', tag.group(0))}


def home_page(site: Path) -> str:
    """The page ``index.html`` leads to (Jupyter Book writes it as a redirect), else ``index.html``."""
    index = (site / "index.html").read_text(encoding="utf-8", errors="replace")
    target = re.search(r"""http-equiv=["']?refresh["']?[^>]*content=["'][^"']*url=([^"'>\s]+)""", index, re.I)
    return target.group(1).lstrip("./") if target and (site / target.group(1)).is_file() else "index.html"


def check_page(chromium: str, server: Server, page: str, name: str, out: Path, profile: Path, want_figure: bool) -> list[str]:
    url = f"{server.url}/{page}"
    before = len(server.log)
    problems = []
    dumped = run_chromium(chromium, url, profile, "--dump-dom")
    probe = probe_of(dumped.stdout)
    if dumped.returncode != 0 or not probe.get("done"):
        tail = "\n    ".join((dumped.stderr or "").strip().splitlines()[-8:])
        return [f"{name} ({page}): the page did not finish loading in Chromium (exit {dumped.returncode}); stderr:\n    {tail}"]
    print(f"{name} ({page}): MathJax {probe.get('mathjax') or '-'}, {probe.get('mjx')} mjx-container, "
          f"{probe.get('math')} formulas ({probe.get('untypeset')} left as TeX), {probe.get('merror')} MathJax errors, "
          f"MathJax fonts {probe.get('fonts-loaded')} loaded / {probe.get('fonts-failed')} failed, "
          f"{probe.get('imgs-shown')}/{probe.get('imgs')} figures shown ({probe.get('img-sizes') or '-'})")
    if probe.get("error"):
        problems.append(f"{name}: a script failed while the page loaded: {probe['error']}")
    if not probe.get("mathjax"):
        problems.append(f"{name}: MathJax did not load (no window.MathJax): formulas show as raw TeX")
    if int(probe.get("mjx", 0)) == 0:
        problems.append(f"{name}: no mjx-container in the page: MathJax typeset nothing")
    if int(probe.get("untypeset", 0)):
        problems.append(f"{name}: {probe['untypeset']} of {probe['math']} formulas left as TeX, e.g. {probe.get('untypeset-sample')!r}")
    if int(probe.get("merror", 0)):
        problems.append(f"{name}: {probe['merror']} formulas are MathJax errors")
    if int(probe.get("fonts-failed", 0)):
        problems.append(f"{name}: {probe['fonts-failed']} MathJax fonts failed to load")
    if probe.get("deck"):
        print(f"{name}: reveal.js {'ready' if probe.get('deck-ready') else 'NOT ready'}, "
              f"{probe.get('deck-slides')} slides, {probe.get('raw-tex')} '$$' left as text")
        if not probe.get("deck-ready"):
            problems.append(f"{name}: reveal.js did not start (no .reveal.ready): the deck shows no slides")
        if int(probe.get("deck-slides", 0)) < 2:
            problems.append(f"{name}: the deck has {probe.get('deck-slides')} slides")
        if int(probe.get("raw-tex", 0)):
            problems.append(f"{name}: {probe['raw-tex']} '$$' left as text in the slides' Markdown: MathJax did not typeset them")
    if want_figure and int(probe.get("imgs-shown", 0)) == 0:
        problems.append(f"{name}: no figure shown: {probe.get('imgs', 0)} <img> in the content, none loaded with a non-zero size")
    missing = sorted({path for code, path in server.log[before:] if code >= 400 and not path.endswith("favicon.ico")})
    if missing:
        problems.append(f"{name}: requests the site could not answer: {', '.join(missing[:8])}")
    shot = out / f"{name}.png"
    shot.unlink(missing_ok=True)
    taken = run_chromium(chromium, url, profile, f"--screenshot={shot}", "--window-size=1280,2000")
    if taken.returncode != 0 or not shot.is_file() or shot.stat().st_size == 0:
        problems.append(f"{name}: no screenshot written to {shot} (exit {taken.returncode})")
    else:
        print(f"{name}: screenshot {shot}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=REPO / "_build" / "html", help="the built book (default: _build/html)")
    parser.add_argument("--out", type=Path, default=None, help="where screenshots go (default: <site>/../screenshots)")
    parser.add_argument("--chapter", default="notebooks/02_influence_functions.html", help="the chapter page to check")
    parser.add_argument("--deck", default="slides/02_influence_functions.slides.html",
                        help="the slide deck to check (make_slides.py builds one per chapter)")
    parser.add_argument("--chromium", default=None, help="the browser (default: $CHROMIUM, else /usr/bin/chromium)")
    parser.add_argument("--no-figure", action="store_true", help="do not ask for a figure (a build made without executing the notebooks)")
    args = parser.parse_args(argv)

    site = args.site.resolve()
    out = (args.out or site.parent / "screenshots").resolve()
    if not (site / "index.html").is_file():
        print(f"error: no built book at {site} (run `make book` first)", file=sys.stderr)
        return 2
    for page in (args.chapter, args.deck):
        if not (site / page).is_file():
            print(f"error: {page} is not in {site}", file=sys.stderr)
            return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("error: no Chromium found (Debian: apt-get install chromium), or set CHROMIUM", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)

    problems = []
    with Server(site) as server, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        print(f"serving {site} at {server.url}; browser {chromium}")
        for name, page, figure in (("home", home_page(site), False), ("chapter", args.chapter, not args.no_figure),
                                   ("slides", args.deck, not args.no_figure)):
            problems += check_page(chromium, server, page, name, out, Path(profile), figure)
    if problems:
        print(f"\nthe book in the browser: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    figure = "not asked for (--no-figure)" if args.no_figure else "shown"
    print(f"the book in the browser: formulas typeset by the site's own MathJax, figure {figure}, the deck started, "
          f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
