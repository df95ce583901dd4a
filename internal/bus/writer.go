package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/events"
)

// Writer writes to one topic synchronously: Write returns nil only when every
// message was acknowledged by all in-sync replicas (RequireAll). Messages are
// partitioned by a hash of their key, so one article always lands in one
// partition and its versions stay in order.
type Writer struct {
	w       *kafka.Writer
	metrics *Metrics
}

// NewWriter returns a Writer for topic. metrics may be nil.
func (c Config) NewWriter(topic string, metrics *Metrics) (*Writer, error) {
	t, err := c.transport()
	if err != nil {
		return nil, err
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(c.Brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  3,
		BatchSize:    1000,
		BatchBytes:   int64(c.MaxMessageBytes) * 4,
		BatchTimeout: 5 * time.Millisecond,
		WriteTimeout: 15 * time.Second,
		ReadTimeout:  15 * time.Second,
		Transport:    t,
	}
	if metrics != nil {
		metrics.addWriter(w, topic)
	}
	return &Writer{w: w, metrics: metrics}, nil
}

// Topic returns the topic written to.
func (w *Writer) Topic() string { return w.w.Topic }

// Write writes msgs and waits for the acknowledgement of all of them. On
// error, any subset may have been written (the caller retries the whole set:
// consumers downstream are idempotent by key).
func (w *Writer) Write(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	start := time.Now()
	err := w.w.WriteMessages(ctx, msgs...)
	if w.metrics != nil && err == nil {
		w.metrics.writeDur.WithLabelValues(w.w.Topic).Observe(time.Since(start).Seconds())
	}
	if err == nil {
		return nil
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		failed := 0
		var first error
		for _, e := range werrs {
			if e != nil {
				failed++
				if first == nil {
					first = e
				}
			}
		}
		return fmt.Errorf("write %s: %d of %d messages failed: %w", w.w.Topic, failed, len(msgs), first)
	}
	return fmt.Errorf("write %s: %w", w.w.Topic, err)
}

// WriteRetry writes msgs, retrying with backoff until they are acknowledged
// or ctx is done. onRetry, if not nil, is called with each failure.
func (w *Writer) WriteRetry(ctx context.Context, onRetry func(error), msgs ...kafka.Message) error {
	for attempt := 0; ; attempt++ {
		err := w.Write(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if w.metrics != nil {
			w.metrics.retries.WithLabelValues(w.w.Topic).Inc()
		}
		if onRetry != nil {
			onRetry(err)
		}
		if !Sleep(ctx, Backoff(attempt, 10*time.Second)) {
			return err
		}
	}
}

// Close flushes and closes the writer.
func (w *Writer) Close() error { return w.w.Close() }

// Headers converts event headers to kafka-go headers.
func Headers(hs []events.Header) []kafka.Header {
	out := make([]kafka.Header, len(hs))
	for i, h := range hs {
		out[i] = kafka.Header(h)
	}
	return out
}
