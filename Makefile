# Two commands on a fresh machine:  make run  (serve the seeds)  and  make test  (whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint browser-deps bench-deps bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)  ## serve the search service on the bundled seeds (builds the index if missing)
	$(BIN)/searchsvc serve --source seeds --index index

browser-deps:  ## Debian's Chromium for the browser tests (needs root)
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The suite runs its engine-contract tests on both engines: it starts the local OpenSearch
# cluster when none runs (and stops it again afterwards), and tells the tests where it is.
test: $(STAMP) browser-deps  ## the whole test suite: lint, types, both engines, browser
	$(BIN)/ruff check searchsvc tests bench
	$(BIN)/mypy searchsvc
	@started=0; \
	if ! tools/opensearch/cluster.sh status >/dev/null 2>&1; then \
		tools/opensearch/cluster.sh start || exit 1; started=1; fi; \
	SEARCHSVC_TEST_OPENSEARCH_URL=$$(cat .opensearch/url) $(BIN)/python -m pytest -q; \
	status=$$?; \
	if [ $$started = 1 ]; then tools/opensearch/cluster.sh stop; fi; \
	exit $$status

test-fast: $(STAMP)  ## unit and API tests only
	$(BIN)/python -m pytest -q -m "not e2e and not browser and not reuters"

lint: $(STAMP)
	$(BIN)/ruff check searchsvc tests bench
	$(BIN)/mypy searchsvc

bench-deps:  ## wrk, the HTTP load generator of the benchmarks (needs root)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)

bench: $(STAMP) bench-deps  ## full benchmark run on ../shared (not part of the suite)
	$(BIN)/python -m bench all --corpus ../shared/corpora --out bench/results/

bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) index/gen-* index/current index/.lock artifacts

# Local OpenSearch (the second engine): three nodes on loopback, one JVM each, built from
# Maven Central by tools/opensearch/ (see tools/opensearch/README.md).
.PHONY: opensearch opensearch-stop opensearch-smoke

opensearch:  ## start the local 3-node OpenSearch cluster in the background, wait for green; URLs in .opensearch/url
	tools/opensearch/cluster.sh start

opensearch-stop:  ## stop the local OpenSearch cluster (harmless when none runs)
	tools/opensearch/cluster.sh stop

opensearch-smoke: $(STAMP)  ## index, search, aggs, collapse, alias swap against the running cluster
	@$(BIN)/python -c 'import opensearchpy' 2>/dev/null || $(BIN)/pip install --quiet 'opensearch-py>=3,<4'
	$(BIN)/python tools/opensearch/smoke.py
