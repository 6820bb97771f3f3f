# bnspec: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FRAMEWORKS_STAMP := $(VENV)/.frameworks
# The frameworks of the bundled adapters, each an optional extra.
FRAMEWORKS := torch,flax,keras,onnxruntime,tinygrad

.PHONY: run test lint matrix clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# torch==2.13.0 first: it is a local CPU wheel here, and a bare `torch`
# requirement would pull a multi-GB CUDA build.
$(FRAMEWORKS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,$(FRAMEWORKS)]'
	touch $(FRAMEWORKS_STAMP)

run: $(STAMP)
	$(BIN)/bnspec check reference

test: $(FRAMEWORKS_STAMP)
	$(BIN)/python -m pytest -q -n 2 tests
	$(BIN)/ruff check spec reference tests examples
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check spec reference tests examples
	$(BIN)/mypy

# The conformance matrix from real runs of the reference and every adapter.
matrix: $(FRAMEWORKS_STAMP)
	$(BIN)/bnspec matrix --output docs/conformance

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
