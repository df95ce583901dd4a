// Package pipeline wires newsflow's stages to Kafka: the fetcher's
// publisher, the enricher stage (raw → enriched) and the sink stage
// (enriched → storage). Each stage's doc comment states its delivery
// contract; internal/bus states the consumer's.
package pipeline
