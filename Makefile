# The two commands of the README: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
TORCH ?= torch==2.13.0
PROFILE ?= full
DEVICE ?= auto
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK_VENV := _build/lock-venv

.PHONY: book run html pdf test linkcheck lock benchmark clean

# The environment: torch first (pinned, so pip does not pick another build), then the project with
# the book's toolchain (extra `book`: Jupyter Book, MathJax) and the tests' (extra `dev`).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	touch $(STAMP)

## Execute every chapter with papermill (PROFILE=full|quick, DEVICE=auto|cpu|cuda) and build the HTML book.
book: run html

run: $(STAMP)
	$(BIN)/emma-book run --profile $(PROFILE) --device $(DEVICE)

html: $(STAMP)
	$(BIN)/emma-book build

## The PDF edition, _build/pdf/emma-book.pdf: the whole book on one page (Sphinx's singlehtml),
## printed by headless Chromium (Debian's chromium); then the HTML book, whose every page offers it.
pdf: $(STAMP)
	$(BIN)/emma-book build --pdf

## Run the tests (they execute every chapter in the quick profile, build the book from it and open
## every page in headless Chromium; without Chromium the browser tests skip, except in CI).
test: $(STAMP)
	$(BIN)/python -m pytest

## Check every external link of the executed chapters and pages (Sphinx's linkcheck).
linkcheck: $(STAMP)
	$(BIN)/emma-book build --builder linkcheck

## Refresh the two lock files from one fresh environment, installed the way .venv is without the
## dev tools: first the runtime alone (what a chapter needs) -> requirements-runtime-lock.txt, the
## environment of a launched chapter (the branch `notebooks`, Binder); then the extra `book` added
## to it -> requirements-lock.txt, the environment the published book is built in. pip keeps what
## is installed when the extra allows it, so the runtime's pins are those of the book's lock; the
## last step checks it.
LOCK_HEADER = echo "\# torch's CPU build comes from PyTorch's own index."; \
	  echo "--extra-index-url https://download.pytorch.org/whl/cpu"
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(LOCK_VENV)/bin/python -m pip install --quiet .
	{ echo "# A chapter's environment, without the book's toolchain: pip freeze of a fresh environment (make lock)."; \
	  $(LOCK_HEADER); \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude emma-book; } > requirements-runtime-lock.txt
	$(LOCK_VENV)/bin/python -m pip install --quiet ".[book]"
	{ echo "# The environment of the published book: pip freeze of a fresh environment (make lock)."; \
	  $(LOCK_HEADER); \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude emma-book; } > requirements-lock.txt
	rm -rf $(LOCK_VENV) build  # build/: setuptools' leftovers from installing the project
	@missing="$$(grep -v '^[#-]' requirements-runtime-lock.txt | grep -vxF -f requirements-lock.txt || true)"; \
	if [ -n "$$missing" ]; then \
	  echo "make lock: the extra book changed pins of requirements-runtime-lock.txt: $$missing" >&2; exit 1; fi

benchmark: $(STAMP)
	$(BIN)/python benchmarks/sweep.py

clean:
	rm -rf _build book/chapters
