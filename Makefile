# The two commands of the README:
#   make book   set up (if needed) and build the book, executing every notebook (quick profile),
#               then a reveal.js slide deck per chapter in _build/html/slides/ (needs Node.js's npm)
#   make test   set up (if needed) and run all tests: unit tests and nbval over notebooks/
# Other targets: make setup, make bench, make clean, and
#   make check-book   after `make book`: the tests over the built pages (tests/test_book_html.py,
#                     failing, not skipping, without a build) and headless Chromium on the home page
#                     and a chapter (scripts/check_book_in_browser.py; Debian: apt-get install chromium),
#                     screenshots in _build/screenshots/
#   make pdf          the book as a PDF in _build/latex/ (jupyter-book build . --builder pdflatex,
#                     executes every notebook). Needs TeX Live, not installed by `make setup`; on
#                     Debian/Ubuntu: apt-get install texlive-latex-recommended texlive-latex-extra
#                     texlive-fonts-recommended texlive-fonts-extra texlive-xetex texlive-plain-generic
#                     tex-gyre fonts-freefont-otf latexmk

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first and pinned so that pip does not pull a multi-GB CUDA build where a
# CPU wheel is at hand; override e.g. with `make setup TORCH=torch` on a GPU machine.
TORCH ?= torch==2.13.0
# the index torch comes from (empty: pip's own); e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
# for CPU wheels where pip's index would bring a CUDA build (the GitHub workflow does this)
TORCH_INDEX ?=
export REC_UNLEARN_PROFILE ?= quick
# the offline data mirror beside the repository, when there is one (else loaders download)
ifneq ($(wildcard ../shared/data),)
export REC_UNLEARN_DATA ?= $(abspath ../shared/data)
endif

SLIDE_ASSETS := node_modules/.package-lock.json

.PHONY: setup test book slides check-book pdf bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
	$(PY) -m pip install -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest

book: setup $(SLIDE_ASSETS)
	TQDM_DISABLE=1 REC_UNLEARN_BOOK_BUILD=1 $(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) scripts/make_slides.py build _build/jupyter_execute/notebooks _build/html

# the decks again, from the executed notebooks of the last `make book`
slides: setup $(SLIDE_ASSETS)
	$(PY) scripts/make_slides.py build _build/jupyter_execute/notebooks _build/html

# reveal.js and RequireJS for the decks, as package-lock.json pins them (Node.js's npm)
$(SLIDE_ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund

check-book: setup
	REC_UNLEARN_REQUIRE_BOOK=1 $(PY) -m pytest tests/test_book_html.py -p no:cacheprovider -o addopts=""
	$(PY) scripts/check_book_in_browser.py

pdf: setup
	TQDM_DISABLE=1 REC_UNLEARN_BOOK_BUILD=1 $(VENV)/bin/jupyter-book build . --builder pdflatex
	@ls -l _build/latex/*.pdf

bench: setup
	$(PY) -m rec_unlearn_lib bench

clean:
	rm -rf _build .pytest_cache node_modules
