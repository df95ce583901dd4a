package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/pkg/events"
)

// Publisher publishes raw articles to the raw topic for the fetcher.
// Publish returns nil only when every article was acknowledged by all
// in-sync replicas; it retries transient broker errors for up to a minute
// and then returns the error, and the fetcher does not mark the items seen.
type Publisher struct {
	w      *bus.Writer
	logger *slog.Logger
	max    int
}

// NewPublisher returns a Publisher writing to c.Topics.Raw. metrics may be nil.
func NewPublisher(c bus.Config, metrics *bus.Metrics, logger *slog.Logger) (*Publisher, error) {
	w, err := c.NewWriter(c.Topics.Raw, metrics)
	if err != nil {
		return nil, err
	}
	return &Publisher{w: w, logger: logger, max: c.MaxMessageBytes}, nil
}

// Publish encodes and writes the articles; see Publisher.
func (p *Publisher) Publish(ctx context.Context, articles []events.RawArticle) error {
	if len(articles) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(articles))
	for _, a := range articles {
		a.SchemaVersion = events.SchemaVersion
		if err := a.Validate(); err != nil {
			return fmt.Errorf("publish article %s: %w", a.ID, err)
		}
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode article %s: %w", a.ID, err)
		}
		if len(b) > p.max {
			// Keep the article: drop the body parts until it fits.
			b, err = shrink(a, p.max)
			if err != nil {
				return err
			}
		}
		msgs = append(msgs, kafka.Message{Key: []byte(a.ID), Value: b, Headers: bus.Headers(events.RawHeaders(a))})
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return p.w.WriteRetry(rctx, func(err error) {
		p.logger.Warn("publish raw articles failed, retrying", slog.Int("articles", len(msgs)), slog.Any("error", err))
	}, msgs...)
}

// shrink cuts content, then summary, so that the encoded article fits max
// bytes, keeping valid UTF-8.
func shrink(a events.RawArticle, max int) ([]byte, error) {
	for range 8 {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		over := len(b) - max
		if over <= 0 {
			return b, nil
		}
		switch {
		case len(a.Content) > 0:
			a.Content = cutUTF8(a.Content, len(a.Content)-over-1024)
		case len(a.Summary) > 0:
			a.Summary = cutUTF8(a.Summary, len(a.Summary)-over-1024)
		default:
			return nil, fmt.Errorf("article %s: %d bytes over the %d-byte limit without any body", a.ID, over, max)
		}
	}
	return nil, fmt.Errorf("article %s does not fit %d bytes", a.ID, max)
}

func cutUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if n >= len(s) {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error { return p.w.Close() }
