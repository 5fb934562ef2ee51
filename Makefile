# saliency-cli: every target installs what it needs first (a .venv with an editable install and test extras).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SRC    := saliency_cli tests bench scripts

.PHONY: install test test-kernels fuzz demo lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m compileall -q saliency_cli  # bytecode even under PYTHONDONTWRITEBYTECODE: ~100 ms a run
	touch $(STAMP)

# The suite shares its test files over one pytest process a core (pytest-xdist; a file's tests stay together).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# The engine, determinism and method tests again under two other OpenBLAS kernels this CPU runs (Prescott and
# the newest that differs from the default) and an emulated one, the three passes side by side (tests/kernels.py).
# OPENBLAS_CORETYPE is set for those runs only.
test-kernels: $(STAMP)
	$(BIN)/python -m tests.kernels

# The large fuzz budget (>= 10,000 cases, fresh seeds; SEED=N to replay a run). `make test` runs a small one.
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --cases 10000 --subprocesses 100 $(if $(SEED),--seed $(SEED))

demo: $(STAMP)
	$(BIN)/saliency-cli saliency --probe clean
	$(BIN)/saliency-cli lrp --rule gamma

lint: $(STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

format: $(STAMP)
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

bench: $(STAMP)
	@for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

# PyTorch (CPU wheel) + Captum side by side, in a separate git-ignored venv: never a dependency of the package.
BENCH_VENV  := .bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed-stamp

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0 numpy packaging tqdm matplotlib onnx -e .
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps captum
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps zennit==0.5.1
	$(BENCH_VENV)/bin/python -m compileall -q saliency_cli
	touch $(BENCH_STAMP)

bench-compare: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/compare_torch.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
