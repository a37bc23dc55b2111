# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
SERVICES := deploy/local/services.sh
WITH_ENV := eval "$$($(SERVICES) env)" &&
GO ?= go

.PHONY: all build web test services services-down demo bench bench-console screenshots fuzz lint edge-release clean check-bare-debian

all: build

build: web
	$(GO) build ./...
	$(GO) build -o bin/ ./cmd/...

## web: the console, engineers' app and public pages (web/ → web/dist/ui, embedded in pdm).
web:
	scripts/web.sh build

services:
	$(SERVICES) up

services-down:
	$(SERVICES) down

## test: the whole suite with the race detector, against real PostgreSQL, Mosquitto and InfluxDB.
test: services web
	scripts/web.sh deps-browser
	scripts/web.sh test
	$(WITH_ENV) $(GO) vet ./...
	$(WITH_ENV) $(GO) test -race -count=1 -timeout 14m ./...
	$(GO) test -count=1 -run '^TestMillionBogusAssetsMemoryFlat$$' ./ingest

## demo: services up, migrate, seed a demo site, serve and run a simulated fleet.
demo: services web
	$(GO) build -o bin/ ./cmd/...
	$(WITH_ENV) ./bin/pdm demo

## bench: benchmarks; writes a markdown results table to bench/results.md.
bench: services
	$(WITH_ENV) ./scripts/bench.sh

## bench-console: the console's budgets into bench/console.md: initial JS gzipped; in Chromium against pdm serve on a
## copy of the 1,000,000-order database (PDM_BENCH_DB, default api_bench1m), first useful screen, scrolling 10,000 rows, a 100,000-point chart.
bench-console: services
	$(WITH_ENV) ./scripts/bench-console.sh

## screenshots: every console screen, photographed in Chromium against a demo-seeded pdm, into docs/screenshots/.
screenshots: services web
	scripts/web.sh deps-browser
	$(WITH_ENV) $(GO) test -tags screenshots -count=1 -timeout 10m -run '^TestConsoleScreenshots$$' ./cmd/pdm -screenshots $(CURDIR)/docs/screenshots

## fuzz: open-ended fuzzing of the decoders and of the whole API (FUZZTIME per target, default 1m).
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./ingest -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz '^FuzzDecodeLineProtocol$$' -fuzztime $(FUZZTIME)
	$(WITH_ENV) $(GO) test ./workorders/httpapi -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZTIME)

## edge-release: static pdm-edge binaries (CGO off) for linux amd64, arm64 and armv7 in bin/release.
edge-release:
	@mkdir -p bin/release
	@set -e; version=$$(git describe --tags --always --dirty 2>/dev/null || echo dev); \
	for target in amd64: arm64: arm:7; do \
		arch=$${target%%:*}; arm=$${target#*:}; name=pdm-edge-linux-$$arch$${arm:+v$$arm}; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath \
			-ldflags "-s -w -X main.version=$$version" -o bin/release/$$name ./cmd/pdm-edge; \
		printf '%-26s %9d bytes\n' $$name $$(stat -c %s bin/release/$$name); \
	done

## check-bare-debian: `make demo` and `make test` from nothing in a debootstrap'ed Debian 12
## (as root; slow: downloads ~500 MB the first time). Not part of `make test`.
check-bare-debian:
	deploy/local/bare-debian-check.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

clean:
	rm -rf bin
