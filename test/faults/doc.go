// Package faults is newsflow's fault-injection suite: it runs the pipeline's
// stages as processes against a local feed farm that publishes at least
// 10,000 articles, injects crashes (SIGKILL), Kafka broker restarts,
// PostgreSQL outages and poison messages, and then proves that every article
// the farm served is stored exactly once and every poison message is in the
// dead-letter topic with its reason.
//
// The destructive tests restart the broker and stop the database, so they run
// only with NEWSFLOW_FAULTS=1, which `make test-faults` (scripts/test-faults.sh)
// sets after bringing up its own services; plain `go test` skips them. The
// secrets test (no secret reaches a log) runs in plain `go test`.
// docs/reliability.md describes the tests and their latest results.
package faults
