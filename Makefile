# The two commands of the README: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PO_FILES := $(wildcard survey/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
HOST ?= 127.0.0.1
# Install the Debian packages named in $(1) that are not installed yet (sudo when not root).
apt_install = missing=""; for p in $(1); do \
	dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
PORT ?= 5000
BROWSER_LOG := .browser-tests.log

.PHONY: run test install system browser odk-engine lint translations-extract bench clean

run: install
	$(BIN)/survey init
	$(BIN)/survey serve --host $(HOST) --port $(PORT)

test: install browser odk-engine
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	@# The browser tests run one at a time beside the rest (which takes both cores): they mostly
	@# wait for Chromium, so the two together take little longer than the rest alone. Their
	@# report is printed after the rest's; either failing fails the target.
	@$(BIN)/pytest -q --durations=10 -m browser > $(BROWSER_LOG) 2>&1 & browser=$$!; \
	$(BIN)/pytest -q -n auto --dist worksteal --durations=25 -m "not browser"; rest=$$?; \
	wait $$browser; browsers=$$?; \
	echo "--- browser tests (Chromium) ---"; cat $(BROWSER_LOG); \
	test $$rest -eq 0 && test $$browsers -eq 0

install: system $(STAMP) $(MO_FILES)
	@# Every command and web worker imports some 150 of our modules: compiled once here, since
	@# with PYTHONDONTWRITEBYTECODE set (as on this machine kind) imports never write them, and
	@# each process would compile them again (a fifth of a second per start).
	@$(BIN)/python -m compileall -q survey reports

# The paper and its charts need these fonts (Kazakh letters included) and HarfBuzz's subsetter,
# which WeasyPrint uses to embed fonts; Debian ships each as a package of its own.
SYSTEM_PACKAGES := fonts-dejavu-core fonts-liberation libharfbuzz-subset0

system:
	@$(call apt_install,$(SYSTEM_PACKAGES))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

survey/translations/%/LC_MESSAGES/messages.mo: survey/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

# Browser tests drive Debian's Chromium.
browser:
	@$(call apt_install,chromium)

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
