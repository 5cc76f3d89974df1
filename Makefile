# Everything runs from a project virtualenv on Python 3.13 (the Lambda
# runtime), created on first use. SAM CLI lives in its own virtualenv because
# its pins clash with the test dependencies.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON313 = $(shell tools/find-python313)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_VERSION := 1.170.0
BUILD_DIR ?= .aws-sam/build
export PATH := $(abspath $(VENV))/bin:$(abspath $(SAM_VENV))/bin:$(PATH)

.PHONY: help venv test lint unit integration e2e build dev demo doctor bench \
	screenshots clean

help:
	@echo "make dev      run the whole product locally (moto + local Miro + HTTP front)"
	@echo "make demo     one scripted install flow through the local stack"
	@echo "make test     lint, type-check and run every test tier"
	@echo "make build    sam build (needs only Python 3.13)"
	@echo "make doctor STACK=name   check a deployed stack for the known causes"
	@echo "make bench    measure cold start, latency, AWS calls and load"

venv: $(VENV)/.installed $(SAM)

# A dropped connection to the package index should not fail a fresh setup:
# pip retries each download, and the whole install is tried up to 3 times.
PIP_FLAGS := --quiet --disable-pip-version-check --retries 10 --timeout 60
retry = for attempt in 1 2 3; do $(1) && break; \
	[ $$attempt = 3 ] && exit 1; echo "retrying ($$attempt)"; sleep 5; done

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	@$(call retry,$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt)
	@touch $@

$(SAM):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON313) -m venv $(SAM_VENV)
	@$(call retry,$(SAM_VENV)/bin/pip install $(PIP_FLAGS) \
		aws-sam-cli==$(SAM_VERSION))

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy layers/common functions tools tests bench

test: venv lint
	tools/ensure-browser
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest tests/unit

integration: venv
	$(PY) -m pytest tests/integration

e2e: venv
	tools/ensure-browser
	$(PY) -m pytest tests/e2e

# Lambda mounts code and layers read-only, so Python cannot cache bytecode
# there and would compile every module from source on each cold start;
# compiling at build time (hash-based, as zip archives keep no exact mtimes)
# removes that cost.
build: venv
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM) build --build-dir "$(BUILD_DIR)"
	$(PYTHON313) -m compileall -q -j 0 --invalidation-mode unchecked-hash \
		"$(BUILD_DIR)"

dev: venv
	$(PY) -m tools.local.dev

demo: venv
	$(PY) -m tools.local.demo

doctor: venv
	@test -n "$(STACK)" || { echo "usage: make doctor STACK=stack-name"; exit 2; }
	$(PY) -m tools.doctor --stack "$(STACK)"

screenshots: venv
	tools/ensure-browser
	$(PY) -m tools.local.screenshots

bench: venv
	$(PY) -m bench

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache
