# Two commands matter (see README): `make shell` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: shell test lint catalogs bench

$(BIN)/hostbot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

shell: $(BIN)/hostbot
	$(BIN)/hostbot shell

test: $(BIN)/hostbot
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n auto

lint: $(BIN)/hostbot
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
	$(BIN)/python -m bench.alerts
