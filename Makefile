# The README's commands. `make run` serves the tracker on SQLite with demo data;
# `make test` runs the whole suite on the embedded default.

VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck bench install

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || { python=$$(scripts/find-python) && $$python -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(BIN)/.installed

run: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py seed_demo
	@echo "The scheduler (manage.py run_jobs: peer expiry, hit-and-run, bonus, standing, recount) runs beside the server."
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py run_jobs & jobs=$$!; trap 'kill $$jobs 2>/dev/null' EXIT; \
	DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	DEBUG=1 $(BIN)/mypy accounts api core ops tracker torrentpier web

# make bench BENCH=announce (wrk vs opentracker) or BENCH=catalogue (a million torrents)
BENCH ?= announce
bench: install
	$(BIN)/python -m tests.perf.$(BENCH) $(BENCH_ARGS)
