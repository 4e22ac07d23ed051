# Baton's developer commands. `make run` and `make test` are all a newcomer needs.
GO      ?= go
NPM     ?= npm
PYTHON  ?= python3
ADDR    ?= 127.0.0.1:8080
GOFLAGS ?=

# A recipe that fails removes its half-written target, so the next run tries again.
.DELETE_ON_ERROR:

.PHONY: run test test-go test-web test-browser test-clients generate build web bench bench-web lint tools clean openapi-clients

## run: start everything (local PostgreSQL under ./.baton unless DATABASE_URL is set) on $(ADDR)
run: web
	$(GO) build -o bin/baton ./cmd/baton
	./bin/baton dev --addr $(ADDR)

## test: vet, then every Go test (with -race) against a real PostgreSQL, then the dashboard's unit and browser tests,
## then the client libraries' suites against a live baton
test: test-go test-web test-browser test-clients

# The fuzz runs skip minimization (-fuzzminimizetime 0) and run a count of inputs (about 20 s each
# here), not a duration: at the end of a -fuzztime duration, Go's fuzz coordinator can fail the run
# with a bare "context deadline exceeded" on a loaded machine (golang/go#75804, fixed in Go 1.27;
# seen in CI with go1.26.8). A crashing input is still written to testdata/fuzz.
test-go:
	$(GO) vet ./...
	@url="$$($(GO) run ./cmd/baton testdb)" && \
	  echo "testing against $${url%%\?*}" && \
	  BATON_TEST_DATABASE_URL="$$url" $(GO) test -race -count=1 -timeout 15m ./... && \
	  BATON_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -fuzz '^FuzzStartRun$$' -fuzztime 3000x -fuzzminimizetime 0 ./api/ && \
	  BATON_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -fuzz '^FuzzApplyWorkflow$$' -fuzztime 6000x -fuzzminimizetime 0 ./api/

test-web: web/node_modules/.installed web
	cd web && $(NPM) test
	cd web && $(NPM) run --silent bundle-check

## test-browser: the dashboard in headless Chromium (/usr/bin/chromium) against a real baton on a fresh database;
## screenshots and figures go to web/e2e/screenshots
test-browser: build
	@url="$$($(GO) run ./cmd/baton testdb)" && \
	  BATON_TEST_DATABASE_URL="$$url" BATON_BROWSER_TESTS=1 BATON_BIN="$(CURDIR)/bin/baton" \
	  $(GO) test -count=1 -timeout 10m -run '^TestBrowser$$' -v ./web/e2e/

## generate: regenerate sqlc code, the OpenAPI documents, the dashboard's typed client, and the
## TypeScript client's types and Python client's models from the v2 document (CI fails if this leaves a diff)
generate: web/node_modules/.installed clients/typescript/node_modules/.installed
	$(GO) tool sqlc generate
	$(GO) run ./cmd/baton openapi -o api
	cd web && $(NPM) run --silent generate
	@tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && \
	  $(GO) run ./cmd/baton openapi --versions -o "$$tmp" && \
	  $(PYTHON) clients/python/scripts/generate.py "$$tmp/v2/openapi.json" && \
	  cd clients/typescript && BATON_OPENAPI_V2="$$tmp/v2/openapi.json" $(NPM) run --silent generate

## test-clients: the client libraries' suites (clients/*: Test.*Client) against a real baton on a fresh
## database; the TypeScript client also packed with npm pack, installed into an empty folder and imported,
## and run in headless Chromium
test-clients: build clients/typescript/node_modules/.installed
	@url="$$($(GO) run ./cmd/baton testdb)" && \
	  BATON_TEST_DATABASE_URL="$$url" BATON_CLIENT_TESTS=1 BATON_BIN="$(CURDIR)/bin/baton" \
	  $(GO) test -count=1 -timeout 10m -run 'Test.*Client$$' -v ./clients/

## build: the baton binary with the dashboard embedded
build: web
	$(GO) build -o bin/baton ./cmd/baton

# A stamp file, not the directory: tsc, vite and vitest add entries to node_modules (which
# changes the directory's time) without the dependencies changing.
web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund
	@touch $@

clients/typescript/node_modules/.installed: clients/typescript/package.json clients/typescript/package-lock.json
	cd clients/typescript && $(NPM) ci --no-audit --no-fund
	@touch $@

## web: build the dashboard and the offline API docs into web/dist (only when a source changed)
web: web/dist/index.html

# The dashboard's sources: a real file target on them makes a warm `make run` skip the web
# build (about 6-20 s on 2 cores) when nothing changed. The touch marks the whole build done:
# copy-docs runs after vite has written index.html.
WEB_SRC := $(shell find web/src web/public web/swagger web/scripts -type f 2>/dev/null) \
	web/index.html web/vite.config.ts web/tsconfig.json web/tsconfig.app.json web/tsconfig.node.json

web/dist/index.html: web/node_modules/.installed $(WEB_SRC)
	cd web && $(NPM) run build
	@touch $@

## bench: raw River vs one-step and 22-task DAG Baton runs, in one process against one database
## (a private cluster with standard settings; BENCH_DB=shared uses the server tests use)
bench:
	@url="$$($(GO) run ./cmd/baton testdb $(if $(filter shared,$(BENCH_DB)),,--bench))" && \
	  BATON_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 90m ./internal/bench/

## bench-web: 100 simulated dashboard users (a stream each, plus the run and analytics queries
## of their pages) against a real baton; prints the API's p95
bench-web: build
	@url="$$($(GO) run ./cmd/baton testdb)" && \
	  BATON_TEST_DATABASE_URL="$$url" BATON_BROWSER_TESTS=1 BATON_BIN="$(CURDIR)/bin/baton" BATON_E2E_SCRIPT=load.mjs \
	  $(GO) test -count=1 -timeout 10m -run '^TestBrowser$$' -v ./web/e2e/

## lint: gofmt and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf bin

## openapi-clients: generate a Go client from each API version's OpenAPI 3.0 document with
## oapi-codegen (an independent generator) and compile both
OAPI_CODEGEN ?= github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2
openapi-clients:
	rm -rf .build/openapi-clients && mkdir -p .build/openapi-clients
	$(GO) run ./cmd/baton openapi --versions -o .build/openapi-clients
	cd .build/openapi-clients && printf 'module example.com/batonclients\n\ngo 1.26\n' > go.mod && \
	  for v in v1 v2; do \
	    $(GO) run $(OAPI_CODEGEN) -generate types,client -package $$v $$v/openapi-3.0.json > $$v/client.go || exit 1; \
	  done && \
	  $(GO) get github.com/oapi-codegen/runtime@v1.9.0 && $(GO) mod tidy && $(GO) build ./... && \
	  echo "clients generated from v1 and v2 compile"
