package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupLag returns how many messages of topic the consumer group has not
// committed yet, summed over partitions (high-water mark minus committed
// offset; a partition without a commit counts from its first offset).
func GroupLag(ctx context.Context, cl *kafka.Client, group, topic string) (int64, error) {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata %s: %w", topic, err)
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name == topic {
			for _, p := range t.Partitions {
				parts = append(parts, p.ID)
			}
		}
	}
	if len(parts) == 0 {
		return 0, fmt.Errorf("topic %s has no partitions", topic)
	}
	reqs := make([]kafka.OffsetRequest, 0, 2*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.LastOffsetOf(p), kafka.FirstOffsetOf(p))
	}
	lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, fmt.Errorf("list offsets %s: %w", topic, err)
	}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return 0, fmt.Errorf("offset fetch %s/%s: %w", group, topic, err)
	}
	committed := map[int]int64{}
	for _, p := range of.Topics[topic] {
		if p.Error == nil {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	var lag int64
	for _, p := range lo.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("list offsets %s/%d: %w", topic, p.Partition, p.Error)
		}
		c, ok := committed[p.Partition]
		if !ok || c < 0 {
			c = p.FirstOffset
		}
		if d := p.LastOffset - c; d > 0 {
			lag += d
		}
	}
	return lag, nil
}

// RunLagMonitor sets newsflow_kafka_consumer_lag{group,topic} every interval
// until ctx is done. Failures are logged at debug level and retried.
func (c Config) RunLagMonitor(ctx context.Context, group, topic string, m *Metrics, interval time.Duration, logger *slog.Logger) {
	cl, err := c.Client()
	if err != nil {
		logger.Warn("lag monitor disabled", slog.Any("error", err))
		<-ctx.Done()
		return
	}
	g := m.lag.WithLabelValues(group, topic)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, interval)
		lag, err := GroupLag(qctx, cl, group, topic)
		cancel()
		if err == nil {
			g.Set(float64(lag))
		} else if ctx.Err() == nil {
			logger.Debug("consumer lag unavailable", slog.String("topic", topic), slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
