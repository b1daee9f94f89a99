# The two commands of the README: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo test lint typecheck check bench clean

## List the targets with what each does.
help:
	@awk '/^## /{doc=substr($$0,4);next} /^[a-z][a-z-]*:/{if(doc){split($$0,t,":");printf "  %-10s %s\n",t[1],doc};doc=""} !/^## /{if(!/^[a-z][a-z-]*:/)doc=""}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the main job on the embedded SQLite database (a fresh file under .demo/).
demo: $(STAMP)
	@mkdir -p .demo
	OPENMHHS_DB= $(BIN)/openmhhs demo --fresh --out .demo

## Run the whole test suite (SQLite always; PostgreSQL too when OPENMHHS_TEST_PG_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

## ruff check and ruff format --check on src, tests, tools and benchmarks.
lint: $(STAMP)
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/ruff format --check src tests tools benchmarks

## mypy --strict on src.
typecheck: $(STAMP)
	$(BIN)/mypy

## lint, typecheck and test.
check: lint typecheck test

## openmhhs bench: each figure beside its floor.
bench: $(STAMP)
	$(BIN)/openmhhs bench

## Remove the virtualenv, the demo folder and caches.
clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
