# The two set-up commands (see README): `make run` serves the app, `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# The PostgreSQL the insights tests use (tests/test_insights.py); `make postgres` creates it.
KB_TEST_POSTGRES_URL ?= postgresql://kb_test:kb_test@127.0.0.1:5432/kb_test

# apt-get that waits while another install holds the apt/dpkg locks (up to 10 minutes) instead
# of failing: `make test` often runs while a machine is still installing something else.
# DPkg::Lock::Timeout covers dpkg's lock; the loop covers the lists and archives locks too.
APT_GET = sh -c 'for i in $$(seq 120); do \
	  out=$$(apt-get -o DPkg::Lock::Timeout=600 "$$@" 2>&1) && exit 0; \
	  case "$$out" in *"Could not get lock"*|*"Unable to acquire"*) \
	    [ "$$i" = 1 ] && echo "另一个安装正在进行，等待 apt/dpkg 锁…"; sleep 5;; \
	  *) echo "$$out" >&2; exit 1;; esac; \
	done; echo "$$out" >&2; exit 1' apt-get

.PHONY: run test test-fast install install-test browser postgres clean

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
		$(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium fonts-noto-cjk; \
	fi

# Debian's PostgreSQL for the insights store tests, as root: install it if missing, start its
# cluster, create the kb_test role and database. Idempotent. Not root: nothing to do, and the
# PostgreSQL cases of the tests skip, saying why.
postgres:
	@if [ "$$(id -u)" != 0 ]; then echo "不是 root：不启动 PostgreSQL，相关测试会跳过"; exit 0; fi; \
	set -e; \
	if ! command -v pg_ctlcluster >/dev/null 2>&1 && command -v apt-get >/dev/null; then \
		$(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq postgresql; \
	fi; \
	command -v pg_ctlcluster >/dev/null 2>&1 || { echo "没有 PostgreSQL：相关测试会跳过"; exit 0; }; \
	cluster="$$(pg_lsclusters -h | awk 'NR == 1 { print $$1, $$2 }')"; \
	if [ -z "$$cluster" ]; then \
		cluster="$$(ls /usr/lib/postgresql | sort -V | tail -1) main"; pg_createcluster $$cluster >/dev/null; \
	fi; \
	pg_ctlcluster $$cluster status >/dev/null 2>&1 || pg_ctlcluster $$cluster start; \
	cd /; \
	for i in $$(seq 30); do runuser -u postgres -- pg_isready -q && break; sleep 1; done; \
	runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'kb_test'" | grep -q 1 \
		|| runuser -u postgres -- psql -qc "CREATE ROLE kb_test LOGIN PASSWORD 'kb_test'"; \
	runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'kb_test'" | grep -q 1 \
		|| runuser -u postgres -- createdb -O kb_test kb_test; \
	echo "PostgreSQL $$cluster: kb_test ready"

run: install
	$(BIN)/kb serve --port $(PORT)

test: install-test browser postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/kb lint --strict
	KB_TEST_POSTGRES_URL='$(KB_TEST_POSTGRES_URL)' $(BIN)/pytest
	$(BIN)/kb eval
	$(BIN)/kb eval kb/eval/holdout.yaml
	$(BIN)/kb eval kb/eval/realstyle.yaml
	$(BIN)/kb check

# The inner loop while coding: lint and the tests without the `slow` marker (live updates
# under load, faults, gunicorn, big generated KBs), in under 3 minutes. `make test` runs all.
test-fast: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/kb lint --strict
	$(BIN)/pytest -m 'not slow'

clean:
	rm -rf $(VENV) var test-artifacts
