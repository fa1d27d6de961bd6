# symml developer tasks. `make demo` and `make test` set themselves up on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.symml-installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# Re-runs only when pyproject.toml changes. torch==2.13.0 goes in first so that pip takes the local
# CPU wheel: with no torch installed, any looser spec (ours or a dependency's) pulls a CUDA build.
$(STAMP): pyproject.toml
	@if ! command -v gfortran >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "gfortran not found: installing it with apt-get (escnn's dependency py3nj needs it)"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y gfortran; \
	  else \
	    echo "escnn's dependency py3nj needs a Fortran compiler: install gfortran" \
	      "(Debian/Ubuntu: apt-get install gfortran; macOS: brew install gcc)" >&2; \
	    exit 1; \
	  fi; \
	fi
	@if ! command -v c++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ]; then \
	  echo "c++ not found: installing g++ (symml builds its CPU contraction kernel with it)"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y g++; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install "numpy<2"
	$(BIN)/pip install -e ".[all]"
	touch $@

# The quick-start study: equivariant models vs plain and augmented baselines on N-body and on
# upright MNIST tested at 24 rotation angles, trained here (not taken from the committed records,
# which experiments/quickstart/results/cpu reports for comparison); 6.5-7.5 minutes on 2 cores.
# Online, MNIST is fetched (checksummed) first if symml does not find it; offline, the study goes
# on without its image part, which `symml reproduce` skips with a note.
demo: setup
	@$(BIN)/symml data download mnist --if-missing \
	  || echo "make demo: going on without MNIST; the MNIST part of the study is skipped"
	$(BIN)/symml reproduce quickstart --no-reuse-records

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy symml

# Two pytest workers (pytest-xdist) with one torch thread each: the suite's many small tests keep
# both cores busy this way, which two threads in one process do not (about half the wall time).
test: lint
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -n 2 --dist worksteal

bench: setup
	@set -e; found=0; \
	for f in benchmarks/bench_*.py; do \
	  [ -e "$$f" ] || continue; found=1; \
	  echo "== $$f"; $(BIN)/python "$$f"; \
	done; \
	[ "$$found" = 1 ] || echo "no benchmarks/bench_*.py yet"

# Removes build and tool caches; keeps .venv and runs/ (experiment results).
clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d \
	  -prune -exec rm -rf {} +
