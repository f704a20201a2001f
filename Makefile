# EyeTagger: `make run` starts it on the embedded default; `make test` runs every test.
# Both install what they need first (Python packages with pipenv into .venv/, Node packages
# with npm ci into node_modules/) and build the annotation app into dist/.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
# Run and test on the embedded default even where `make env` wrote production env/*.env files
# for docker compose; set variables in the environment to change a setting.
export EYETAGGER_ENV_FILES :=

HOST ?= 127.0.0.1
PORT ?= 8000
PYTHON := .venv/bin/python
# The API suite runs a second time on this server; Django creates and drops test_<name> there.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/eyetagger
CHROMIUM ?= /usr/bin/chromium

.PHONY: help run test test-setup deps node-deps build demo lint docs test-api test-api-sqlite test-api-postgres test-js test-e2e \
	test-deploy test-containers test-deploy-and-containers test-containers-start bench env tools

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

# pipenv from the PATH, or else installed into a private virtualenv (.tools/): a system Python
# may refuse packages installed into it (PEP 668, "externally managed").
PIPENV := $(or $(shell command -v pipenv 2>/dev/null),.tools/bin/pipenv)

.tools/bin/pipenv:
	@echo "==> Installing pipenv into .tools/"
	python3 -m venv .tools
	.tools/bin/pip install --quiet pipenv

.venv/.synced: Pipfile.lock | $(PIPENV)
	@echo "==> Installing Python packages (pipenv sync)"
	$(PIPENV) sync --dev
	@touch $@

deps: .venv/.synced  ## Install Python packages.

# npm ci only when package-lock.json changed since the last install.
node_modules/.installed: package-lock.json
	@echo "==> Installing Node packages (npm ci)"
	npm ci --no-audit --no-fund
	@touch $@

node-deps: node_modules/.installed  ## Install Node packages.

SPA_SOURCES := $(shell find src build -type f 2>/dev/null) index.html vite.config.js package-lock.json

# Rebuilt only when a source changed.
dist/index.html: node_modules/.installed $(SPA_SOURCES)
	@echo "==> Building the annotation app (vite build -> dist/)"
	npm run build
	@touch $@

build: dist/index.html  ## Build the annotation app into dist/.

demo: deps  ## Migrate the database, import the demo dataset and create the demo accounts.
	@echo "==> Migrating the database"
	$(PYTHON) manage.py migrate --no-input
	@echo "==> Importing the demo dataset (data/demo)"
	$(PYTHON) manage.py import_dataset data/demo --name "Demo irises" \
		--question "Is this image real or fake?" --choices real,fake --require choice,mask
	@echo "==> Importing the demo study (data/demo-study, docs/examples/iris-saliency-study.yaml)"
	for role in main practice catch; do \
		$(PYTHON) manage.py import_dataset data/demo-study/$$role --slug demo-study-$$role --name "Demo study $$role" \
			--question "Is this image real or fake?" --choices real,fake --require choice,mask --access chosen \
			$$( [ $$role = main ] && echo --annotators-per-image 3 ) || exit 1; \
	done
	$(PYTHON) manage.py import_study docs/examples/iris-saliency-study.yaml
	$(PYTHON) manage.py create_demo_accounts --url http://$(HOST):$(PORT)/

run: build demo  ## Run EyeTagger on SQLite with the demo dataset and accounts.
	@echo "==> Serving at http://$(HOST):$(PORT)/ (Ctrl+C stops)"
	$(PYTHON) manage.py runserver $(HOST):$(PORT)

test: test-setup test-containers-start lint test-js test-api test-e2e test-deploy-and-containers  ## Run every test.

# Side by side: the deployment tests keep about one core busy, the container tests mostly wait on
# Docker; they share no port (the container stacks publish 8380 and up, the deployment tests take
# free ports) and no database (the container stacks run their own PostgreSQL). Each one's output
# prints whole.
test-deploy-and-containers: deps build
	$(MAKE) --no-print-directory -j2 --output-sync=target test-deploy test-containers

# As root on a fresh Debian machine this installs the packages the tests drive and starts the
# local PostgreSQL server; otherwise it says what is missing.
test-setup:  ## Install the Debian packages the tests drive and start PostgreSQL, when missing.
	@echo "==> Test set-up: Debian packages, PostgreSQL at $(TEST_POSTGRES_URL)"
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) deploy/test-setup.sh

lint: deps docs  ## Check the code's style: Python (ruff), shell scripts (shellcheck), the manual's links (docs).
	@echo "==> Lint"
	.venv/bin/ruff check backend bench deploy conftest.py src
	.venv/bin/ruff format --check backend bench deploy conftest.py src
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: run deploy/install-test-tools.sh (as root)" >&2; exit 1; }
	shellcheck -x backups.sh deploy/*.sh deploy/containers/*.sh deploy/containers/standins/*/*.sh

