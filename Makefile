# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
SERVICES := deploy/local/services.sh
WITH_ENV := eval "$$($(SERVICES) env)" &&
GO ?= go

.PHONY: all build test services services-down demo bench fuzz lint edge-release clean

all: build

build:
	$(GO) build ./...
	$(GO) build -o bin/ ./cmd/...

services:
	$(SERVICES) up

services-down:
	$(SERVICES) down

## test: the whole suite with the race detector, against real PostgreSQL, Mosquitto and InfluxDB.
test: services
	$(WITH_ENV) $(GO) vet ./...
	$(WITH_ENV) $(GO) test -race -count=1 -timeout 14m ./...

## demo: services up, migrate, seed a demo site, serve and run a simulated fleet.
demo: services
	$(GO) build -o bin/ ./cmd/...
	$(WITH_ENV) ./bin/pdm demo

## bench: benchmarks; writes a markdown results table to bench/results.md.
bench: services
	$(WITH_ENV) ./scripts/bench.sh

## fuzz: open-ended fuzzing of the decoders (FUZZTIME per target, default 1m).
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./ingest -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz '^FuzzDecodeLineProtocol$$' -fuzztime $(FUZZTIME)

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

clean:
	rm -rf bin
