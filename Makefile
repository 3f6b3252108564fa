# atmp-rag: `make up` to run the service and UI, `make test` to run the whole suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MIRROR ?= $(firstword $(wildcard ../shared/corpus/pdf))
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: up test install install-test corpus index serve ui lint bench bench-api bench-answers bench-scale calibrate clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel; any other version pulls GBs of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

corpus: install
	$(BIN)/atmp-rag corpus sync $(if $(MIRROR),--mirror $(MIRROR))

index: corpus
	$(BIN)/atmp-rag ingest

up: index
	$(BIN)/atmp-rag up

serve: index
	$(BIN)/atmp-rag serve

ui: install
	$(BIN)/atmp-rag ui

test: install-test
	$(BIN)/ruff check src tests bench ui eval
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check src tests bench ui eval

bench: install-test corpus
	$(BIN)/python bench/ingest.py

clean:
	rm -rf indexes/*/ indexes/current indexes/.tmp-* .pytest_cache

# API latency benchmark (real uvicorn on 127.0.0.1, full index); answer scorer + abstention fit (dev split);
# answer quality against the pre-issue-8 answerer (test split).
bench-api: install-test index
	$(BIN)/python bench/api.py

# Soak: 8 and 32 clients on a real uvicorn while builds are published (issue 9); 0 errors required.
bench-soak: install-test index
	$(BIN)/python bench/soak.py

calibrate: install-test index
	$(BIN)/python eval/fit_answer_scorer.py

bench-answers: install-test index
	$(BIN)/python bench/answers.py --split test

# Retrieval evaluation: time and memory of `atmp-rag eval` per mode on NFCorpus and SciFact.
bench-eval: install-test
	$(BIN)/python bench/eval.py --repeat 2

# Scale (issue 11): local vs Ray ingest on the real and on synthetic PDFs; serving costs at 10^4-10^6 passages.
bench-scale: install-test index
	$(BIN)/python bench/scale.py documents --pdfs $(or $(MIRROR),corpus/pdf) --repeat 2
	$(BIN)/python bench/scale.py documents --n 20
	$(BIN)/python bench/scale.py passages --source indexes
