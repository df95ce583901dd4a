package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// EnsureTopics creates the pipeline's topics when they are missing (with the
// configured partitions and replication factor) and waits until each has a
// leader for every partition. Existing topics are left as they are.
func EnsureTopics(ctx context.Context, c Config) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	names := []string{c.Topics.Raw, c.Topics.Enriched, c.Topics.DeadLetter}
	req := &kafka.CreateTopicsRequest{}
	for _, n := range names {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             n,
			NumPartitions:     c.Partitions,
			ReplicationFactor: c.ReplicationFactor,
		})
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		lastErr = createTopics(ctx, cl, req)
		if lastErr == nil {
			lastErr = waitLeaders(ctx, cl, names)
		}
		if lastErr == nil {
			return nil
		}
		if attempt >= 30 {
			return fmt.Errorf("ensure topics: %w", lastErr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensure topics: %w (last error: %v)", ctx.Err(), lastErr)
		case <-time.After(backoff(attempt, 200*time.Millisecond, 5*time.Second)):
		}
	}
}

func createTopics(ctx context.Context, cl *kafka.Client, req *kafka.CreateTopicsRequest) error {
	res, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for topic, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", topic, terr)
		}
	}
	return nil
}

func waitLeaders(ctx context.Context, cl *kafka.Client, names []string) error {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		if len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s has no partitions yet", t.Name)
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				return fmt.Errorf("topic %s partition %d has no leader yet", t.Name, p.ID)
			}
		}
	}
	return nil
}

// backoff returns the wait before retry attempt (0-based): base doubled per
// attempt up to max, with up to 25% jitter subtracted so that many clients do
// not retry in step.
func backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	j := time.Duration(time.Now().UnixNano() % int64(d/4+1))
	return d - j
}

// Backoff is the retry schedule stages use for transient failures: 200 ms
// doubling to max, with jitter.
func Backoff(attempt int, max time.Duration) time.Duration {
	return backoff(attempt, 200*time.Millisecond, max)
}

// Sleep waits d or until ctx is done, and reports whether the full wait passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
