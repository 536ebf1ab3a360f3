# The two commands a new user needs: `make demo` and `make test`. Both do their own set-up.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# The demo needs the toolkit alone; the tests also need the developer tools (pyproject's dev).
DEV_STAMP = $(VENV)/.installed-dev
DEMO_DIR ?= demo-output
# Exports that `make reference` simulates and scores, kept out of the repository.
REFTMP ?= .reference-tmp

CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test core lint typecheck unit install browser java reference clean

demo: $(STAMP)
	$(BIN)/alliance demo -o $(DEMO_DIR)

test: $(DEV_STAMP) browser java lint typecheck unit

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "alliance needs Python 3.11 or newer; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Browser tests use Debian's chromium (playwright's own browser download is not used).
browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "chromium is still missing at $(CHROMIUM)"; exit 1; }

# The Spark engine's tests run Spark in local mode, which needs a Java runtime; the default
# engine (DuckDB) and `make demo` need none.
java:
	@command -v java >/dev/null 2>&1 || { echo "installing Debian's openjdk-17-jre-headless for the Spark tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@command -v java >/dev/null 2>&1 || { echo "java is still missing"; exit 1; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

unit: $(DEV_STAMP)
	ALLIANCE_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

# The fast core while working: no slow test, no browser, no Spark (`make test` runs them all).
core: $(DEV_STAMP)
	$(BIN)/pytest -q -m "not slow and not browser and not spark"

# Regenerate the R reference values (needs Debian's r-cran-lavaan, -psych, -semtools,
# -gparotation, -lme4, -jsonlite); CI uses the committed JSON and does not need R.
reference: $(DEV_STAMP)
	mkdir -p $(REFTMP)
	$(BIN)/alliance simulate -n 500 --clinicians 20 --sessions 1 --form patient --seed 7 \
	  -o tests/reference/data/alliance.csv
	Rscript tests/reference/make_reference.R tests/reference
	$(BIN)/alliance simulate -n 240 --clinicians 20 --sessions 4 --form patient --seed 21 \
	  -o tests/reference/data/clinic.csv
	$(BIN)/alliance score tests/reference/data/clinic.csv -o tests/reference/data/clinic_scores.csv
	Rscript tests/reference/make_mixed_reference.R tests/reference
	Rscript tests/reference/make_invariance_reference.R tests/reference
	Rscript tests/reference/make_fiml_reference.R tests/reference
	$(BIN)/alliance simulate -n 3000 --sessions 1 --form patient-short --seed 15 \
	  -o tests/reference/data/alliance_short.csv
	Rscript tests/reference/make_ordinal_reference.R tests/reference
	Rscript tests/reference/make_cluster_reference.R tests/reference
	Rscript tests/reference/make_mlm_reference.R tests/reference
	Rscript tests/reference/make_ulsmv_reference.R tests/reference
	Rscript tests/reference/make_ordinal_lrt_reference.R tests/reference
	Rscript tests/reference/make_twolevel_reference.R tests/reference
	Rscript tests/reference/make_factor_scores_reference.R tests/reference
	Rscript tests/reference/make_bootstrap_reference.R tests/reference
	Rscript tests/reference/make_ordinal_invariance_reference.R tests/reference
	Rscript tests/reference/make_efa_reference.R tests/reference
	$(BIN)/alliance simulate -n 150 --clinicians 10 --sessions 4 --perspectives patient,clinician \
	  --seed 31 -o $(REFTMP)/agreement.csv
	$(BIN)/alliance score $(REFTMP)/agreement-patient.csv -o tests/reference/data/agreement_patient.csv
	$(BIN)/alliance score $(REFTMP)/agreement-clinician.csv \
	  -o tests/reference/data/agreement_clinician.csv
	Rscript tests/reference/make_agreement_reference.R tests/reference

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(REFTMP) .pytest_cache .mypy_cache .ruff_cache .hypothesis
