# Two entry points (see README): `make run` and `make test`. Both create .venv from the project's
# own pinned files. torch 2.13.0 is a local CPU wheel and must be installed before anything else
# pulls a CUDA build from the registry.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench clean
install: $(STAMP)

# finn-plus is installed without its own dependency pins (they would downgrade brevitas, onnx and
# onnxruntime; see requirements/finn.txt and docs/finn.md).
$(STAMP): pyproject.toml requirements/constraints.txt requirements/finn.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements/constraints.txt -e ".[test]"
	$(BIN)/pip install -q -c requirements/constraints.txt -r requirements/finn.txt
	$(BIN)/pip install -q --no-deps finn-plus==1.6.1
	touch $(STAMP)

run: install
	$(BIN)/hsbinet run

test: install
	$(BIN)/python -m pytest -q tests

bench: install
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf $(VENV) runs build
