# The two commands of the README: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
TORCH ?= torch==2.13.0
PROFILE ?= full
DEVICE ?= auto
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book run html test benchmark clean

# The environment: torch first (pinned, so pip does not pick another build), then the project.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Execute every chapter with papermill (PROFILE=full|quick, DEVICE=auto|cpu|cuda) and build the HTML book.
book: run html

run: $(STAMP)
	$(BIN)/emma-book run --profile $(PROFILE) --device $(DEVICE)

html: $(STAMP)
	$(BIN)/emma-book build

## Run the tests (they execute every chapter in the quick profile and build the book from it).
test: $(STAMP)
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/sweep.py

clean:
	rm -rf _build book/chapters
