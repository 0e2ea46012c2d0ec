# Stagecraft: `make run` starts the default stage, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= stage-data
WEB_PORT ?= 8080
ARGS ?=

.PHONY: run test lint bench install system-deps clean addon

run: $(STAMP)
	$(BIN)/stagecraft serve --data-dir $(DATA_DIR) --web-port $(WEB_PORT) $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest ran no tests: that is a failure"; exit 1; fi; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

addon: $(STAMP)
	$(BIN)/python blender_addon/build.py --out dist

install: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps.sh tests/browser/package-lock.json
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[test,mocap]"
	cd tests/browser && npm ci --no-audit --no-fund
	touch $(STAMP)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
