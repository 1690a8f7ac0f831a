# ferry — run `make` for the list of targets.
SHELL := /bin/bash
GO    ?= go
PKGS  ?= ./...

.DEFAULT_GOAL := help
.PHONY: help build man install uninstall deb test lint lint-openapi generate verify-generated demo demo-ha lab lab-down soak fuzz bench bench-probes bench-micro bench-deps deps

# What `ferryd --version` prints: stamped at link time (internal/version).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/ferry-sdn/ferry/internal/version.Version=$(VERSION) \
           -X github.com/ferry-sdn/ferry/internal/version.Commit=$(COMMIT)

# make install: DESTDIR (staging root) and PREFIX as usual; the
# configuration stays in /etc (ferryd's default --config).
DESTDIR    ?=
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
INSTALL_ENV = DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' SYSCONFDIR='$(SYSCONFDIR)'

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build ferryd and ferryctl into bin/ (stamped with git describe and the commit)
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

man: build ## Generate the man pages (bin/man: ferryd.8, ferryctl's) and bash completion from the binaries
	bash packaging/man.sh

install: build man ## Install binaries, systemd unit, man pages, /etc/ferry/ferryd.conf (kept if present), completion (PREFIX=/usr/local DESTDIR=)
	$(INSTALL_ENV) bash packaging/install.sh

uninstall: ## Remove what make install put under PREFIX (keeps /etc/ferry/ferryd.conf)
	rm -f $(DESTDIR)$(PREFIX)/bin/ferryd $(DESTDIR)$(PREFIX)/bin/ferryctl \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/ferryd.service $(DESTDIR)$(PREFIX)/share/man/man8/ferryd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man1/ferryctl*.1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ferryctl

# A static build (no libc dependency) for the package.
DEBOUT ?= bin
deb: ## Build DEBOUT/ferry_VERSION_ARCH.deb (DEBOUT=bin) with dpkg-deb (static binaries, systemd unit, man pages, conffile)
	$(MAKE) build man GO='CGO_ENABLED=0 $(GO)'
	OUT='$(DEBOUT)' VERSION='$(VERSION)' bash packaging/deb.sh

test: deps lint verify-generated ## Run every test tier (e2e tests need root and OVS; they skip with a reason otherwise)
	$(GO) test -count=1 -timeout 14m $(PKGS)

lint: ## gofmt (must list nothing) and go vet
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

lint-openapi: ## Lint rest/openapi.json with Redocly CLI's recommended rules (pinned in hack/openapi-lint; make deps installs it)
	bash hack/openapi-lint/lint.sh

generate: ## Regenerate the OVSDB models from the schemas
	$(GO) generate ./ovsdb/... ./vtep/...

verify-generated: ## Check that the generated OVSDB models match the schemas
	bash hack/verify-generated.sh

demo: deps ## Run the end-to-end demo in the namespace lab (root)
	bash examples/demo.sh

demo-ha: deps ## Run the high-availability demo: 3 ferryd replicas on a 3-member northbound cluster, owner and Raft leader killed (root)
	bash examples/demo-ha.sh

# The namespace lab the README's Quickstart runs against: `make lab` brings
# it up (hv1..hv3 on two routed underlay subnets, the management network
# ferryd runs on) with two VMs, vm1 on hv1 and vm2 on hv3, and leaves it
# running; `make lab-down` removes it and only it: the namespaces
# LAB_PREFIX-*, the processes in them (ferryd too) and LAB_DIR
# (default /tmp/ferry-lab-LAB_PREFIX). The quickstart test (examples/e2e)
# runs both with a prefix of its own.
LAB_PREFIX ?= fy
LAB        := LAB_PREFIX=$(LAB_PREFIX) bash examples/lab/lab.sh
lab: deps build ## Bring the namespace lab up with VMs vm1 (hv1) and vm2 (hv3), leave it running (root; LAB_PREFIX=fy)
	$(LAB) up
	$(LAB) guest hv1 vm1 198.18.100.1/24 02:00:00:00:01:01 iface-vm1
	$(LAB) guest hv3 vm2 198.18.100.2/24 02:00:00:00:01:02 iface-vm2
	@echo "lab $(LAB_PREFIX) is up, state in $${LAB_DIR:-/tmp/ferry-lab-$(LAB_PREFIX)}:"
	@echo "  $(LAB_PREFIX)-mgmt  management network 198.18.255.0/24; run ferryd and its clients here:"
	@echo "                ip netns exec $(LAB_PREFIX)-mgmt bin/ferryd --openflow ptcp:6653:198.18.255.1 ..."
	@echo "  $(LAB_PREFIX)-hv1   hypervisor, OVSDB tcp:198.18.255.11:6640, tunnel IP 198.18.1.11; VM $(LAB_PREFIX)-vm1 198.18.100.1 (iface-vm1)"
	@echo "  $(LAB_PREFIX)-hv2   hypervisor, OVSDB tcp:198.18.255.12:6640, tunnel IP 198.18.1.12"
	@echo "  $(LAB_PREFIX)-hv3   hypervisor, OVSDB tcp:198.18.255.13:6640, tunnel IP 198.18.2.13; VM $(LAB_PREFIX)-vm2 198.18.100.2 (iface-vm2)"
	@echo "next: the README's Quickstart; 'make lab-down' removes the lab"

