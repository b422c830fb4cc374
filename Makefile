# Fresh machine: `make demo` installs everything and runs the main job; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
FPGA_FLOW := $(VENV)/bin/fpga-flow
DEMO_MODEL ?= cnn_digits
DEMO_BOARD ?= pynq-z2

.PHONY: install system-deps demo lint test test-fast benchmarks clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "fpga-flow needs Python 3.11 (hls4ml 1.3.0 + TensorFlow 2.14)"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -e '.[test,jupyter,open-fpga]'
	# pip byte-compiles on one core, compileall on all of them (67 s -> 54 s for the install
	# on 2 cores). The .pyc files matter: where PYTHONDONTWRITEBYTECODE is set (as on this project's machines),
	# nothing writes them later and every process would compile TensorFlow's modules again.
	$(PY) -c 'import compileall, sys, sysconfig; sys.exit(not compileall.compile_dir(sysconfig.get_path("purelib"), quiet=1, workers=0))' >/dev/null
	$(PY) -m ipykernel install --user --name fpga-flow --display-name "fpga-flow (Python 3.11)" >/dev/null
	touch $@

install: $(VENV)/.installed

# g++ for C-simulation; verilator and yosys for the RTL stages; Chromium for the dashboard's browser test.
system-deps:
	@missing=""; command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v verilator >/dev/null || missing="$$missing verilator"; \
	command -v yosys >/dev/null || missing="$$missing yosys"; \
	command -v chromium >/dev/null || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: install system-deps
	$(FPGA_FLOW) build $(DEMO_MODEL) --board $(DEMO_BOARD)
	$(FPGA_FLOW) dashboard reports/ --out reports/dashboard

# One pytest worker per core, at most 4 (each holds TensorFlow and runs builds); a test
# file stays on one worker, so its module fixtures (trained models, builds) run once.
# Files and tests run in a random order (pytest-randomly; the seed is printed at the top):
# rerun one order with PYTEST_ARGS='--randomly-seed=N' (or =last), or keep the written
# order while debugging with PYTEST_ARGS='-p no:randomly'.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n : 4 )))
PYTEST_ARGS ?=

# ruff: lint and import order (rules in pyproject.toml); `ruff check --fix` repairs most.
lint: install
	$(VENV)/bin/ruff check .

test: lint system-deps
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

# The inner loop: no training, no C++ compile, no browser (those tests are marked slow or
# browser); a few minutes on 2 cores.
test-fast: install
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile -m "not slow and not browser" $(PYTEST_ARGS)

benchmarks: install
	$(PY) benchmarks/build_cnn.py

clean:
	rm -rf reports/runs reports/zoo reports/dashboard reports/*.db .pytest_cache .hypothesis
