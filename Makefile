# Two set-up commands do everything on a fresh machine with only Python 3.11+ and make:
#   make run    the main job (see README)
#   make test   the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench notebooks install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The main job: a simulated discovery campaign on the shipped experimental band gaps, looking
# for photovoltaic absorbers (gap in 1.1-1.7 eV); ledger and report in runs/campaign/. Run again,
# it resumes the same ledger (finished: it only rewrites the report); delete runs/campaign to start over.
CAMPAIGN := runs/campaign
run: $(STAMP)
	@if [ -f $(CAMPAIGN)/ledger.sqlite ]; then \
	  $(BIN)/discovery-loop resume --ledger $(CAMPAIGN)/ledger.sqlite --report $(CAMPAIGN)/report; \
	else \
	  $(BIN)/discovery-loop run --dataset matbench_expt_gap --target gap_expt_eV --formula-column composition \
	    --window 1.1 1.7 --strategy window --lower-bound 0 --budget 200 --batch-size 20 --seed 0 --gate skip \
	    --ledger $(CAMPAIGN)/ledger.sqlite --report $(CAMPAIGN)/report; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# the five notebooks at full size, executed copies into runs/notebooks/ (the committed ones stay stripped)
notebooks: $(STAMP)
	$(BIN)/python notebooks/nbtools.py run --size full --out runs/notebooks

clean:
	rm -rf $(VENV) runs build *.egg-info
