# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app shop
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 4
DEMO_ADMIN_EMAIL ?= admin@example.com
DEMO_ADMIN_PASSWORD ?= admin-demo-password
PYTEST_ARGS ?=
# The web server and the job worker together, from the Procfile; Ctrl-C stops both.
PROCS := VENV=$(VENV) HOST=$(HOST) WEB_PORT=$(PORT) WORKERS=$(WORKERS) $(VENV)/bin/honcho -f Procfile start

.PHONY: install install-spark assets migrate demo train run serve test test-sqlite test-postgres lint format bench clean axe

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# The spark extra (pyspark, a large download, and pyarrow) for `flask train --backend spark` and the
# Spark tests, which skip without it (CI installs it and requires them). Needs a Java 17+ runtime.
$(VENV)/.spark-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test,spark]"
	touch $@

install-spark: $(VENV)/.spark-installed

migrate: install
	$(FLASK) db upgrade

# The fingerprinted, gzip and Brotli copies of static/ (instance/static/); the shop would also
# build them at start, this keeps that out of the first request.
assets: install
	$(FLASK) assets

# Seeds the demo shop only when the database has no products, then trains the engine, evaluation
# included, so the admin's model page shows how the hybrid compares from the first visit (about a
# minute on the default demo, on 2 cores).
demo: migrate assets
	$(FLASK) seed --if-empty --with-experiment --admin-email $(DEMO_ADMIN_EMAIL) --admin-password $(DEMO_ADMIN_PASSWORD)
	$(FLASK) train --if-missing

train: migrate
	$(FLASK) train

run: demo
	@echo
	@echo "  The shop is at http://$(HOST):$(PORT)/"
	@echo "  Admin sign-in:  $(DEMO_ADMIN_EMAIL) / $(DEMO_ADMIN_PASSWORD)"
	@echo "  Demo shopper:   shopper@example.com / shopper-demo-password"
	@echo
	$(PROCS) web worker

# Production-style server: several gunicorn workers sharing the SQLite file (WAL) or PostgreSQL, the
# job worker, and one rate-limit store (RATELIMIT_STORAGE_URI, or a private Redis that
# scripts/with-redis.sh starts; without either it refuses). One BLAS thread per web worker.
serve: demo
	scripts/with-redis.sh $(PROCS) serve worker

# The whole suite on SQLite and, at the same time, again on a throw-away PostgreSQL server (when one
# can be started): the two passes share no files or ports, and side by side they take about the
# longer one's time (the CI budget is 30 minutes). The SQLite pass prints as it goes; the PostgreSQL
# pass's output is kept in test-artifacts/postgres.log and printed when both have ended. Either
# failing fails the target. `make test-sqlite` and `make test-postgres` run one pass alone.
test: lint
	@mkdir -p test-artifacts
	@$(MAKE) --no-print-directory test-postgres > test-artifacts/postgres.log 2>&1 & pg=$$!; \
	$(MAKE) --no-print-directory test-sqlite; sqlite=$$?; \
	wait $$pg; postgres=$$?; \
	echo; echo "==== the PostgreSQL pass (test-artifacts/postgres.log) ===="; \
	cat test-artifacts/postgres.log; \
	echo "SQLite pass: exit $$sqlite; PostgreSQL pass: exit $$postgres"; \
	test $$sqlite -eq 0 && test $$postgres -eq 0

test-sqlite: install axe
	$(PY) -m pytest $(PYTEST_ARGS)

# axe-core for the browser tests' accessibility checks (needs npm; without it those checks skip).
axe:
	@if command -v npm >/dev/null 2>&1; then scripts/install-axe.sh; \
	else echo "skipping axe-core: no npm (apt-get install npm)"; fi

# Browser and load tests drive their own SQLite-backed servers, so the PostgreSQL run leaves them
# out, except the oversell test and the two-hosts test, whose gunicorns serve the run's PostgreSQL
# database (the two-hosts test skips in the SQLite run). The Spark fits read no database (the worker
# stages Parquet for them) and the engine's own tests (tests/recommend) know no database either, so
# they run once, in the SQLite pass.
test-postgres: install
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ "$$(id -u)" = 0 ]; then \
		scripts/with-postgres.sh $(PY) -m pytest -m "not browser and (not load or oversell or twohosts) and not spark" --ignore=tests/recommend $(PYTEST_ARGS); \
	elif [ -n "$$SHOP_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is required (SHOP_REQUIRE_POSTGRES) but not installed" >&2; exit 1; \
	else \
		echo "skipping the PostgreSQL run: no PostgreSQL server binaries (apt-get install postgresql)"; \
	fi

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts .cache
