# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run admin test test-fast lint bench clean browser-deps messages reliability mutation

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/halsaram run

# The first admin (issue 23): `make admin ID=<telegram user id>` (the bot's /whoami shows it), with
# the same settings as `make run` (HALSARAM_* variables, .env here, var/ by default); the
# database is migrated first, so it works before the first run too.
admin: setup
	@test -n "$(ID)" || { echo "usage: make admin ID=<telegram user id> (send /whoami to the bot)"; exit 2; }
	@$(BIN)/halsaram db upgrade >/dev/null
	$(BIN)/halsaram admin add $(ID)

# Chromium for the browser test of the web chat comes from Debian's packages, with a Korean
# font and a colour emoji font (the bot's texts and buttons carry emoji; without it they show
# as empty boxes, which the browser walk checks).
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-cjk fonts-noto-color-emoji
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s $(filter fonts-%,$(BROWSER_PACKAGES)) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

# The e2e tests mostly wait on processes and HTTP, so three workers fit two cores (pytest-xdist;
# each worker has its own databases, sandboxes and bots). A file's tests stay together and in
# order on one worker (loadfile): several e2e modules share one bot and build on the test before.
# TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 3

test: setup browser-deps lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# Every reliability test, the heavy ones too (they restart PostgreSQL and run long, so
# `make test` leaves them out and runs only the bounded ones).
reliability: setup
	$(BIN)/pytest -m "reliability or not reliability" tests/reliability

test-fast: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not e2e and not browser"

# Mutation testing of the money and token code (issue 22; not part of `make test`): mutmut
# ([tool.mutmut] in pyproject.toml) mutates the ledger, the market, the evidence decisions and
# the check-in tokens and runs their tests (in process, SQLite) against each mutant; prints
# killed / total per module and the survivors (read one with `.venv/bin/mutmut show NAME`).
MUTANTS := 'storage.ledger.*' 'storage.market.*' 'storage.evidence.x_decide*' \
	'storage.evidence.x__same_decision*' 'storage.evidence.x__outcome_notice*' \
	'storage.evidence.x_approved_twin*' 'storage.evidence.x_ensure_impartial*' \
	'storage.evidence.x__attended_by*' 'verification.checkin.*'
# Two mutants at a time (MUTATION_JOBS=1 on a busy machine); 16.5 min on 2 shared cores.
MUTATION_JOBS ?= 2
mutation: setup
	rm -rf mutants && mkdir -p var
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS) > var/mutation.log 2>&1 \
		|| { tail -n 40 var/mutation.log; exit 1; }
	$(BIN)/python tests/mutation_score.py $(MUTANTS)

# Every benchmark prints one JSON line; they are also collected in bench/results/latest.jsonl.
bench: setup
	@mkdir -p bench/results && : > bench/results/latest.jsonl
	@for f in bench/[a-z]*.py; do $(BIN)/python $$f | tee -a bench/results/latest.jsonl || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants

# Re-extract texts from the code and merge them into each language's catalogue.
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k t:2 -k tn:2,3 -k N_ --no-location --sort-output \
		--project halsaram -o ui/locales/halsaram.pot .
	$(BIN)/pybabel update -N -i ui/locales/halsaram.pot -d ui/locales -D halsaram --no-fuzzy-matching
