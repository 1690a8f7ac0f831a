# ferry — run `make` for the list of targets.
SHELL := /bin/bash
GO    ?= go
PKGS  ?= ./...

.DEFAULT_GOAL := help
.PHONY: help build test lint generate verify-generated demo bench deps

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build ferryd and ferryctl into bin/
	$(GO) build -o bin/ ./cmd/...

test: deps lint verify-generated ## Run every test tier (e2e tests need root and OVS; they skip with a reason otherwise)
	$(GO) test -count=1 -timeout 14m $(PKGS)

lint: ## gofmt (must list nothing) and go vet
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

generate: ## Regenerate the OVSDB models from the schemas
	$(GO) generate ./ovsdb/... ./vtep/...

verify-generated: ## Check that the generated OVSDB models match the schemas
	bash hack/verify-generated.sh

demo: deps ## Run the end-to-end demo in the namespace lab (root)
	bash examples/demo.sh

bench: ## Run the benchmarks
	@echo "$(GO) test -run '^$$' -bench . -benchmem $(PKGS)"
	@$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

deps: ## Install OVS and the lab tools if missing, download Go modules
	bash .ci/install-deps
