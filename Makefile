# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-fast lint bench clean browser-deps messages reliability

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/halsaram run

# Chromium for the browser test of the web chat comes from Debian's packages (and a
# Korean font, so the screenshot the test saves is readable).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: setup browser-deps lint
	$(BIN)/pytest

# Every reliability test, the heavy ones too (they restart PostgreSQL and run long, so
# `make test` leaves them out and runs only the bounded ones).
reliability: setup
	$(BIN)/pytest -m "reliability or not reliability" tests/reliability

test-fast: setup
	$(BIN)/pytest -m "not e2e and not browser"

# Every benchmark prints one JSON line; they are also collected in bench/results/latest.jsonl.
bench: setup
	@mkdir -p bench/results && : > bench/results/latest.jsonl
	@for f in bench/[a-z]*.py; do $(BIN)/python $$f | tee -a bench/results/latest.jsonl || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Re-extract texts from the code and merge them into each language's catalogue.
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k t:2 -k N_ --no-location --sort-output \
		--project halsaram -o ui/locales/halsaram.pot .
	$(BIN)/pybabel update -N -i ui/locales/halsaram.pot -d ui/locales -D halsaram --no-fuzzy-matching
