# loginrisk — the two commands a newcomer needs are `make demo` and `make test`.
GO        ?= go
BIN       := bin/loginrisk
FUZZTIME  ?= 30s

.PHONY: demo test test-unit build check rules-check fuzz bench bench-go bench-http services-up services-down geoip catalogue clean

build:
	$(GO) build -o $(BIN) ./cmd/loginrisk

## demo: the engine on embedded defaults: in-process broker, traffic, engine, HTTP API.
demo: build
	./$(BIN) demo --duration $${DURATION:-30s} $${DEMO_FLAGS:-}

## test: every test against a real Apache Kafka broker and a real ClickHouse,
## both installed and started by scripts/services.sh (skipped services fail).
test:
	@scripts/test.sh

## test-unit: the tests on a laptop without services (Kafka tests use the in-process broker).
test-unit:
	$(GO) test -race ./...

## check: formatting, vet and the shipped rules.
check: build
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	./$(BIN) rules check rules/default
	./$(BIN) rules test rules/default

## fuzz: run each fuzz target for FUZZTIME.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## bench: the throughput harness (see docs/performance.md).
bench: build
	./$(BIN) bench $${BENCH_FLAGS:-}

## bench-http: the HTTP API at RATE requests/s (10000) against a bare net/http floor, with the
## server's CPU per request split (loginrisk bench --only http; docs/performance.md, "HTTP API").
bench-http: build
	./$(BIN) bench --only http --users 20000 --http-rate $${RATE:-10000} --http-duration $${DURATION:-5s}

## bench-go: the Go benchmarks of every hot-path stage.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./schemas ./features/... ./rules ./engine

services-up:
	@scripts/services.sh up

services-down:
	@scripts/services.sh down

## catalogue: regenerate docs/features.md from the struct tags of schemas.Features.
catalogue:
	$(GO) run ./schemas/cataloguegen > docs/features.md

## geoip: regenerate the test GeoIP databases from testdata/geoip/networks.yaml.
geoip:
	$(GO) run ./features/mmdbgen

clean:
	rm -rf bin
