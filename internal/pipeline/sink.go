package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/pkg/events"
)

// ArticleWriter is the part of store.Store the sink needs.
type ArticleWriter interface {
	Write(ctx context.Context, batch []events.EnrichedArticle) (store.WriteResult, error)
}

// SinkConfig configures the sink stage.
type SinkConfig struct {
	Bus     bus.Config
	GroupID string
	// Consumers is how many members of the consumer group this sink runs,
	// each consuming its own partitions and writing its own batches (1 when
	// zero).
	Consumers int
	BatchSize int           // at most this many events per transaction
	BatchWait time.Duration // at most this long filling a batch
	// RetryMax caps the backoff between attempts while the database fails.
	RetryMax time.Duration
}

// Sink is the sink stage: it consumes enriched articles and stores them in
// batches, one transaction per batch.
//
// Contract per batch: every valid article is stored (inserted, updated, or
// skipped as an older or equal version) in one committed transaction before
// the batch's offsets are committed. A message that cannot be decoded, or that
// the store rejects for good, goes to the dead-letter topic with the reason
// and the rest of the batch is still stored. While the database is down or
// refuses the batch for a transient reason, the sink retries the same batch
// with backoff, fetches nothing more (back-pressure: at most two batches are
// held in memory, the one being stored and the next one, decoded while the
// first is written), reports not-ready, and resumes by itself.
type Sink struct {
	cfg       SinkConfig
	articles  ArticleWriter
	logger    *slog.Logger
	consumers []*bus.Consumer
	dlq       *bus.DeadLetters
	m         *sinkMetrics
	failing   failure
}

type sinkMetrics struct {
	received      prometheus.Counter
	deadLettered  *prometheus.CounterVec
	retries       prometheus.Counter
	lastProcessed prometheus.Gauge
	up            prometheus.Gauge
}

func newSinkMetrics(reg prometheus.Registerer) (*sinkMetrics, error) {
	m := &sinkMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_sink_messages_received_total", Help: "Enriched-article messages consumed.",
		}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_sink_dead_lettered_total", Help: "Messages sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_sink_write_retries_total", Help: "Batch writes retried after a transient database failure.",
		}),
		lastProcessed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_sink_last_processed_timestamp_seconds", Help: "When the sink last committed a batch (Unix time).",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_sink_database_up", Help: "1 when the last write reached the database, 0 while writes fail.",
		}),
	}
	for _, c := range []prometheus.Collector{m.received, m.deadLettered, m.retries, m.lastProcessed, m.up} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register sink metrics: %w", err)
		}
	}
	for _, r := range bus.Reasons {
		m.deadLettered.WithLabelValues(r)
	}
	m.up.Set(1)
	return m, nil
}

// NewSink wires the sink stage. Topics must exist (bus.EnsureTopics).
func NewSink(cfg SinkConfig, st ArticleWriter, logger *slog.Logger, reg prometheus.Registerer) (*Sink, error) {
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	m, err := newSinkMetrics(reg)
	if err != nil {
		return nil, err
	}
	km, err := bus.NewMetrics("sink", reg)
	if err != nil {
		return nil, fmt.Errorf("register kafka metrics: %w", err)
	}
	var consumers []*bus.Consumer
	for range max(cfg.Consumers, 1) {
		cons, err := cfg.Bus.NewConsumer(bus.ConsumerConfig{
			GroupID: cfg.GroupID, Topic: cfg.Bus.Topics.Enriched, ClientID: "newsflow-sink",
			BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait,
		}, logger, km)
		if err != nil {
			return nil, err
		}
		consumers = append(consumers, cons)
	}
	dlq, err := cfg.Bus.NewDeadLetters("sink", km, m.deadLettered)
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, articles: st, logger: logger, consumers: consumers, dlq: dlq, m: m}
	return s, nil
}

// Run consumes until ctx is done; see Sink for the contract.
func (s *Sink) Run(ctx context.Context) error {
	// The consumers stop together: when one fails the others finish their
	// batches and leave the group.
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range s.consumers {
		g.Go(func() error {
			return bus.RunStages(gctx, c, bus.Stages[decoded]{Prepare: s.decode, Handle: s.store})
		})
	}
	err := g.Wait()
	if cerr := s.dlq.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close dead-letter writer: %w", cerr)
	}
	return err
}

// Ready reports an error while writes to the database fail.
func (s *Sink) Ready() error {
	return s.failing.err("database writes fail")
}

// decoded is a batch of messages decoded: the articles, the message each came
// from, and the messages that go to the dead-letter topic.
type decoded struct {
	batch   []events.EnrichedArticle
	from    []kafka.Message
	letters []bus.Letter
}

// decode decodes a batch; it runs on the next batch while store runs.
func (s *Sink) decode(msgs []kafka.Message) decoded {
	d := decoded{batch: make([]events.EnrichedArticle, 0, len(msgs)), from: make([]kafka.Message, 0, len(msgs))}
	max := s.cfg.Bus.MaxMessageBytes
	for _, msg := range msgs {
		s.m.received.Inc()
		a, letter := decodeMessage(msg, max, events.DecodeEnriched)
		if letter != nil {
			d.letters = append(d.letters, *letter)
			continue
		}
		d.batch = append(d.batch, a)
		d.from = append(d.from, msg)
	}
	return d
}

// store writes a decoded batch and dead-letters what cannot be stored; see
// Sink for the contract.
func (s *Sink) store(ctx context.Context, _ []kafka.Message, d decoded) error {
	batch, from, letters := d.batch, d.from, d.letters
	for attempt := 0; len(batch) > 0; attempt++ {
		_, err := s.articles.Write(ctx, batch)
		if err == nil {
			break
		}
		var rej *store.RejectedError
		if errors.As(err, &rej) {
			drop := map[int]string{}
			for _, r := range rej.Rejected {
				drop[r.Index] = r.Reason
			}
			keep, keepFrom := batch[:0:0], from[:0:0]
			for i := range batch {
				if why, ok := drop[i]; ok {
					letters = append(letters, bus.Letter{Msg: from[i], Reason: bus.ReasonRejected, Err: errors.New(why)})
					continue
				}
				keep, keepFrom = append(keep, batch[i]), append(keepFrom, from[i])
			}
			if len(keep) == len(batch) {
				return fmt.Errorf("store rejected the batch without naming an article: %w", err)
			}
			batch, from = keep, keepFrom
			attempt = -1
			continue
		}
		class := "other"
		if errors.Is(err, store.ErrUnavailable) {
			class = "unavailable"
		}
		s.m.retries.Inc()
		s.m.up.Set(0)
		s.failing.set(err)
		s.logger.Warn("storing batch failed, retrying", slog.Int("articles", len(batch)), slog.String("class", class),
			slog.Int("attempt", attempt+1), slog.Any("error", err))
		if !bus.Sleep(ctx, bus.Backoff(attempt, s.cfg.RetryMax)) {
			return fmt.Errorf("store batch: %w", err)
		}
	}
	if s.failing.clear() {
		s.logger.Info("database writes recovered")
	}
	s.m.up.Set(1)
	if err := deadLetter(ctx, s.dlq, s.logger, letters); err != nil {
		return err
	}
	s.m.lastProcessed.SetToCurrentTime()
	return nil
}
