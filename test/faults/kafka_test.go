package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/pkg/events"
)

// headerPoison marks the suite's poison messages; the dead-letter topic keeps
// the original headers, so it identifies each dead letter.
const headerPoison = "newsflow_faults_poison"

// poison is one poison message and the reason the stages must give for it.
type poison struct {
	ID     string
	Topic  string
	Value  []byte
	Reason string
}

// poisonRound returns one message of each kind for the raw and the enriched
// topic: invalid JSON, an unsupported schema_version, and a message larger
// than the services' --max-message-bytes (maxBytes) but below the broker's
// limit.
func poisonRound(round int, topics bus.Topics, maxBytes int) []poison {
	huge, _ := json.Marshal(map[string]any{"schema_version": events.SchemaVersion, "id": "oversized", "pad": strings.Repeat("x", maxBytes+16<<10)})
	wrong, _ := json.Marshal(map[string]any{"schema_version": 999, "id": "0123456789abcdef0123456789abcdef", "title": "from the future"})
	var out []poison
	for _, topic := range []string{topics.Raw, topics.Enriched} {
		for _, k := range []struct {
			kind, reason string
			value        []byte
		}{
			{"malformed", bus.ReasonMalformed, []byte(`{"schema_version": 1, "id": "broken`)},
			{"schema", bus.ReasonSchemaVersion, wrong},
			{"oversized", bus.ReasonTooLarge, huge},
		} {
			out = append(out, poison{ID: fmt.Sprintf("round%d/%s/%s", round, topic, k.kind), Topic: topic, Value: k.value, Reason: k.reason})
		}
	}
	return out
}

// sendPoison produces the messages, acknowledged by all in-sync replicas,
// retrying while the broker is unavailable until ctx ends.
func sendPoison(ctx context.Context, brokers []string, ps []poison) error {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), RequiredAcks: kafka.RequireAll, BatchBytes: 4 << 20, WriteTimeout: 10 * time.Second}
	defer w.Close()
	msgs := make([]kafka.Message, len(ps))
	for i, p := range ps {
		msgs[i] = kafka.Message{Topic: p.Topic, Key: []byte(p.ID), Value: p.Value, Headers: []kafka.Header{{Key: headerPoison, Value: []byte(p.ID)}}}
	}
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("send poison messages: %w", err)
		case <-time.After(time.Second):
		}
	}
}

// lastOffsets returns each partition's high-water mark of topic.
func lastOffsets(ctx context.Context, c *kafka.Client, topic string, partitions int) (map[int]int64, error) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// groupLag returns how many messages of topic group has not committed yet.
func groupLag(ctx context.Context, c *kafka.Client, group, topic string, partitions int) (int64, error) {
	last, err := lastOffsets(ctx, c, topic, partitions)
	if err != nil {
		return 0, err
	}
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		return 0, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	if resp.Error != nil {
		return 0, fmt.Errorf("fetch offsets of group %s: %w", group, resp.Error)
	}
	var lag int64
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("fetch offsets of group %s on %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		committed := max(p.CommittedOffset, 0)
		lag += last[p.Partition] - committed
	}
	return lag, nil
}

// readTopic reads every message of topic up to its current high-water marks.
func readTopic(ctx context.Context, brokers []string, c *kafka.Client, topic string, partitions int) ([]kafka.Message, error) {
	last, err := lastOffsets(ctx, c, topic, partitions)
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for p := range partitions {
		if last[p] == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			r.Close()
			return nil, err
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
			out = append(out, m)
			if m.Offset >= last[p]-1 {
				break
			}
		}
		r.Close()
	}
	return out, nil
}

// header returns the value of the header key of m.
func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
