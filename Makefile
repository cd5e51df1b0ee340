# One-command set-up: `make demo` and `make test` create .venv with the pinned
# stack when it is missing (or when requirements/ changed) and then run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mics_mm-installed
REQS   := requirements/runtime.txt requirements/mminstall.txt requirements/tests.txt setup.py

.PHONY: venv demo test clean-demo

venv: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade 'pip<26'
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/mminstall.txt -r requirements/tests.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Pre-train MICS on the embedded synthetic demo data and print the summary.
demo: $(STAMP)
	$(PY) tools/demo.py --work-dir work_dirs/demo

test: $(STAMP)
	$(PY) -m pytest -q tests

clean-demo:
	rm -rf work_dirs/demo data/kvasir_demo_synthetic
