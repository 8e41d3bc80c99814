# 明责 Mingze — run `make run` (set up, index, serve) or `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run setup llm index dense serve test eval bench load scale clean

$(BIN)/assistant: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/assistant

# optional: a real local model (Gemma 3 270M + llama-cpp-python's server) so `make test` also runs
# tests/test_llm_integration.py. llama-cpp-python compiles llama.cpp from source; its bindings load only libllama and
# libggml*, so skip the multimodal library and llama.cpp's common/httplib (forced on by llama-cpp-python, turned off
# again by a project-include hook for the vendored project): ~1/3 of the default compile time
LLM_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(abspath $(VENV))/llama-no-common.cmake
llm: setup
	printf 'set(LLAMA_BUILD_COMMON OFF CACHE BOOL "" FORCE)\n' > $(VENV)/llama-no-common.cmake
	CMAKE_ARGS="$(LLM_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install -q -e '.[llm]'

index: setup
	$(BIN)/assistant index

# dense embeddings fill in incrementally (content hashes); the service also does this in the background
dense: setup
	$(BIN)/assistant index --dense

serve: setup
	$(BIN)/assistant serve --host $(HOST) --port $(PORT)

run: index serve

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

eval: setup
	$(BIN)/assistant eval statutes --dataset evals/datasets/statute_qa_dev.jsonl --json
	$(BIN)/assistant eval statutes --dataset evals/datasets/statute_qa_test.jsonl --json
	$(BIN)/assistant eval cases --queries ../shared/data/clcr/queries.jsonl --qrels ../shared/data/clcr/qrels_dev.txt --split dev --json
	$(BIN)/assistant eval cases --queries evals/datasets/guiding_drafts_queries.jsonl --qrels evals/datasets/guiding_drafts_qrels.txt --json

bench: setup
	$(BIN)/python -m evals.bench

# 50 clients x 60 s on search + chat against a real server (keys + audit on); LOAD_CLIENTS=8 LOAD_SECONDS=10 for a short run
LOAD_CLIENTS ?= 50
LOAD_SECONDS ?= 60
LOAD_WORKERS ?= 2
load: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m evals.load --clients $(LOAD_CLIENTS) --seconds $(LOAD_SECONDS) --workers $(LOAD_WORKERS) --report

# BM25 query time and memory at 10k/100k/300k/1M synthetic chunks (evals/reports/scale.md)
scale: setup
	$(BIN)/python -m evals.scale

clean:
	rm -rf indexes/lexical indexes/chroma indexes/tokens.sqlite
