# wabridge: `make demo` to see it work, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes: most tests wait on real servers, so a few run side by side.
JOBS ?= 5

.PHONY: demo test lint unit serve migrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wabridge demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every test on SQLite, then every test that touches the database again on a throwaway
# PostgreSQL cluster (e2e tests marked engine_neutral drive the same storage code; they run once).
test: lint
	$(BIN)/pytest -q -p no:cacheprovider -n $(JOBS) --dist worksteal
	WABRIDGE_TEST_DB=postgres scripts/with-postgres.sh $(BIN)/pytest -q -p no:cacheprovider -n $(JOBS) --dist worksteal -m "not engine_neutral" tests/integration tests/e2e

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

serve: $(STAMP)
	$(BIN)/wabridge serve

migrate: $(STAMP)
	$(BIN)/wabridge migrate

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
