# counterram: `make run` and `make test` are all a user needs to type on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN  := $(VENV)/.stamp-run
STAMP_DEV  := $(VENV)/.stamp-dev
STAMP_BENCH := $(VENV)/.stamp-bench

.PHONY: run test bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@ $(STAMP_DEV) $(STAMP_RUN)

## run: fly, sense, track, warn and engage the embedded default scenario; results in out/
run: $(STAMP_RUN)
	$(VENV)/bin/counterram run --out out

## test: the whole test suite (and lint)
test: $(STAMP_DEV)
	$(VENV)/bin/ruff check src tests bench
	$(PY) -m pytest -q

## bench: the speed benchmarks (plain scripts printing medians and ratios)
bench: $(STAMP_BENCH)
	$(PY) bench/flight.py
	$(PY) bench/tracker.py
	$(PY) bench/engine.py
	$(PY) bench/predict.py
	$(PY) bench/salvo.py

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
