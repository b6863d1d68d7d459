# Two commands matter: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 5000
CATALOGS := $(wildcard booking/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
AXE    := node_modules/axe-core/axe.min.js
ICALJS := node_modules/ical.js/package.json
NODE_TOOLS := $(AXE) $(ICALJS)

.PHONY: run test lint format install translations messages vendor-altcha bench mutation clean libical poppler

run: $(RUN_STAMP) $(COMPILED)  ## set up and serve on http://127.0.0.1:$(PORT) (SQLite, emails as files)
	$(BIN)/flask --app booking init-db
	PORT=$(PORT) $(BIN)/python -m booking.devserver

test: install $(NODE_TOOLS) libical poppler  ## the whole test suite
	$(BIN)/pytest --durations=25

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check booking tests bench mutation config.py celery_worker.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format booking tests bench mutation config.py celery_worker.py

install: $(STAMP) $(COMPILED)

# What running needs (`make run`): the package and its dependencies, nothing else.
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(RUN_STAMP)

# Everything else: the test tools and the PostgreSQL and Redis drivers (`make test`, lint, bench).
$(STAMP): pyproject.toml $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,postgres,redis]'
	touch $(STAMP)

# axe-core (npm) checks pages for WCAG violations in the browser tests, ical.js (Thunderbird's
# parser) reads our calendar files; without npm those tests are skipped.
$(NODE_TOOLS) &: package.json
	@if command -v npm >/dev/null; then npm install --no-audit --no-fund --loglevel=error && touch $(NODE_TOOLS); \
	else echo "npm not found: the accessibility and ical.js tests will be skipped (CI installs it)"; fi

# libical (Debian libical-dev) reads our calendar files in tests/calendar_clients (a C checker
# compiled by the tests); installed here when we may (root with apt-get), else the tests say so.
libical:
	@if ! pkg-config --exists libical 2>/dev/null || ! command -v cc >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libical-dev pkg-config gcc >/dev/null; \
	  else echo "libical-dev not found: the libical tests will be skipped (apt-get install libical-dev pkg-config gcc)"; fi; \
	fi

# poppler-utils (pdftotext, pdfinfo) reads the printed staff day and week in tests/e2e/test_staff_print.py.
poppler:
	@if ! command -v pdftotext >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	  else echo "poppler-utils not found: the print tests will be skipped (apt-get install poppler-utils)"; fi; \
	fi

# The ALTCHA widget is served from booking/static/altcha/ (no npm at run time, no third party):
# after changing its pinned version in package.json, refresh the copies from npm's package.
ALTCHA_FILES := dist/external/altcha.min.js dist/external/altcha.css dist/workers/sha.js LICENSE.txt
vendor-altcha:  ## copy the pinned altcha widget from node_modules into booking/static/altcha/
	npm install --no-audit --no-fund --loglevel=error
	for file in $(ALTCHA_FILES); do cp node_modules/altcha/$$file booking/static/altcha/; done
	node -p 'require("./node_modules/altcha/package.json").version' > booking/static/altcha/VERSION

# Every catalogue in one run of pybabel (its start-up costs more than compiling one catalogue).
$(COMPILED) &: $(CATALOGS) $(RUN_STAMP)
	$(BIN)/pybabel compile --statistics -d booking/translations

translations: $(COMPILED)

messages: $(STAMP)  ## extract every translatable text and update the catalogues
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o booking/translations/messages.pot --no-location --sort-output --project=termine -w 100 .
	$(BIN)/pybabel update -i booking/translations/messages.pot -d booking/translations --no-fuzzy-matching --ignore-obsolete -w 100

# Mutation testing (cosmic-ray, the `mutation` extra; not part of make test: it takes minutes).
# `make mutation MODULES="schedule office"` runs some of the modules in mutation/modules.toml.
MUTATION_STAMP := $(VENV)/.mutation-stamp
MODULES ?=
mutation: install $(MUTATION_STAMP)  ## score per module and the surviving mutants
	$(BIN)/python mutation/run.py $(MODULES)

$(MUTATION_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,redis,mutation]'
	touch $(MUTATION_STAMP)

bench: install  ## the benchmark (not part of make test): production stack under load, ratios vs baselines
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
