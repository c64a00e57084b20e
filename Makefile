# One command to start the demo, one to test. Both build .venv on first use (Python 3.11).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
EXTRAS_RUN  := postgres,printing
EXTRAS_TEST := postgres,printing,fieldapp,test

.PHONY: run test test-postgres test-contract system-deps bench clean fieldapp

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The stamp files record which extras are installed; setup.cfg changes reinstall.
$(VENV)/.run-installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS_RUN)]"
	touch $@

$(VENV)/.test-installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS_TEST)]"
	touch $@ $(VENV)/.run-installed

system-deps:
	@bash scripts/system-deps.sh

run: system-deps $(VENV)/.run-installed
	$(BIN)/python -m server.manage serve --port $(PORT)

# The suite runs on one process per core (at most 4; pytest-xdist), each with a database of its own
# (tests/conftest.py). PYTEST_WORKERS=0 runs it in this one process; PYTEST_ARGS adds pytest options.
# Bytecode is cached (__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE is set: otherwise
# every worker and every server subprocess compiles the project and re-rewrites the tests' asserts on each
# run (collection: 5.9 s of CPU a worker instead of 3.0 s).
PYTEST_WORKERS ?= auto
XDIST  := -n $(PYTEST_WORKERS) $(if $(filter auto,$(PYTEST_WORKERS)),--maxprocesses 4) --dist worksteal
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(XDIST)

test: system-deps $(VENV)/.test-installed
	$(PYTEST) $(PYTEST_ARGS)

# The tablet app against the server of `make run` (start that first, in another shell): signs in as a demo
# team member and runs the first sync with a progress bar. FIELDAPP_SERVER / FIELDAPP_USER choose others.
FIELDAPP_SERVER ?= http://127.0.0.1:$(PORT)
FIELDAPP_USER   ?= t1-doctor
fieldapp: system-deps $(VENV)/.test-installed
	GPO_PASSWORD=$${GPO_PASSWORD:-demo-pass-2026} $(BIN)/python -m fieldapp --server $(FIELDAPP_SERVER) \
		--user $(FIELDAPP_USER) --db instance/tablet-$(FIELDAPP_USER).sqlite

# The same suite on PostgreSQL (CI runs it after `make test`).
test-postgres: system-deps $(VENV)/.test-installed
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(PYTEST) $(PYTEST_ARGS)

# The API contract: schemathesis over every operation as the four roles, fixed seed and budget (CI runs it).
# setup.cfg leaves schemathesis' pytest plugin out of the other runs: -p schemathesis loads it again.
test-contract: system-deps $(VENV)/.test-installed
	$(PYTEST) -p schemathesis -m contract tests/contract $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