lab-down: ## Remove what make lab built, and ferryd if it runs in the lab (root)
	$(LAB) down

# Every Go fuzz target, FUZZTIME each (docs/reliability.md, "Fuzzing").
# `make test` runs their seed corpora only.
FUZZTIME ?= 30s
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s; FUZZ=regexp selects targets)
	FUZZTIME='$(FUZZTIME)' FUZZ='$(FUZZ)' GO='$(GO)' bash hack/fuzz.sh

# The fault-injection soak (examples/soak, docs/reliability.md): FAULTS
# faults drawn from SEED (default: the time; printed either way), with the
# full cut durations (0.1-30 s). `make test` runs a quick one (20 faults,
# short cuts) as part of the e2e tier. A fault takes about 4 s with the full
# durations: FAULTS=1000 runs about an hour.
FAULTS ?= 20
SEED   ?=
soak: deps ## Fault-injection soak in the namespace lab (root; FAULTS=20, SEED=, FAULTS=1000 for the full run)
	FERRY_SOAK_FAULTS=$(FAULTS) FERRY_SOAK_SEED=$(SEED) FERRY_SOAK_LONG=1 FERRY_REQUIRE_LAB=1 \
		$(GO) test -count=1 -timeout 4h -run '^TestSoak$$' -v ./examples/soak/

# The benchmark of issue 6 (bench/, docs/benchmarks.md): `make bench` runs the
# default profile (16 hypervisors, 500 switches, 10,000 ports; bounded to 15
# minutes on 2 cores, then about 1.5 minutes of step 6, the probe cost),
# `make bench SMALL=1` the small one (under 2 minutes, plus half a minute).
# BENCH_FLAGS passes more flags to ferrybench, e.g. BENCH_FLAGS=-cpuprofile.
BENCH_PROFILE = $(if $(SMALL),small,default)
# OVN side by side when installed (bench-deps installs it as root);
# expanded when the recipe runs, after bench-deps.
BENCH_SYSTEMS ?= $(if $(shell command -v ovn-northd 2>/dev/null),ferry$(comma)ovn,ferry)
comma         := ,
BENCH_CMD     = bin/ferrybench -profile $(BENCH_PROFILE) -systems $(BENCH_SYSTEMS) $(BENCH_FLAGS)

bench: deps bench-deps ## Run the benchmark and print its table (SMALL=1: the small profile)
	@$(GO) build -o bin/ferrybench ./bench/cmd/ferrybench
	@echo "$(BENCH_CMD)"
	@FERRY_BENCH_COMMAND="make bench$(if $(SMALL), SMALL=$(SMALL))$(if $(BENCH_FLAGS), BENCH_FLAGS='$(BENCH_FLAGS)')" $(BENCH_CMD)

# Step 6 alone: what ferryd's data-plane probes cost it (issue 13), 16
# hypervisors and 500 switches (SMALL=1: 4 and 50), probes on against
# --probe-interval 0; about 1.5 minutes (SMALL=1: under a minute).
BENCH_PROBES_CMD = bin/ferrybench -profile $(BENCH_PROFILE) -probes-only $(BENCH_FLAGS)

bench-probes: deps ## Measure what data-plane probes cost ferryd (SMALL=1: the small profile)
	@$(GO) build -o bin/ferrybench ./bench/cmd/ferrybench
	@echo "$(BENCH_PROBES_CMD)"
	@FERRY_BENCH_COMMAND="make bench-probes$(if $(SMALL), SMALL=$(SMALL))$(if $(BENCH_FLAGS), BENCH_FLAGS='$(BENCH_FLAGS)')" $(BENCH_PROBES_CMD)

bench-micro: ## Run the Go microbenchmarks (go test -bench)
	@echo "$(GO) test -run '^$$' -bench . -benchmem $(PKGS)"
	@$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-deps: ## Install iperf3 (data-plane step) and OVN (side-by-side comparison) if missing (root)
	@bash bench/ovn_deps.sh || echo "bench-deps: could not install OVN; the benchmark runs ferry alone"
	@if ! command -v iperf3 >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y iperf3 >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y iperf3; } || \
				echo "bench-deps: could not install iperf3; the data-plane step uses its own TCP sender"; \
		else \
			echo "bench-deps: iperf3 missing (not root: not installing); the data-plane step needs root anyway"; \
		fi; \
	fi

deps: ## Install OVS and the lab tools if missing, download Go modules
	bash .ci/install-deps
