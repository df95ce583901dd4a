package kafkacheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

const partitions = 3

// env returns the test environment variable name. When it is unset the test
// skips, naming the command that runs it; under
// NEWSFLOW_TEST_REQUIRE_SERVICES=1 (make test) it fails instead, because
// there a missing service is an error, never a silent skip.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("NEWSFLOW_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not set but NEWSFLOW_TEST_REQUIRE_SERVICES=1: the real services did not start (see scripts/testenv.sh up)", name)
	}
	t.Skipf(`%s is not set: integration test, run "make test", or eval "$(scripts/testenv.sh up)" then go test -count=1 ./scripts/kafkacheck`, name)
	return ""
}

// TestKafkaGoAgainstApacheKafka creates a topic, produces keyed records, consumes them in a
// consumer group committing offsets, checks that a second member of the group resumes after
// the committed offsets, and that kcat reads every record kafka-go wrote.
func TestKafkaGoAgainstApacheKafka(t *testing.T) {
	broker := env(t, "NEWSFLOW_TEST_KAFKA")
	kcat := env(t, "NEWSFLOW_TEST_KCAT")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "kafkacheck." + suffix
	group := "kafkacheck-" + suffix
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 15 * time.Second}

	createTopic(ctx, t, client, topic)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})

	w := &kafka.Writer{
		Addr:         kafka.TCP(broker),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
	}
	defer w.Close()

	first := records(0, 30)
	if err := w.WriteMessages(ctx, first...); err != nil {
		t.Fatalf("produce %d records to %s: %v", len(first), topic, err)
	}
	start := time.Now()
	got := consume(ctx, t, broker, topic, group, len(first))
	t.Logf("first group member read %d records in %v", len(got), time.Since(start).Round(time.Millisecond))
	assertSameRecords(t, "first group member", got, first)

	// The group's offsets are committed: a new member of the same group must see only new records.
	second := records(len(first), 5)
	if err := w.WriteMessages(ctx, second...); err != nil {
		t.Fatalf("produce %d more records to %s: %v", len(second), topic, err)
	}
	start = time.Now()
	got = consume(ctx, t, broker, topic, group, len(second))
	t.Logf("second group member read %d records in %v", len(got), time.Since(start).Round(time.Millisecond))
	assertSameRecords(t, "second group member (after committed offsets)", got, second)

	// An independent client (librdkafka) reads what kafka-go wrote.
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", topic,
		"-o", "beginning", "-e", "-q", "-f", "%k=%s\n").Output()
	if err != nil {
		t.Fatalf("kcat -C %s: %v", topic, err)
	}
	var fromKcat []kafka.Message
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte("="))
		if !ok {
			t.Fatalf("kcat printed %q, want key=value", sc.Text())
		}
		fromKcat = append(fromKcat, kafka.Message{Key: bytes.Clone(k), Value: bytes.Clone(v)})
	}
	assertSameRecords(t, "kcat", fromKcat, append(first, second...))
}

func createTopic(ctx context.Context, t *testing.T, client *kafka.Client, topic string) {
	t.Helper()
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}},
	})
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("metadata for %s: %v", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != partitions {
		t.Fatalf("metadata for %s: got %+v, want one topic with %d partitions", topic, md.Topics, partitions)
	}
}

// records returns n keyed records numbered from first.
func records(first, n int) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		id := first + i
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%03d", id), Value: fmt.Appendf(nil, "article %d", id)}
	}
	return msgs
}

// consume joins group, reads exactly n records (committing each), and closes the reader.
func consume(ctx context.Context, t *testing.T, broker, topic, group string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     []string{broker},
		GroupID:     group,
		Topic:       topic,
		StartOffset: kafka.FirstOffset,
		MaxWait:     100 * time.Millisecond,
	})
	defer func() {
		if err := r.Close(); err != nil {
			t.Errorf("close reader of group %s: %v", group, err)
		}
	}()
	var got []kafka.Message
	lastOffset := map[int]int64{}
	for len(got) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("group %s fetched %d of %d records from %s: %v", group, len(got), n, topic, err)
		}
		if prev, ok := lastOffset[m.Partition]; ok && m.Offset <= prev {
			t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, prev)
		}
		lastOffset[m.Partition] = m.Offset
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("group %s commit offset %d of partition %d: %v", group, m.Offset, m.Partition, err)
		}
		got = append(got, m)
	}
	// Nothing beyond the n records: a short wait must end in a deadline, not a record.
	extraCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if m, err := r.FetchMessage(extraCtx); err == nil {
		t.Fatalf("group %s got an unexpected record %q at partition %d offset %d", group, m.Key, m.Partition, m.Offset)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("group %s waiting for no more records: %v", group, err)
	}
	return got
}

// assertSameRecords compares key=value pairs regardless of order across partitions.
func assertSameRecords(t *testing.T, who string, got, want []kafka.Message) {
	t.Helper()
	pairs := func(msgs []kafka.Message) []string {
		s := make([]string, len(msgs))
		for i, m := range msgs {
			s[i] = string(m.Key) + "=" + string(m.Value)
		}
		slices.Sort(s)
		return s
	}
	if g, w := pairs(got), pairs(want); !slices.Equal(g, w) {
		t.Fatalf("%s read %d records %v, want %d records %v", who, len(g), g, len(w), w)
	}
}
