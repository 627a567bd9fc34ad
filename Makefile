# dpsql: `make run` builds the example workspace, `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE := projects/shop

.PHONY: run test lint bench bench-peers clean install

$(BIN)/dpsql: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
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

# The benchmark (docs/performance.md). Peers pin their own sqlglot and duckdb, so each lives in
# its own virtualenv under .bench/; `make bench-peers` installs them (dbt-core 1.12 does not
# install here, so dbt is held at 1.11). `make bench` times whichever are installed.
.bench/venv-dbt/bin/dbt:
	$(PYTHON) -m venv .bench/venv-dbt
	.bench/venv-dbt/bin/pip install --quiet dbt-core==1.11.16 dbt-duckdb

.bench/venv-sqlmesh/bin/sqlmesh:
	$(PYTHON) -m venv .bench/venv-sqlmesh
	.bench/venv-sqlmesh/bin/pip install --quiet sqlmesh

bench-peers: .bench/venv-dbt/bin/dbt .bench/venv-sqlmesh/bin/sqlmesh

bench: install
	$(BIN)/python -m dpsql.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .bench $(EXAMPLE)/target $(EXAMPLE)/warehouse.duckdb $(EXAMPLE)/spark-warehouse .pytest_cache .mypy_cache .ruff_cache
