# Two entry points for a fresh machine: `make repro` (the pipeline) and `make test` (the tests).
# Each creates the virtual environment and installs the project into it first, when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)

.PHONY: install repro test lint

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

repro: $(STAMP)
	dvc repro

test: $(STAMP)
	pytest -q

lint: $(STAMP)
	ruff check inpaint stages tests
