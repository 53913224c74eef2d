# Both targets create their own virtual environment in .venv on first use.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.stalwart-installed

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch (pinned); a bare `torch` would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,ray]'
	# A test-only reference for the attacks; it declares torchvision but never imports it.
	$(BIN)/pip install -q --no-deps torchattacks==3.5.1
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stalwart run examples/calorimeter.yaml --study-dir studies/calorimeter-demo

# The fast tests share the two cores (pytest-xdist); the slow ones run real worker
# processes or clusters that use both cores themselves, so they run one at a time after.
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools examples
	$(BIN)/python -m pytest -q -m "not slow" -n 2
	$(BIN)/python -m pytest -q -m slow

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools examples

clean:
	rm -rf $(VENV) studies .pytest_cache .ruff_cache
