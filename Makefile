# dpsql: `make run` builds the example workspace, `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE := projects/shop

.PHONY: run test lint typecheck bench clean install

$(BIN)/dpsql: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/dpsql

run: install
	$(BIN)/dpsql build -p $(EXAMPLE)
	@echo
	$(BIN)/dpsql ls -p $(EXAMPLE)
	@echo
	@echo "The warehouse is $(EXAMPLE)/warehouse.duckdb. Query a product's output port:"
	@echo "  $(BIN)/dpsql query -p $(EXAMPLE) 'from revenue.monthly_revenue limit 5'"
	$(BIN)/dpsql query -p $(EXAMPLE) 'from revenue.monthly_revenue limit 5'

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check dpsql tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(EXAMPLE)/target $(EXAMPLE)/warehouse.duckdb .pytest_cache .mypy_cache .ruff_cache
