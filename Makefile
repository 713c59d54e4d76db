# mlops-hub: the two fresh-machine commands are `make preview` (main job) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
TOOLS := .tools
EMULATORS_STAMP := $(TOOLS)/.installed

export DO_NOT_TRACK := true
export PULUMI_SKIP_UPDATE_CHECK := true

.PHONY: setup checkov-env emulators preview test lint format typecheck pytest lock clean

setup: $(STAMP) checkov-env emulators

# --no-compile: byte-compiling the provider SDKs costs ~50 s and most modules are never imported.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile --no-deps -e .
	touch $@

checkov-env: $(CHECKOV_STAMP)

# checkov for `hub gate`, in its own venv: its pins clash with pulumi's. Byte-compiled on purpose
# (unlike .venv): every scan imports thousands of checkov modules, ~12 s uncompiled vs ~3 s compiled.
$(CHECKOV_STAMP): requirements-checkov.lock
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.lock
	touch $@

emulators: $(EMULATORS_STAMP)

# Storage emulators the RAG ingestion tests start on 127.0.0.1 (tests/workloads/rag/conftest.py finds them
# here): gcp-storage-emulator in its own venv, Azurite from npm at the locked version.
$(EMULATORS_STAMP): tools/emulators/requirements.txt tools/emulators/package-lock.json
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)/gcs
	$(TOOLS)/gcs/bin/pip install --quiet --disable-pip-version-check -r tools/emulators/requirements.txt
	mkdir -p $(TOOLS)/azurite
	cp tools/emulators/package.json tools/emulators/package-lock.json $(TOOLS)/azurite/
	cd $(TOOLS)/azurite && npm ci --no-audit --no-fund --silent
	touch $@

preview: setup
	$(BIN)/hub preview dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q -n auto

test: lint typecheck pytest

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock:
	rm -rf /tmp/mlops-hub-lock && $(PYTHON) -m venv /tmp/mlops-hub-lock
	/tmp/mlops-hub-lock/bin/pip install --quiet --no-compile '.[dev,rag,ml]'
	{ echo "# The whole dependency tree, pinned (pip freeze of a clean 'make setup' venv)."; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  /tmp/mlops-hub-lock/bin/pip freeze --exclude-editable | grep -v '^mlops-hub' \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements.lock

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
