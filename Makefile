# Two commands matter: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CATALOGS := $(wildcard booking/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
AXE    := node_modules/axe-core/axe.min.js

.PHONY: run test lint format install translations messages vendor-altcha bench mutation clean

run: install  ## set up and serve on http://127.0.0.1:5000 (SQLite, emails as files)
	$(BIN)/flask --app booking init-db
	$(BIN)/python -m booking.devserver

test: install $(AXE)  ## the whole test suite
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check booking tests bench mutation config.py celery_worker.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format booking tests bench mutation config.py celery_worker.py

install: $(STAMP) $(COMPILED)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,redis]'
	touch $(STAMP)

# axe-core (npm) checks pages for WCAG violations in the browser tests; without npm they are skipped.
$(AXE): package.json
	@if command -v npm >/dev/null; then npm install --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the accessibility tests will be skipped (CI installs it)"; fi

# The ALTCHA widget is served from booking/static/altcha/ (no npm at run time, no third party):
# after changing its pinned version in package.json, refresh the copies from npm's package.
ALTCHA_FILES := dist/external/altcha.min.js dist/external/altcha.css dist/workers/sha.js LICENSE.txt
vendor-altcha:  ## copy the pinned altcha widget from node_modules into booking/static/altcha/
	npm install --no-audit --no-fund --loglevel=error
	for file in $(ALTCHA_FILES); do cp node_modules/altcha/$$file booking/static/altcha/; done
	node -p 'require("./node_modules/altcha/package.json").version' > booking/static/altcha/VERSION

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

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
