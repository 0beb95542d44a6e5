# Orchard: every command a developer or CI needs. `make help` lists them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
INFRA := $(PY) deploy/local/infra.py
PYTEST_ARGS ?=

.PHONY: help install up down status lint schemas service-docs runtime-requirements test test-unit test-faults run demo report migrate replay bench bench-infra bench-plumbing bench-postgres bench-ingest bench-health bench-pipeline bench-soak bench-memory bench-scaleout bench-profile bench-report bench-signal bench-alert-ceiling bench-alert-ceiling-gbm bench-expansion clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(STAMP) ## Python venv with the pinned dependencies
$(STAMP):
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	# The project itself (editable, its pins are above): puts the `orchard` console script in $(BIN).
	$(BIN)/pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

up: ## Start local Kafka (KRaft) and PostgreSQL, fetching what they need; reuses a running one
	$(INFRA) up

down: ## Stop local Kafka and PostgreSQL (data is kept)
	$(INFRA) down

status:
	$(INFRA) status

lint: install ## ruff and mypy over shared/, services/, cli/ and the benchmarks' data sets
	$(BIN)/ruff check shared services cli tests bench deploy
	$(BIN)/mypy shared services cli deploy/local/demo.py deploy/local/book.py deploy/local/launcher \
		bench/signal_quality.py bench/alert_ceiling.py bench/alert_timing.py bench/expansion_misses.py bench/datasets \
		bench/common.py bench/plumbing.py bench/postgres_ceiling.py bench/ingest.py bench/health.py bench/health_digest.py bench/pipeline.py bench/processes.py bench/soak.py bench/memory_lag.py bench/scaleout.py bench/report.py bench/profile_top.py \
		deploy/service_docs.py deploy/runtime_requirements.py

schemas: install ## Regenerate docs/schemas/*.json and docs/asyncapi.yaml from the event models
	$(BIN)/python -m shared.events.docs

service-docs: install ## Regenerate the endpoints and settings sections of services/*/README.md and docs/operations.md
	$(BIN)/python -m deploy.service_docs

runtime-requirements: install ## Regenerate deploy/requirements-runtime.txt from pyproject.toml and requirements.lock
	$(BIN)/python -m deploy.runtime_requirements > deploy/requirements-runtime.txt.new
	mv deploy/requirements-runtime.txt.new deploy/requirements-runtime.txt

test: install up lint ## Everything: install, start Kafka + Postgres, lint, unit + integration tests
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-unit: install ## Unit tests only (no I/O)
	$(BIN)/python -m pytest -q -m unit $(PYTEST_ARGS)

test-faults: install up ## The fault suite (-m faults): broker and Postgres restarts, SIGKILLs, poison, duplicates, long fuzzing
	$(BIN)/python -m pytest -q -p no:cacheprovider -m faults -rs $(PYTEST_ARGS)

run: install up ## The whole system on local defaults, fed with a realistic sample
	$(BIN)/python -m deploy.local.demo

demo: run

report: install ## The HTML report from the running services: make report [OUT=orchard-report.html] [BACKTEST=dir]
	$(BIN)/orchard report --out $(or $(OUT),orchard-report.html) $(if $(BACKTEST),--backtest $(BACKTEST))

migrate: install ## Apply a service's migrations without starting it: make migrate SERVICE=health
	$(BIN)/python -m shared.migrations $(SERVICE)

replay: install ## Rebuild a STOPPED service from the canonical topics: make replay SERVICE=health [FROM=<RFC 3339>] [CONFIRM=yes]
	$(BIN)/python -m shared.replay $(SERVICE) $(if $(FROM),--from-time $(FROM)) $(if $(filter yes,$(CONFIRM)),--yes) $(REPLAY_ARGS)

bench: ## All benchmarks, then the one table: bench/results/*.json and bench/results/summary.md (BENCH_QUICK=1: the performance benches at tiny sizes)
	$(MAKE) bench-plumbing bench-postgres bench-ingest bench-health bench-pipeline bench-scaleout bench-signal bench-alert-ceiling bench-expansion
	$(MAKE) bench-report

