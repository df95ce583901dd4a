package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/telemetry"
	"github.com/newsflow/newsflow/pkg/events"
)

// A sink with two consumers runs two members of its group in one process:
// Kafka splits the partitions between them, and every article is stored once.
func TestSinkConsumersShareTheTopic(t *testing.T) {
	broker, admin := os.Getenv("NEWSFLOW_TEST_KAFKA"), os.Getenv("NEWSFLOW_TEST_POSTGRES")
	if broker == "" || admin == "" {
		if os.Getenv("NEWSFLOW_TEST_REQUIRE_SERVICES") != "" {
			t.Fatal("NEWSFLOW_TEST_KAFKA and NEWSFLOW_TEST_POSTGRES are required")
		}
		t.Skip("needs Apache Kafka and PostgreSQL (NEWSFLOW_TEST_KAFKA, NEWSFLOW_TEST_POSTGRES); `make test` starts them")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bc := bus.DefaultConfig()
	bc.Brokers = []string{broker}
	bc.Partitions = 4
	suffix := fmt.Sprintf(".consumers%d.%d", os.Getpid(), time.Now().UnixNano())
	bc.Topics.Raw += suffix
	bc.Topics.Enriched += suffix
	bc.Topics.DeadLetter += suffix
	if err := bus.EnsureTopics(ctx, bc); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	arts := benchEnrichedArticles(n, 300, 11)
	msgs := make([]kafka.Message, n)
	for i := range arts {
		v, err := json.Marshal(arts[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(arts[i].ID), Value: v, Headers: bus.Headers(events.EnrichedHeaders(arts[i]))}
	}
	w, err := bc.NewWriter(bc.Topics.Enriched, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each article twice: redelivery must not make a second row. Record
	// batches stay under the broker's 1 MB.
	for _, all := range [][]kafka.Message{msgs, msgs} {
		for lo := 0; lo < len(all); lo += 200 {
			if err := w.Write(ctx, all[lo:min(lo+200, len(all))]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	storeURL := freshSchema(t, admin)
	st, err := pipeline.StoreFlags{URL: storeURL}.Open(ctx, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc := pipeline.DefaultSinkConfig()
	sc.Bus = bc
	sc.GroupID += suffix
	sc.Consumers = 2
	sc.BatchSize = 100 // several batches per member
	sink, err := pipeline.NewSink(sc, st, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sink.Run(rctx) }()

	client, err := bc.Client()
	if err != nil {
		t.Fatal(err)
	}
	members := 0
	for ctx.Err() == nil && (telemetry.Sum(reg, "newsflow_sink_messages_received_total") < 2*n || members < 2) {
		if res, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{sc.GroupID}}); err == nil && len(res.Groups) == 1 {
			members = max(members, len(res.Groups[0].Members))
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("sink: %v", err)
	}
	if members != 2 {
		t.Errorf("the group had %d members at most, want 2", members)
	}
	if got := telemetry.Sum(reg, "newsflow_sink_messages_received_total"); got != 2*n {
		t.Errorf("received %v messages, want %d", got, 2*n)
	}
	var rows int
	if err := queryOn(t, storeURL, "SELECT count(*) FROM articles").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("%d rows in articles, want %d (every article once)", rows, n)
	}
}
