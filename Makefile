# The README's two commands: `make run` and `make test`. Both install first (quick when up to date).
VENV := .venv
RAG := $(VENV)/bin/rag
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export UNSTRUCTURED_DISABLE_NOTICE := 1

.PHONY: install run test bench clean

install:
	@scripts/install.sh

run: install
	@scripts/system-deps.sh
	$(RAG) doctor
	$(RAG) models install default --or-explain
	$(RAG) ingest data/sample --collection sample
	$(RAG) docs list --collection sample
	$(RAG) ask "How many days of paid annual leave do employees get?" --collection sample
	$(RAG) ask "What is the capital of Australia?" --collection sample
	RAG_DEFAULT_COLLECTION=sample $(RAG) ui

test: install
	@scripts/system-deps.sh --test
	$(RAG) models install default tiny
	$(VENV)/bin/python -m pytest

bench: install
	$(RAG) bench ingest

clean:
	rm -rf $(VENV) .wheels .rag
