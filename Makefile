# The two commands a newcomer needs: `make run` and `make test`. `make check` is the full gate.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test check lint format clean

# Re-install whenever pyproject.toml changes; the stamp keeps repeated runs instant.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/offerengine migrate
	$(BIN)/offerengine demo
	$(BIN)/offerengine serve --host $(HOST) --port $(PORT)

# Two processes, a test file each at a time: the suite's real servers and browser keep both cores
# busy, and CI stays well inside its 20 minutes. The schemathesis fuzz runs on its own afterwards:
# its cases share one test id, which pytest-xdist would run only once.
test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/e2e/test_schemathesis.py
	$(BIN)/pytest tests/e2e/test_schemathesis.py

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

check: lint test

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
