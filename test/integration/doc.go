// Package integration tests newsflow as it is deployed: the fetcher, enricher
// and sink binaries run as separate processes against real Apache Kafka (and
// the embedded broker of `newsflow broker`), real PostgreSQL and real
// Prometheus, with a local HTTP server serving the feed files in testdata.
// kcat, an independent Kafka client, reads and writes the pipeline's topics.
//
// The services come from scripts/testenv.sh, which exports their addresses:
//
//	make test                                   # starts the services and runs every test
//	eval "$(scripts/testenv.sh up)"             # or: start them once, then
//	go test -count=1 ./test/integration/...     # run these tests against them
//
// Without NEWSFLOW_TEST_KAFKA, NEWSFLOW_TEST_POSTGRES, NEWSFLOW_TEST_PROMETHEUS
// and NEWSFLOW_TEST_KCAT every test skips and names those commands; with
// NEWSFLOW_TEST_REQUIRE_SERVICES=1 (set by make test) a missing variable fails
// the test instead. TestMain builds ./cmd/fetcher, ./cmd/enricher, ./cmd/sink
// and ./cmd/newsflow once, without -race, into a temporary directory.
//
// The test that checks Prometheus runs the stages on the fixed metrics ports
// that deploy/prometheus/prometheus-test.yml scrapes (127.0.0.1:19101, 19102,
// 19103); every other test picks free ports, so only that one needs the
// ports to itself.
package integration
