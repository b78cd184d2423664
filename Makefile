# lectern developer entry points. `make run` and `make test` do all set-up on a fresh Debian
# machine (Python 3.11): a .venv, CPU torch, lectern with its dev extras, Tesseract, and
# Chromium for the web page's browser test.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lectern-installed
# Installed on its own first: this pin resolves to the CPU wheel here, where a bare `torch`
# would pull a multi-gigabyte CUDA build.
TORCH := torch==2.13.0
TESSERACT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
CHROMIUM := /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help install tesseract chromium run test lint

help:
	@echo "make run    install everything, migrate the database, serve on 127.0.0.1:8000"
	@echo "           (LECTERN_WEB_WORKERS=N make run: N HTTP worker processes)"
	@echo "make test   install everything, then lint (ruff, mypy --strict, import contracts) and the test suite"
	@echo "make lint   ruff, mypy and the import contracts (lint-imports) only"

# Debian's python3 needs python3-venv for `-m venv`; root installs it, others are told how.
$(BIN)/python:
	@$(PYTHON) -m venv --clear $(VENV) || { \
	  if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv && \
	    $(PYTHON) -m venv --clear $(VENV); \
	  else \
	    echo "Cannot create $(VENV). Install venv support: sudo apt-get install -y python3-venv" >&2; \
	    exit 1; \
	  fi; }

# Reinstalled only when pyproject.toml changes (or the venv is new).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(TORCH)
	$(BIN)/python -m pip install -e '.[dev]'
	@touch $@

tesseract:
	@command -v tesseract >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -eq 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y $(TESSERACT_PACKAGES); \
	  else \
	    echo "Tesseract is missing. Install it with:" >&2; \
	    echo "  sudo apt-get update && sudo apt-get install -y $(TESSERACT_PACKAGES)" >&2; \
	    exit 1; \
	  fi; }

# Only the browser test needs it (tests/e2e/test_web_page.py, driven by Playwright for Python):
# without root it is skipped, saying so, and nothing else stops.
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" -eq 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else \
	    echo "Chromium is missing, so the web page's browser test will be skipped. Install it with:" >&2; \
	    echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	  fi; }

install: $(STAMP) tesseract chromium

run: install
	$(BIN)/lectern db upgrade
	$(BIN)/lectern serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Lint and tests both run, so one failure does not hide the other; either fails the target.
test: install
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/lint-imports || status=1; \
	$(BIN)/pytest -p no:cacheprovider || status=1; \
	exit $$status
