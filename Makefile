# CourseHub: everyday commands. `make demo` and `make test` are all a new clone needs.
#
#   make demo                      set up, then run every automation on demo data (SQLite, nothing leaves the machine)
#   make test [ARGS="-k foo"]      the whole suite; DATABASE_URL=postgres://... runs it on PostgreSQL
#   make lint | format | run | worker | schedules | bench

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements/*.txt)
ARGS ?=

# With DJANGO_ENV unset the app applies production rules (it needs SECRET_KEY and an https
# SITE_URL), so every target here says which environment it runs in: development, or test.
DEV_ENV := env DJANGO_ENV=development
# The demo always uses the SQLite file (even if .env names another database) and mock mode:
# email goes to files in var/mail/, WhatsApp to files in var/whatsapp/.
DEMO_ENV := $(DEV_ENV) DATABASE_URL='sqlite:///$(CURDIR)/var/db.sqlite3' MOCK_MODE=true DEFAULT_FROM_EMAIL='CourseHub Demo <hello@demo.coursehub.example>'

.DEFAULT_GOAL := help
.PHONY: help install demo test lint format run worker schedules bench

help:
	@echo "make demo        set up and run every automation on demo data (SQLite, mock mode)"
	@echo "make test        run the whole suite (ARGS=\"-k foo\" for pytest options)"
	@echo "make lint        ruff check + ruff format --check + lint-imports (the layers)"
	@echo "make format      sort imports and format with ruff"
	@echo "make run         development server (manage.py runserver)"
	@echo "make worker      django-q2 worker (manage.py qcluster)"
	@echo "make schedules   sync job schedules to django-q2 (manage.py setup_schedules)"
	@echo "make bench       benchmarks (python -m bench)"

# Create the virtualenv with Python 3.11 only (pyproject.toml: requires-python >=3.11,<3.12).
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { \
		echo "error: CourseHub needs Python 3.11, but PYTHON=$(PYTHON) is $$($(PYTHON) --version 2>&1)." >&2; \
		echo "       Install Python 3.11, then run: make PYTHON=python3.11 ..." >&2; \
		exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file is newer than the last install.
$(STAMP): $(REQUIREMENTS) | $(PY)
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
		echo "error: $(VENV) was made with $$($(PY) --version 2>&1), not Python 3.11: remove $(VENV) and retry." >&2; \
		exit 1; }
	$(PY) -m pip install --disable-pip-version-check --quiet -r requirements/dev.txt
	@touch $@

install: $(STAMP)

var:
	@mkdir -p var

demo: $(STAMP) | var
	$(DEMO_ENV) $(PY) manage.py migrate --noinput -v 0
	$(DEMO_ENV) $(PY) manage.py seed_demo --reset --no-next-step
	$(DEMO_ENV) $(PY) manage.py run_reminders all
	$(DEMO_ENV) $(PY) manage.py delivery_report

# Runs on whatever DATABASE_URL the environment sets (SQLite in var/ when unset).
# PYTEST_EXIT_FILE, when set, receives pytest's own exit code (make itself only ever exits 2).
test: $(STAMP) | var
	@DJANGO_ENV=test $(PY) -m pytest $(ARGS); status=$$?; \
	if [ -n "$(PYTEST_EXIT_FILE)" ]; then echo $$status > "$(PYTEST_EXIT_FILE)"; fi; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests (exit code 5): that is a failure." >&2; fi; \
	exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

run: $(STAMP) | var
	$(DEV_ENV) $(PY) manage.py runserver

worker: $(STAMP) | var
	$(DEV_ENV) $(PY) manage.py qcluster

schedules: $(STAMP) | var
	$(DEV_ENV) $(PY) manage.py setup_schedules

# Benchmarks on a PostgreSQL database of their own (bench/, not part of the test suite), e.g. ARGS="--size large".
bench: $(STAMP)
	$(DEV_ENV) $(PY) -m bench $(ARGS)
