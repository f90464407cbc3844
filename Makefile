# The two commands of the README:
#   make book   set up (if needed) and build the book, executing every notebook (quick profile)
#   make test   set up (if needed) and run all tests: unit tests and nbval over notebooks/
# Other targets: make setup, make bench, make clean.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first and pinned so that pip does not pull a multi-GB CUDA build where a
# CPU wheel is at hand; override e.g. with `make setup TORCH=torch` on a GPU machine.
TORCH ?= torch==2.13.0
export REC_UNLEARN_PROFILE ?= quick
# the offline data mirror beside the repository, when there is one (else loaders download)
ifneq ($(wildcard ../shared/data),)
export REC_UNLEARN_DATA ?= $(abspath ../shared/data)
endif

.PHONY: setup test book bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest

book: setup
	TQDM_DISABLE=1 $(VENV)/bin/jupyter-book build . -W -n --keep-going

bench: setup
	$(PY) -m rec_unlearn_lib bench

clean:
	rm -rf _build .pytest_cache
