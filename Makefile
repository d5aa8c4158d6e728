# MPP Digital backend — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, or installed from PyPI into .tools/ on first use (no other download needed).
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTHON := .venv/bin/python
SYNC_STAMP := .venv/.synced

.PHONY: help install run test lint fmt bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(SYNC_STAMP): uv.lock pyproject.toml */pyproject.toml | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

install: $(SYNC_STAMP) ## install the workspace into .venv (uv, Python 3.11)

run: $(SYNC_STAMP) ## start PostgreSQL, NATS, every service and the gateway on http://127.0.0.1:8080
	@$(PYTHON) -m mpp_shared.devstack

test: $(SYNC_STAMP) ## run the import contracts and the whole test suite (own PostgreSQL and NATS)
	$(UV) run --frozen lint-imports
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: $(SYNC_STAMP) ## ruff, the formatter check and strict mypy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy shared/src identity-service/src catalog-service/src application-service/src tracking-service/src gateway/src

fmt: $(SYNC_STAMP) ## format and fix what ruff can
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: $(SYNC_STAMP) ## run the benchmarks under bench/ and write docs/benchmarks.md
	@for script in bench/bench_*.py; do $(PYTHON) $$script || exit 1; done

clean: ## delete .run/ (databases, NATS data, logs); stop `make run` first
	rm -rf .run
