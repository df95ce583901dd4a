// Package kafkacheck proves that newsflow's Kafka client, github.com/segmentio/kafka-go, works
// against the Apache Kafka broker that scripts/testenv.sh starts: it creates a topic, produces,
// and consumes in a consumer group with committed offsets, and checks that an independent client
// (kcat, librdkafka) reads the same records.
//
// The test needs the running test environment (make test starts it). Without
// NEWSFLOW_TEST_KAFKA it skips and says so; with NEWSFLOW_TEST_REQUIRE_SERVICES=1 it fails:
//
//	eval "$(scripts/testenv.sh up)"
//	go test -count=1 ./scripts/kafkacheck
package kafkacheck
