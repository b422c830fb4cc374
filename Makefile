# Fresh machine: `make demo` installs everything and runs the main job; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
FPGA_FLOW := $(VENV)/bin/fpga-flow
DEMO_MODEL ?= cnn_digits
DEMO_BOARD ?= pynq-z2

.PHONY: install system-deps demo test benchmarks clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "fpga-flow needs Python 3.11 (hls4ml 1.3.0 + TensorFlow 2.14)"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,jupyter,open-fpga]'
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
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n : 4 )))

test: install system-deps
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile

benchmarks: install
	$(PY) benchmarks/build_cnn.py

clean:
	rm -rf reports/runs reports/zoo reports/dashboard reports/*.db .pytest_cache .hypothesis
