# The two commands of the README: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PO_FILES := $(wildcard survey/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install browser odk-engine lint translations-extract bench clean

run: install
	$(BIN)/survey init
	$(BIN)/survey serve --host $(HOST) --port $(PORT)

test: install browser odk-engine
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q

install: $(STAMP) $(MO_FILES)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

survey/translations/%/LC_MESSAGES/messages.mo: survey/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

# Browser tests drive Debian's Chromium; install it (and fonts for Kazakh) when missing.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation >/dev/null; \
	fi

# ODK's own form engine (tests/odk, pinned by its package-lock.json) fills forms in the tests.
ODK_ENGINE := tests/odk/node_modules/@getodk/xforms-engine/package.json

odk-engine: $(ODK_ENGINE)

$(ODK_ENGINE): tests/odk/package.json tests/odk/package-lock.json
	npm ci --prefix tests/odk --no-audit --no-fund --loglevel=error
	touch $@

translations-extract: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_ngettext:1,2 -o survey/translations/messages.pot .
	$(BIN)/pybabel update -i survey/translations/messages.pot -d survey/translations --no-fuzzy-matching

bench: install
	$(BIN)/python bench/ingestion.py

clean:
	rm -rf $(VENV) *.egg-info
