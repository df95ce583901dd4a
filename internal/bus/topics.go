package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// EnsureTopics creates the pipeline's topics when they are missing (with the
// configured partitions and replication factor) and waits until each has a
// leader for every partition. Existing topics are left as they are.
func EnsureTopics(ctx context.Context, c Config) error {
	return EnsureTopicsLogged(ctx, c, slog.New(slog.DiscardHandler))
}

// ErrAuth is wrapped by errors the brokers give for credentials they refuse:
// retrying cannot help.
var ErrAuth = errors.New("kafka refused the credentials")

// EnsureTopicsLogged is EnsureTopics that logs each failed attempt as a
// warning, and stops at once when the brokers refuse the credentials.
func EnsureTopicsLogged(ctx context.Context, c Config, logger *slog.Logger) error {
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
		if err := c.probeAuth(ctx); err != nil {
			return fmt.Errorf("ensure topics: %w", err)
		}
		logger.Warn("kafka not ready, retrying", slog.Any("brokers", c.Brokers), slog.Int("attempt", attempt+1), slog.Any("error", lastErr))
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

// probeAuth dials the first reachable broker the way readers do, which
// reports a refused SASL login as such (the admin client only reports the
// broker as unavailable). It returns an ErrAuth error, or nil.
func (c Config) probeAuth(ctx context.Context) error {
	if c.SASLMechanism == "" {
		return nil
	}
	d, err := c.dialer("newsflow-probe")
	if err != nil {
		return nil
	}
	for _, b := range c.Brokers {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := d.DialContext(dctx, "tcp", b)
		cancel()
		if err == nil {
			conn.Close()
			return nil
		}
		if isAuthError(err) {
			return fmt.Errorf("%w (user %q, mechanism %s): %w", ErrAuth, c.SASLUsername, c.SASLMechanism, err)
		}
	}
	return nil
}

func isAuthError(err error) bool {
	return errors.Is(err, kafka.SASLAuthenticationFailed) || errors.Is(err, kafka.UnsupportedSASLMechanism) ||
		errors.Is(err, kafka.IllegalSASLState)
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
