# Two entry points: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types bench clean

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(foreach p,$(wildcard plugins/*/pyproject.toml),-e $(dir $(p)))
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fieldcase --db demo.db demo --replace

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

test: lint types
	$(BIN)/python -m pytest

# Figures, not pass/fail, at a million rows (BENCH_ROWS=20000 for a quick run):
# import, re-import and export against a bare load, a same-schema load and
# sqlite-utils insert, and audit verify (transfer.py); the worklist, reports,
# start-up and audit verify of a valid national log (worklist.py); the same
# portfolio on SQLite and PostgreSQL side by side (a throwaway server, as make test starts);
# a field pack of 50 cases made, 500 actions done on it and synced back, against
# the same actions done online (offline.py).
BENCH_ROWS ?= 1000000
bench: $(STAMP)
	$(BIN)/python benchmarks/transfer.py --rows $(BENCH_ROWS)
	$(BIN)/python benchmarks/worklist.py --cases $(BENCH_ROWS)
	$(BIN)/python benchmarks/postgres.py
	$(BIN)/python benchmarks/offline.py

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm .pytest_cache .mypy_cache .ruff_cache