# Strict: any warning fails, and mkdocs.yml turns broken links and anchors into warnings. Never add
# -q or -v here: with -q (MkDocs 1.6) warnings are dropped before strict mode counts them, and with
# -v anchors go unchecked, so the build passes whatever is broken (deploy/tests/test_manual.py checks).
MKDOCS_CONFIG ?= mkdocs.yml
docs: deps  ## Build the manual (docs/, MkDocs) into site/; a broken link or anchor fails.
	@echo "==> Manual (mkdocs build --strict -> site/)"
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --config-file $(MKDOCS_CONFIG)

test-js: node-deps  ## Unit tests of the annotation app (Vitest).
	@echo "==> JS unit tests (Vitest)"
	npx vitest run

# Each test file starts its own Django on a free port with a temporary SQLite database.
test-e2e: deps build  ## End-to-end tests in Debian's Chromium against the real server.
	@echo "==> End-to-end tests (Playwright + $(CHROMIUM))"
	@test -x "$(CHROMIUM)" || { echo "Chromium is missing at $(CHROMIUM): apt-get install -y chromium" >&2; exit 1; }
	@# One seeded database per run (e2e/harness.js), copied by every test file's server.
	cache=$$(mktemp -d) && CHROMIUM=$(CHROMIUM) E2E_SEED_CACHE=$$cache timeout 900 node --test --test-concurrency=1 e2e/; \
		status=$$?; rm -rf "$$cache"; exit $$status

bench: deps build  ## Drawing, undo and load benchmarks (writes nothing; see docs/BENCHMARKS.md).
	CHROMIUM=$(CHROMIUM) node bench/run.js

# Side by side: each suite keeps one core busy (pytest is one process), so on two cores both take
# about as long as the slower one alone. Each suite's output is printed whole when it ends.
test-api: deps  ## The API suite on SQLite and on Postgres, side by side.
	$(MAKE) --no-print-directory -j2 --output-sync=target test-api-sqlite test-api-postgres

# bench/tests (the benchmarks' copy of the app's sync queue kept in step with it) need no database: once is enough.
test-api-sqlite: deps
	@echo "==> API tests on SQLite"
	DATABASE_URL=sqlite:///$(CURDIR)/data/test.sqlite3 $(PYTHON) -m pytest backend bench/tests -q

test-api-postgres: deps
	@echo "==> API tests on Postgres ($(TEST_POSTGRES_URL))"
	@pg_isready -q -d "$(TEST_POSTGRES_URL)" || { echo "Postgres is not answering at $(TEST_POSTGRES_URL); start it or set TEST_POSTGRES_URL." >&2; exit 1; }
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PYTHON) -m pytest backend -q --database-tests-only

test-deploy: deps build  ## Deployment: Nginx + Gunicorn + Postgres, backups and restores, containers, settings, the manual's build.
	@echo "==> Deployment tests (Postgres at $(TEST_POSTGRES_URL); databases named after it, dropped after)"
	@pg_isready -q -d "$(TEST_POSTGRES_URL)" || { echo "Postgres is not answering at $(TEST_POSTGRES_URL); start it or set TEST_POSTGRES_URL." >&2; exit 1; }
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(PYTHON) -m pytest deploy/tests -q

# The container tests' slow part (a Docker engine, the base images, `docker compose build`) starts
# here in the background, so that it overlaps the other suites; test-containers waits for it.
CONTAINERS_STATE ?= /var/tmp/eyetagger-containers
export EYETAGGER_CONTAINERS_DIR := $(CONTAINERS_STATE)
test-containers-start: deps
	@echo "==> Container images: engine and docker compose build, in the background (log: $(CONTAINERS_STATE)/prepare.log)"
	mkdir -p $(CONTAINERS_STATE)
	nohup $(PYTHON) -m deploy.containers.stack prepare >$(CONTAINERS_STATE)/prepare.log 2>&1 & echo $$! >$(CONTAINERS_STATE)/prepare.pid

# As root on Debian it installs Docker (docker.io) and starts dockerd when none answers; where no
# image can be pulled it builds stand-ins (deploy/containers/engine.sh). Skipped, saying why,
# where no engine can be had.
test-containers: deps  ## The images built and the compose stacks run for real (docker compose).
	@echo "==> Container tests (docker compose: build, up, operator commands, restarts, scaling, dev, upgrade)"
	$(PYTHON) -m pytest deploy/containers/tests -rs

tools:  ## Install the Debian packages the tests drive (nginx-light, chromium, ...); as root.
	deploy/install-test-tools.sh

env:  ## Write env/*.env for docker compose with generated secrets (ENV_ARGS="--host NAME --force").
	deploy/make-env.sh $(ENV_ARGS)
