# One-command set-up: `make demo` and `make test` create .venv with the pinned
# stack when it is missing (or when requirements/ changed) and then run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mics_mm-installed
REQS   := requirements/runtime.txt requirements/mminstall.txt requirements/tests.txt \
          requirements/optional.txt \
          requirements/data.txt setup.py

.PHONY: venv demo demo-brainmvp test test-fast clean-demo

venv: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade 'pip<26'
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/mminstall.txt -r requirements/tests.txt
	$(PY) -m pip install -q --no-deps -r requirements/data.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Pre-train MICS on the embedded synthetic demo data and print the summary.
demo: $(STAMP)
	$(PY) tools/demo.py --work-dir work_dirs/demo

# BrainMVP on the real-brain demo set (MNI152 template; derived subjects and
# simulated contrasts): 2D pre-training, then mmseg tissue segmentation with
# and without it; 3D pre-training (tiny UniFormer, 32^3 patches), then 3D
# tissue segmentation with and without it; per-case Dice and HD95 (BraTS
# rules) in work_dirs/demo_brainmvp/summary.json. Meant to take ~15 min on
# 2 free cores.
demo-brainmvp: $(STAMP)
	$(PY) tools/demo_brainmvp.py --work-dir work_dirs/demo_brainmvp

# Everything, the slow end-to-end / subprocess / multi-process tests too.
test: $(STAMP)
	$(PY) -m pytest -q --durations=25 tests

# Everything but the tests marked `slow` (under 2 minutes on 2 cores).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

clean-demo:
	rm -rf work_dirs/demo data/kvasir_demo_synthetic work_dirs/demo_brainmvp data/brain_demo
