# The two commands a newcomer needs: `make run` and `make test`. `make check` is the full gate.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Installed with the dev extra (what test, lint and check need), and the runtime only (run).
STAMP  := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.runtime-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test check lint format clean

# Re-install whenever pyproject.toml changes; the stamps keep repeated runs instant. `make run`
# installs what serving needs; `make test`, `lint` and `check` add the dev extra (test tools, type
# checker, linters, browser driver), which includes it: so `make test` after `make run` installs
# the extra, and `make run` after `make test` installs nothing.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The client generator tests/e2e/test_openapi_client.py runs pins typer below ours: it gets
	# a folder of its own (on PYTHONPATH only when it runs), as pipx would give it.
	$(BIN)/python -m pip install --quiet --no-warn-conflicts --upgrade \
		--target $(VENV)/tools/openapi-python-client 'openapi-python-client==0.29.1'
	touch $(STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/offerengine migrate
	$(BIN)/offerengine demo
	$(BIN)/offerengine serve --host $(HOST) --port $(PORT)

# Two processes, a test file each at a time: the suite's real servers and browser keep both cores
# busy, and CI stays well inside its 20 minutes. The schemathesis fuzz runs on its own afterwards:
# its cases share one test id, which pytest-xdist would run only once. Both parts always run, so
# every failure is reported; the target fails if either part did, and says which.
test: $(STAMP)
	failed=""; \
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/e2e/test_schemathesis.py || failed="$$failed suite"; \
	$(BIN)/pytest tests/e2e/test_schemathesis.py || failed="$$failed schemathesis"; \
	if [ -n "$$failed" ]; then echo "make test: failed:$$failed" >&2; exit 1; fi

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
