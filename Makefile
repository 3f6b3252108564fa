# atmp-rag: `make up` to run the service and UI, `make test` to run the whole suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MIRROR ?= $(firstword $(wildcard ../shared/corpus/pdf))
# Ports of `make up` (empty: the settings, ATMP_RAG_SERVICE__PORT / ATMP_RAG_UI__PORT, default 8000 / 8501).
PORT ?=
UI_PORT ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: up check-ports test test-fast install install-test corpus index serve ui lint bench bench-api bench-export bench-answers bench-scale calibrate clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel; any other version pulls GBs of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0

# The service and the app (`pip install atmp-rag[service]` / `atmp-rag[ui]` install them apart).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[service,ui]'
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

# Ports are checked first (before installing: stdlib only); then corpus sync (from MIRROR: nothing
# downloaded), ingest if stale, API + UI. `atmp-rag up` checks again with the full settings.
up: check-ports install
	$(BIN)/atmp-rag up --prepare $(if $(MIRROR),--mirror $(MIRROR)) $(if $(PORT),--port $(PORT)) \
		$(if $(UI_PORT),--ui-port $(UI_PORT))

check-ports:
	@PYTHONPATH=src $(PY) -m atmp_rag.health $(or $(PORT),$(ATMP_RAG_SERVICE__PORT),$(ATMP_RAG_PORT),8000) \
		$(or $(UI_PORT),$(ATMP_RAG_UI__PORT),$(ATMP_RAG_UI_PORT),8501)

serve: index
	$(BIN)/atmp-rag serve

ui: install
	$(BIN)/atmp-rag ui

# The whole suite: the fast tier and the integration tier (real model, indexes, servers, browser, BEIR).
test: install-test
	$(BIN)/ruff check src tests bench ui eval
	$(BIN)/python -m pytest -q --durations=25

# The fast tier only (fake embedder, generated PDFs; under a minute): `-m "not integration"`.
test-fast: install-test
	$(BIN)/python -m pytest -q -m "not integration" --durations=10

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

# A 20-passage basket to DOCX against one /v1/search, same run (target: export p50 <= 1 s).
bench-export: install-test index
	$(BIN)/python bench/export.py

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
