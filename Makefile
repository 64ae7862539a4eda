# Tapline: `make run` brings up the all-in-one, `make test` installs what the
# tests need and runs them. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
BIN     := bin/tapline
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Arguments for `make run`, e.g. make run RUN_ARGS="--data-dir /srv/tapline".
RUN_ARGS ?=

# `go test` time limit for the whole run, and for `make soak`.
TEST_TIMEOUT ?= 20m
SOAK_DURATION ?= 10m

# Debian packages the tests drive as real parts.
DEB_PACKAGES := nginx python3-fastapi python3-uvicorn python3-wsproto chromium poppler-utils docker-compose protobuf-compiler libprotobuf-dev openssl

# telemetrygen (OTLP load generator for tests). Contrib releases newer than the
# collector generation pinned in go.mod are not all on the module proxy.
TELEMETRYGEN_MODULE  := github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen
TELEMETRYGEN_VERSION := v0.161.0
GOBIN := $(shell $(GO) env GOBIN)
ifeq ($(GOBIN),)
GOBIN := $(shell $(GO) env GOPATH)/bin
endif
export PATH := $(GOBIN):$(PATH)

# chDB, the embedded ClickHouse library (see scripts/libchdb.sh).
LIBCHDB_VERSION := 26.5.3
LIBCHDB ?= $(or $(TAPLINE_LIBCHDB),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tapline/$(LIBCHDB_VERSION)/package/libchdb.so)

# sudo only when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/tapline
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tapline

.PHONY: run
run: libchdb build ## build and run `tapline run` (data in ./tapline-data, HTTP on 127.0.0.1:8080)
	./$(BIN) run $(RUN_ARGS)

# Arguments for `make demo`, e.g. make demo DEMO_ARGS="--data-dir /tmp/demo".
DEMO_ARGS ?=

.PHONY: demo
demo: deps libchdb build ## run the demo (no Docker): tapline run, proxy tap, FastAPI app, nginx, traffic, a first report; Ctrl-C stops
	./$(BIN) demo $(DEMO_ARGS)

.PHONY: test
test: deps libchdb telemetrygen ## install test dependencies, then go vet and go test everything
	$(GO) vet ./...
	CI=$${CI:-true} $(GO) test -timeout $(TEST_TIMEOUT) ./...

.PHONY: deps
deps: ## install the Debian packages the tests use (apt-get update only if one is missing)
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

.PHONY: libchdb
libchdb: ## fetch libchdb.so (chDB 26.5.3) into ~/.cache/tapline (npm pack; no other network)
	@if [ ! -f "$(LIBCHDB)" ]; then \
		if ! command -v npm >/dev/null; then \
			echo "installing npm (Debian) to fetch libchdb"; \
			$(SUDO) apt-get update -qq; \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null; \
		fi; \
		bash scripts/libchdb.sh; \
	fi

.PHONY: telemetrygen
telemetrygen: ## go install telemetrygen (OTLP load generator) unless present
	@if ! $(GO) version -m "$(GOBIN)/telemetrygen" 2>/dev/null | grep -q "$(TELEMETRYGEN_VERSION)"; then \
		echo "installing telemetrygen $(TELEMETRYGEN_VERSION)"; \
		GOFLAGS= $(GO) install $(TELEMETRYGEN_MODULE)@$(TELEMETRYGEN_VERSION); \
	fi

.PHONY: generate
generate: ## regenerate generated code (go generate ./...)
	$(GO) generate ./...

# Packages that hold benchmarks.
BENCH_PKGS = $(shell grep -rl --include='*_test.go' '^func Benchmark' . | xargs -r -n1 dirname | sort -u)

.PHONY: bench
bench: libchdb ## run the benchmarks (figures go to docs/BENCHMARKS.md)
	CI=$${CI:-true} $(GO) test -run '^$$' -bench . -benchmem -timeout 0 $(BENCH_PKGS)

.PHONY: soak
soak: libchdb telemetrygen ## run the long-running soak tests for SOAK_DURATION
	CI=$${CI:-true} TAPLINE_TEST_SOAK=$(SOAK_DURATION) $(GO) test -run 'Soak' -timeout 0 ./...

.PHONY: fmt
fmt: ## gofmt every Go file
	gofmt -s -w $$(find . -name '*.go' -not -path './.git/*')

.PHONY: lint
lint: ## gofmt -l and go vet
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*'))"; \
	if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: clean
clean: ## remove bin/ (never the data directory)
	rm -rf bin
