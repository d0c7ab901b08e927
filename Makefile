# Two entry points: `make run` (engine on its embedded defaults) and `make test` (the whole suite
# on throwaway PostgreSQL and Redis). Both start from a machine that has only python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test bench soak
SOAK_SECONDS ?= 600

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	@echo "Starting web, worker and beat (Ctrl-C stops everything)..."
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile.dev start

test: $(VENV)/.installed
	$(PY) -m tests.servers $(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) -m tests.servers $(PY) -m tests.bench $(BENCH)

# The soak at full length (make test runs it for 60 s): prints its figures, keeps var/test-artifacts/soak.json.
soak: $(VENV)/.installed
	SOAK_SECONDS=$(SOAK_SECONDS) $(PY) -m tests.servers $(PY) -m pytest tests/soak -s -p no:cacheprovider
