# The two commands a newcomer needs are `make dev` and `make test`; `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EMULATOR := tools/firebase-auth-emulator

# pytest-xdist workers: each has its own SQLite file and its own PostgreSQL database.
WORKERS ?= auto

.PHONY: help dev demo-reset test test-fast lint install clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The Firebase Auth emulator for tests/test_firebase_emulator.py (Node 20+ and npm needed).
$(EMULATOR)/node_modules/.installed: $(EMULATOR)/package.json $(EMULATOR)/package-lock.json
	cd $(EMULATOR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed $(EMULATOR)/node_modules/.installed ## Create .venv and install everything (with the Firebase Auth emulator)

dev: install ## Run the API, the scheduler and demo data on SQLite (Ctrl-C stops all)
	scripts/dev

demo-reset: install ## Rebuild only the demo database (instance/companion.db) and its history
	COMPANION_ENV=development $(BIN)/companion demo reset

test: install lint ## Run ruff and the whole suite (SQLite, and PostgreSQL when it answers; CI=true requires it)
	$(BIN)/pytest -n $(WORKERS) -rs

test-fast: install ## The SQLite half without the fuzz run, for the edit-test loop
	TEST_DATABASES=sqlite $(BIN)/pytest -n $(WORKERS) -rs -m "not fuzz"

lint: install ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean: ## Remove the virtualenv and the development database (make demo-reset keeps the venv)
	rm -rf $(VENV) instance $(EMULATOR)/node_modules
