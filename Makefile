# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch goes in first, so sentence-transformers does not pull a multi-GB CUDA build.
# Elsewhere, point TORCH_PIP_ARGS at PyTorch's CPU wheel index (see README).
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.installed
# The five sample stories the repository carries (examples/README.md), so a clone anywhere
# runs `make demo`; DOCS=… QUESTION=… choose others.
DOCS ?= examples/stories
QUESTION ?= 聂荣县远程会诊多少场
INDEX ?= .newsqa/index
PYTEST_ARGS ?=

.PHONY: install demo test lint typecheck unit eval bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_PIP_ARGS) "$(TORCH)"
	$(PIP) install --quiet -e '.[test,milvus]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	NEWSQA_DOCS_DIR=$(DOCS) NEWSQA_INDEX_DIR=$(INDEX) $(VENV)/bin/newsqa index build
	NEWSQA_INDEX_DIR=$(INDEX) $(VENV)/bin/newsqa ask "$(QUESTION)"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest $(PYTEST_ARGS)

eval: install
	NEWSQA_DOCS_DIR=$(DOCS) $(VENV)/bin/newsqa eval --qa ../shared/eval/stories_qa_dev.jsonl

bench: install
	NEWSQA_DOCS_DIR=$(DOCS) $(VENV)/bin/newsqa bench

clean:
	rm -rf $(VENV) .newsqa .pytest_cache .mypy_cache .ruff_cache
