# Two commands matter (see README): `make shell` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installs exactly the pins of a lock file: every file must match one of its hashes, and --no-deps
# means nothing the lock does not name gets in.
PIP_LOCKED := $(BIN)/pip install -q --require-hashes --no-deps

.PHONY: shell test test-unit test-integration test-adapters test-e2e lint catalogs bench lock

# A changed run lock (or a changed test lock, once the test tools are in) builds .venv afresh, so
# that it holds what the lock files name and nothing left over from an earlier lock.
$(VENV)/.run: requirements/run.txt $(if $(wildcard $(VENV)/.test),requirements/test.txt)
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(PIP_LOCKED) -r requirements/run.txt
	touch $@

# The project itself, built by the setuptools pinned in the run lock (no build environment to fetch).
$(BIN)/hostbot: $(VENV)/.run pyproject.toml
	$(BIN)/pip install -q --no-deps --no-build-isolation --check-build-dependencies -e .
	$(BIN)/pip check
	touch $@

# The test tools (ruff, mypy, pytest, hypothesis, playwright...) on top of what running needs.
$(VENV)/.test: $(BIN)/hostbot requirements/test.txt
	$(PIP_LOCKED) -r requirements/test.txt
	$(BIN)/pip check
	touch $@

shell: $(BIN)/hostbot
	$(BIN)/hostbot shell

test: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n auto

# One layer of the suite at a time: no database or network; services and handlers on SQLite and
# PostgreSQL; the platform adapters against their fakes; whole processes (CLI, shell, signals).
test-unit test-integration test-adapters test-e2e: test-%: $(VENV)/.test
	$(BIN)/pytest -n auto tests/$*

lint: $(VENV)/.test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/mypy

# Re-extract the messages and merge them into every catalog (headers and translations are kept).
catalogs: $(BIN)/hostbot
	$(BIN)/pybabel extract -F pyproject.toml -c TRANSLATORS: --no-location --sort-output -w 110 \
		--project hostbot -o locales/messages.pot bot handlers services
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages \
		--no-fuzzy-matching --ignore-obsolete -w 110

bench: $(BIN)/hostbot
	$(BIN)/python -m bench.telegram_webhook
	$(BIN)/python -m bench.dispatcher
	$(BIN)/python -m bench.alerts
	$(BIN)/python -m bench.jobs --customers 100000
	$(BIN)/python -m bench.startup

# Lock files (see README, Dependencies). pip-tools runs in a venv of its own, pinned with hashes
# in requirements/tools.txt, so it never mixes with the project's packages.
LOCK_VENV := .venv-lock
# Existing pins are kept; LOCK_ARGS passes more options, e.g. LOCK_ARGS='--upgrade-package babel'.
COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile -q --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

$(LOCK_VENV)/.tools: requirements/tools.txt
	rm -rf $(LOCK_VENV)
	$(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --require-hashes --no-deps -r requirements/tools.txt
	touch $@

lock: $(LOCK_VENV)/.tools
	$(COMPILE) -o requirements/tools.txt requirements/tools.in
	$(COMPILE) --build-deps-for editable -o requirements/run.txt pyproject.toml
	$(COMPILE) --build-deps-for editable --extra test -c requirements/run.txt \
		-o requirements/test.txt pyproject.toml
