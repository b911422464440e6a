# Efficient Convolutions, Explained -- the two commands a learner needs:
#   make lab    set up .venv (if needed) and open the series in JupyterLab
#   make test   set up .venv (if needed) and run every test
# and a few for maintainers: make notebooks | compat | lint | bench | constraints | clean
#
# make test also builds (once, under .venv-compat/) two more environments from PyPI and
# runs the notebooks in them: Colab's versions (tests/compat/colab.txt, Python 3.12) and
# the oldest versions pyproject.toml allows (tests/compat/oldest.txt, Python 3.10). The
# Pythons come from pyenv, pythonX.Y on PATH, or COMPAT_PYTHON_3_12 / COMPAT_PYTHON_3_10.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888

# One BLAS thread for what runs here but the benchmarks: OpenBLAS's spinning threads make
# a busy 2-core machine 10x slower (see helpers/__init__.py); set it yourself to override.
lab test unit compat notebooks: export OPENBLAS_NUM_THREADS ?= 1

.PHONY: lab test unit compat compat-envs notebooks lint bench constraints clean help

help:
	@echo "make lab     - install into .venv and open JupyterLab on notebooks/"
	@echo "make test    - install into .venv and run the whole test suite"
	@echo "make compat  - only the Colab-like and oldest-versions runs (tests/compat)"
	@echo "make notebooks - re-execute every notebook in a fresh kernel and store its outputs"
	@echo "make lint    - ruff over helpers, tests, notebooks"
	@echo "make bench   - benchmarks (installs the [bench] extras)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "error: Python 3.10 or newer is needed (found $$($(PYTHON) --version)); set PYTHON=python3.x"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "error: could not create $(VENV); on Debian/Ubuntu install it with: sudo apt install python3-venv"; exit 2; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root) \
		$(if $(LAB_ARGS),$(LAB_ARGS),) notebooks/

test: $(STAMP) compat-envs
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

compat-envs: $(STAMP)
	$(BIN)/python tests/compat/envs.py colab oldest

compat: compat-envs
	$(BIN)/python -m pytest tests/compat

unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/e2e --ignore=tests/compat

notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py

lint: $(STAMP)
	$(BIN)/python -m ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -c benchmarks/constraints.txt -e ".[test,bench]"
	$(BIN)/python benchmarks/run.py

constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | \
		(echo "# Exact versions the series is tested with (make lab / make test install with these)."; \
		 echo "# Regenerate: make constraints"; cat) > constraints.txt

clean:
	rm -rf $(VENV) .venv-compat .pytest_cache .ruff_cache test-output convolution_*.png
