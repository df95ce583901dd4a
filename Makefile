# newsflow — build and test.
#
#   make test          vet, unit and integration tests against real Apache Kafka,
#                      PostgreSQL and Prometheus (started by scripts/testenv.sh)
#   make build         the four binaries into bin/
#   make demo          the embedded pipeline on the bundled sample feeds

GO        ?= go
BIN       ?= bin
TESTENV   := scripts/testenv.sh
PKGS      := ./...
RACE      ?= -race
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build test vet unit services-up services-down services-env rules-test demo fuzz test-faults clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

# unit: the tests that need no external service (integration tests skip).
unit:
	$(GO) test $(RACE) $(TESTFLAGS) $(PKGS)

services-up:
	$(TESTENV) up

services-down:
	$(TESTENV) down

services-env:
	@$(TESTENV) env

# test: everything, against the real services. A service that cannot start
# fails the run (it is never silently skipped). The services started here are
# stopped at the end.
test: vet
	@trap '$(TESTENV) down >/dev/null 2>&1 || true' EXIT; \
	  services=$$($(TESTENV) up) && eval "$$services" && \
	  NEWSFLOW_TEST_REQUIRE_SERVICES=1 $(GO) test $(RACE) $(TESTFLAGS) $(PKGS) && \
	  NEWSFLOW_TEST_PROMETHEUS_REQUIRE_DATA=1 $(GO) test -count=1 -run TestPromQLOnRealPrometheus ./deploy/deploytest && \
	  $(MAKE) --no-print-directory rules-test && \
	  echo "services: $$NEWSFLOW_TEST_SERVICES"

rules-test:
	promtool test rules deploy/prometheus/rules/*.test.yaml

demo:
	$(GO) run ./cmd/newsflow demo

# fuzz: every fuzz target for FUZZTIME each (CI runs it briefly). Seeds are
# in the tests (f.Add) and in testdata/fuzz where a package keeps some.
FUZZTIME ?= 10s
FUZZ_TARGETS := pkg/events:FuzzDecode pkg/events:FuzzDecodeAgrees internal/feed:FuzzParse internal/enrich:FuzzPlainText \
	internal/enrich:FuzzEnrich internal/enrich:FuzzScanWord internal/enrich/topics:FuzzMatch
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg >/dev/null || \
	    { echo "fuzz $$fn failed: go test -run '^$$' -fuzz '^$$fn\$$' ./$$pkg"; exit 1; }; \
	done; echo "fuzz: all targets passed"

# test-faults: the fault-injection suite (SIGKILLed stages, broker restarts,
# database outages, poison messages; 0 lost, 0 duplicate), on its own services.
test-faults:
	scripts/test-faults.sh

clean:
	rm -rf $(BIN)
	-$(TESTENV) down
