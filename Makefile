# chatlens: `make run` runs the pipeline, `make test` passes the tests. Both set up everything first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA_STAMP := $(VENV)/.kafka-jars

.PHONY: run test architecture test-unit test-integration test-e2e bench setup setup-browser setup-wrk setup-valgrind clean kafka-start kafka-stop

setup: $(STAMP) $(KAFKA_STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "python3 (>= 3.11) is needed"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# Kafka broker jars from Maven Central, cached in ~/.cache/chatlens (Maven's own cache is ~/.m2).
$(KAFKA_STAMP): $(STAMP) pipeline/kafka/pom.xml pipeline/kafka/broker.py
	$(BIN)/python -c "from pipeline.kafka.broker import fetch_jars; print('Kafka jars in', fetch_jars())"
	@touch $@

# Debian programs the tests and benchmarks drive: Chromium for the browser tests (Playwright never downloads a
# browser here), wrk for the webhook load benchmark, valgrind for the fold's instruction count. Skipped when
# present; otherwise apt-get (as root, or with passwordless sudo), else a clear message. $(call apt_need,PATH,PACKAGE)
APT := DEBIAN_FRONTEND=noninteractive apt-get install -y
define apt_need
@if [ -x $(1) ]; then exit 0; \
elif [ "$$(id -u)" = 0 ]; then $(APT) $(2) || { apt-get update && $(APT) $(2); }; \
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	sudo $(APT) $(2) || { sudo apt-get update && sudo $(APT) $(2); }; \
else echo "this needs Debian's $(2) at $(1): run 'apt-get install -y $(2)' as root"; exit 1; fi
@test -x $(1) || { echo "$(1) is still missing after apt-get install $(2)"; exit 1; }
endef
CHROMIUM ?= /usr/bin/chromium
WRK ?= /usr/bin/wrk
VALGRIND ?= /usr/bin/valgrind
setup-browser:
	$(call apt_need,$(CHROMIUM),chromium)
setup-wrk:
	$(call apt_need,$(WRK),wrk)
setup-valgrind:
	$(call apt_need,$(VALGRIND),valgrind)

run: setup
	CHATLENS_ADMIN_KEY=$${CHATLENS_ADMIN_KEY:-local-admin-key} $(BIN)/chatlens run

# The layers of the house (import-linter contracts in pyproject.toml): a broken contract fails `make test`.
architecture: setup
	$(BIN)/lint-imports --no-cache

test: setup setup-browser architecture
	$(BIN)/python -m pytest -q

test-unit: setup architecture
	$(BIN)/python -m pytest -q tests/unit

test-integration: setup
	$(BIN)/python -m pytest -q tests/integration

test-e2e: setup setup-browser
	$(BIN)/python -m pytest -q tests/e2e

bench: setup setup-browser setup-wrk setup-valgrind
	$(BIN)/python -m bench.pipeline_bench
	$(BIN)/python -m bench.stream_bench
	$(BIN)/python -m bench.fold_instructions
	$(BIN)/python -m bench.ingest_bench
	$(BIN)/python -m bench.rebuild_bench
	$(BIN)/python -m bench.erasure_bench
	$(BIN)/python -m bench.state_bench
	$(BIN)/python -m bench.flood_bench
	$(BIN)/python -m bench.query_bench
	$(BIN)/python -m bench.export_bench
	$(BIN)/python -m bench.page_bench

kafka-start: setup
	$(BIN)/chatlens kafka start

kafka-stop: setup
	$(BIN)/chatlens kafka stop

clean:
	rm -rf $(VENV) .data .pytest_cache .hypothesis test-artifacts
