# The two set-up commands (see README): `make run` serves the app, `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test install install-test browser clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "需要 Python 3.11（$(PYTHON) 不存在；可用 PYTHON=python3 make ...）"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

run: install
	$(BIN)/kb serve --port $(PORT)

test: install-test browser
	$(BIN)/ruff check .
	$(BIN)/kb lint --strict
	$(BIN)/pytest
	$(BIN)/kb eval
	$(BIN)/kb eval kb/eval/holdout.yaml
	$(BIN)/kb check

clean:
	rm -rf $(VENV) var test-artifacts
