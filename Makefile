# The two commands of the README: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the main job on the embedded SQLite database (a fresh file under .demo/).
demo: $(STAMP)
	@mkdir -p .demo
	OPENMHHS_DB=sqlite:///$(CURDIR)/.demo/openmhhs.db $(BIN)/openmhhs demo --fresh --out .demo

## Run the whole test suite (SQLite always; PostgreSQL too when OPENMHHS_TEST_PG_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/ruff format --check src tests tools benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/openmhhs bench

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
