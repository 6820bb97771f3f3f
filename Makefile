# bnspec: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FRAMEWORKS_STAMP := $(VENV)/.frameworks
DOCS_STAMP := $(VENV)/.docs
# KaTeX for the site's formulas: the npm package at a pinned version, installed into build/npm/ (git-ignored)
# and copied into the site by docs/sitegen/hooks.py -- the site loads nothing from outside itself.
KATEX_VERSION := 0.19.1
KATEX := build/npm/.katex-$(KATEX_VERSION)
# The frameworks of the bundled adapters, each an optional extra.
FRAMEWORKS := torch,flax,keras,onnxruntime,tinygrad,mlx,onnx,tensorflow,optax

.PHONY: run test lint matrix bench docs clean mutation system-packages

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

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(DOCS_STAMP)

$(KATEX):
	npm install --prefix build/npm --no-save --no-audit --no-fund --silent katex@$(KATEX_VERSION)
	touch $(KATEX)

run: $(STAMP)
	$(BIN)/bnspec check reference

# Debian's packages the suite needs, installed when missing: chromium (the docs tests' headless browser) and
# clang (tinygrad's CPU device compiles its kernels with it; without it tinygrad falls back to its pure-Python
# emulator, whose calls cost tens of times more on large arrays: spec/adapters/tinygrad_bn.py).
system-packages:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v clang >/dev/null || missing="$$missing clang"; \
	if [ -n "$$missing" ]; then \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The docs tests (tests/test_docs_*.py) build the site once and load it in headless Chromium.
# mypy runs beside pytest (its report printed after pytest's): the two pytest workers leave part of the two cores
# idle, and mypy's 17 s of one core fit there; either failing fails the target.
test: system-packages $(FRAMEWORKS_STAMP) $(DOCS_STAMP) $(KATEX)
	@mkdir -p build
	$(BIN)/ruff check spec reference tests examples docs/sitegen bench mutation
	$(BIN)/mypy > build/mypy.log 2>&1 & mypy=$$!; \
	BNSPEC_REQUIRE_ALL=1 $(BIN)/python -m pytest -q -n 2 --dist loadgroup tests; tests=$$?; \
	wait $$mypy; typed=$$?; echo "mypy:"; cat build/mypy.log; \
	[ $$tests -eq 0 ] && [ $$typed -eq 0 ]

lint: $(STAMP)
	$(BIN)/ruff check spec reference tests examples docs/sitegen bench mutation
	$(BIN)/mypy

# The conformance matrix from real runs of the reference and every adapter.
matrix: $(FRAMEWORKS_STAMP)
	$(BIN)/bnspec matrix --output docs/conformance

# The reference's speed against PyTorch and `bnspec check reference`'s time, written to
# docs/bench/results.json and docs/bench.md, docs/bench.zh-TW.md (outside the test suite: timings need a quiet
# machine). `.venv/bin/python bench/run.py --report-only` rewrites the pages from the JSON without measuring.
bench: $(FRAMEWORKS_STAMP)
	$(BIN)/python bench/run.py

# Mutation testing of examples/learner_bn.py with cosmic-ray (the `mutation` extra), `bnspec check` as its test,
# on copies under build/mutation/: writes docs/mutation.md, docs/mutation.zh-TW.md and docs/mutation/results.json (see mutation/run.py).
# MUTATION_ARGS="--spec HEAD" checks against the committed spec; "--report-only" only rewrites the pages.
MUTATION_STAMP := $(VENV)/.mutation
MUTATION_ARGS ?=

$(MUTATION_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,mutation]'
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	$(BIN)/python mutation/run.py $(MUTATION_ARGS)

# The documentation site, into site/ (--strict: any warning fails the build).
docs: $(DOCS_STAMP) $(KATEX)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