# The broker and database named by ORCHARD_KAFKA_BOOTSTRAP and ORCHARD_DATABASE_URL when both are set
# (a shared one is never restarted); else the local launcher's.
bench-infra: install
	@if [ -z "$$ORCHARD_KAFKA_BOOTSTRAP" ] || [ -z "$$ORCHARD_DATABASE_URL" ]; then $(INFRA) up; fi

bench-plumbing: bench-infra ## Consumer runner vs raw aiokafka on the same broker
	$(BIN)/python -m bench.plumbing

bench-postgres: bench-infra ## Postgres ceiling: the runner's rows (processed ids + upsert) by raw asyncpg, one and four connections
	$(BIN)/python -m bench.postgres_ceiling

bench-ingest: bench-infra ## Ingest: HTTP and raw-topic events/s vs raw aiokafka produce, same broker, same run
	$(BIN)/python -m bench.ingest

bench-health: bench-infra ## Health alone: worst case and clustered events/s, full rescore, storage at 1,000 and 10,000 accounts
	$(BIN)/python -m bench.health

bench-pipeline: bench-infra ## The four services as processes at rising steady rates: lag, CPU, ingest-to-alert latency
	$(BIN)/python -m bench.pipeline

bench-soak: bench-infra ## Load held: the four services at one steady rate for 10 minutes: memory flat, lag bounded (BENCH_SOAK_RATE=250 BENCH_SOAK_S=600)
	$(BIN)/python -m bench.soak

bench-scaleout: bench-infra ## Health as 1, 2, 3 processes in one group over one backlog, and the rescore as 1, 2, 3 concurrent passes: events/s, accounts/s, CPU, no double processing
	$(BIN)/python -m bench.scaleout

bench-memory: bench-infra ## Memory under a lagging consumer: health's RSS and tracemalloc behind a backlog vs caught up, fetch sizes, batch sizes (BENCH_MEMORY_EVENTS=20000)
	$(BIN)/python -m bench.memory_lag

# py-spy is a developer's tool, not a runtime or test dependency: this target installs it into .venv.
PROFILE_ENV := BENCH_HEALTH_SCALES=2000 BENCH_HEALTH_CLUSTERED_ACCOUNTS=20 BENCH_HEALTH_CLUSTERED_EVENTS=200 \
	ORCHARD_BENCH_RESULTS=bench/results/profiles
bench-profile: bench-infra ## py-spy flame graph and top frames of health's hot path on bench.health's workload: bench/results/profiles/
	$(BIN)/python -m pip install -q py-spy==0.4.3
	mkdir -p bench/results/profiles
	$(PROFILE_ENV) $(BIN)/py-spy record --nolineno -o bench/results/profiles/health.svg -- $(BIN)/python -m bench.health
	$(PROFILE_ENV) $(BIN)/py-spy record --nolineno --format raw -o bench/results/profiles/health.txt -- $(BIN)/python -m bench.health
	$(BIN)/python -m bench.profile_top bench/results/profiles/health.txt

bench-report: install ## bench/results/summary.md and summary.svg from the latest bench/results/*.json
	$(BIN)/python -m bench.report

bench-expansion: install ## Expansion backtest: upgrades preceded by an upsell trigger, triggers followed by one, beside the baselines: bench/results/expansion_signal.*
	$(BIN)/python -m bench.expansion_signal $(EXPANSION_ARGS)

bench-signal: install ## Health backtest on ChurnSim and archetype data sets, with the supervised baseline: bench/results/signal_quality.*
	$(BIN)/python -m bench.signal_quality $(SIGNAL_ARGS)

bench-alert-ceiling: install ## Alerts from a usage model fitted to each book's own outcomes, every threshold tried, judged like the service's: what the book allows (bench/results/alert_ceiling.*)
	$(BIN)/python -m bench.alert_ceiling $(CEILING_ARGS)

bench-alert-ceiling-gbm: install ## The same with gradient-boosted trees (installs scikit-learn into .venv; bench only): bench/results/alert_ceiling_gbm.*
	$(BIN)/python -m pip install -q scikit-learn==1.9.1
	$(BIN)/python -m bench.alert_ceiling --model gbm $(CEILING_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
