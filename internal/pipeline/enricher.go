package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/enrich"
	"github.com/newsflow/newsflow/pkg/events"
)

// Tagger turns a raw article into an enriched one. It is a pure function of
// its input (internal/enrich implements it).
type Tagger interface {
	Enrich(raw events.RawArticle, now time.Time) events.EnrichedArticle
}

// EnricherConfig configures the enricher stage.
type EnricherConfig struct {
	Bus       bus.Config
	GroupID   string
	BatchSize int
	BatchWait time.Duration
}

// Enricher is the enricher stage: it consumes raw articles, tags them and
// publishes enriched articles, keyed by article id.
//
// Contract per message: a valid raw article yields exactly one enriched
// article on the enriched topic; a message that cannot be decoded, has an
// unsupported schema version, breaks the contract or is larger than the
// maximum message size goes to the dead-letter topic with the reason. Offsets
// are committed only after both writes were acknowledged by all replicas, so
// a crash at any point redelivers the batch (at least once). The next batch
// is tagged while the current one is published: at most two batches are held.
type Enricher struct {
	cfg      EnricherConfig
	tagger   Tagger
	logger   *slog.Logger
	consumer *bus.Consumer
	out      *bus.Writer
	dlq      *bus.DeadLetters
	m        *enricherMetrics
	failing  failure
}

type enricherMetrics struct {
	received      prometheus.Counter
	enriched      prometheus.Counter
	deadLettered  *prometheus.CounterVec
	duration      prometheus.Histogram
	lastProcessed prometheus.Gauge
	tags          *prometheus.CounterVec
	topicTags     *prometheus.CounterVec
	countryTags   *prometheus.CounterVec
	topicCountry  *prometheus.CounterVec
	eventAge      prometheus.Histogram
}

// TopicLister is implemented by taggers that know their taxonomy, so that the
// per-topic counters start at zero for every topic.
type TopicLister interface {
	TopicIDs() []string
}

func newEnricherMetrics(reg prometheus.Registerer, topics []string) (*enricherMetrics, error) {
	m := &enricherMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_enricher_messages_received_total", Help: "Raw-article messages consumed.",
		}),
		enriched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_enricher_articles_enriched_total", Help: "Articles tagged and published to the enriched topic.",
		}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_enricher_dead_lettered_total", Help: "Messages sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "newsflow_enricher_enrich_duration_seconds", Help: "Time to clean and tag one article.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
		lastProcessed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_enricher_last_processed_timestamp_seconds", Help: "When the enricher last committed a batch (Unix time).",
		}),
		tags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_enricher_tags_total", Help: "Tags attached to articles, by kind (country, person, organization, topic).",
		}, []string{"kind"}),
		topicTags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_enricher_topic_tags_total", Help: "Articles tagged with each taxonomy topic.",
		}, []string{"topic"}),
		countryTags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_enricher_country_tags_total", Help: "Articles about each country (salience >= 0.5), by ISO 3166-1 code.",
		}, []string{"country"}),
		topicCountry: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_enricher_topic_country_tags_total", Help: "Articles tagged with a topic and about a country (salience >= 0.5).",
		}, []string{"topic", "country"}),
		eventAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "newsflow_enricher_event_age_seconds", Help: "Age of each article (now minus fetched_at) when it was enriched.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 3600},
		}),
	}
	for _, c := range []prometheus.Collector{m.received, m.enriched, m.deadLettered, m.duration, m.lastProcessed, m.tags, m.topicTags, m.countryTags, m.topicCountry, m.eventAge} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register enricher metrics: %w", err)
		}
	}
	for _, r := range bus.Reasons {
		m.deadLettered.WithLabelValues(r)
	}
	for _, k := range []string{"country", "person", "organization", "topic"} {
		m.tags.WithLabelValues(k)
	}
	for _, t := range topics {
		m.topicTags.WithLabelValues(t)
	}
	return m, nil
}

// NewEnricher wires the enricher stage. Topics must exist (bus.EnsureTopics).
func NewEnricher(cfg EnricherConfig, tagger Tagger, logger *slog.Logger, reg prometheus.Registerer) (*Enricher, error) {
	var topics []string
	if tl, ok := tagger.(TopicLister); ok {
		topics = tl.TopicIDs()
	}
	m, err := newEnricherMetrics(reg, topics)
	if err != nil {
		return nil, err
	}
	km, err := bus.NewMetrics("enricher", reg)
	if err != nil {
		return nil, fmt.Errorf("register kafka metrics: %w", err)
	}
	cons, err := cfg.Bus.NewConsumer(bus.ConsumerConfig{
		GroupID: cfg.GroupID, Topic: cfg.Bus.Topics.Raw, ClientID: "newsflow-enricher",
		BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait,
	}, logger, km)
	if err != nil {
		return nil, err
	}
	out, err := cfg.Bus.NewWriter(cfg.Bus.Topics.Enriched, km)
	if err != nil {
		return nil, err
	}
	dlq, err := cfg.Bus.NewDeadLetters("enricher", km, m.deadLettered)
	if err != nil {
		return nil, err
	}
	e := &Enricher{cfg: cfg, tagger: tagger, logger: logger, consumer: cons, out: out, dlq: dlq, m: m}
	return e, nil
}

// Run consumes until ctx is done; see Enricher for the delivery contract.
func (e *Enricher) Run(ctx context.Context) error {
	err := bus.RunStages(ctx, e.consumer, bus.Stages[tagged]{Prepare: e.tag, Handle: e.publish})
	cerr := e.out.Close()
	if derr := e.dlq.Close(); cerr == nil {
		cerr = derr
	}
	if err == nil && cerr != nil {
		err = fmt.Errorf("close enricher writers: %w", cerr)
	}
	return err
}

// Ready reports an error while publishing to Kafka keeps failing.
func (e *Enricher) Ready() error {
	return e.failing.err("publishing enriched articles fails")
}

// tagged is a batch tagged and encoded, ready to publish: the enriched
// messages, the articles they carry, the messages that go to the dead-letter
// topic, and the time of tagging.
type tagged struct {
	out      []kafka.Message
	enriched []events.EnrichedArticle
	letters  []bus.Letter
	now      time.Time
}

// tag decodes, tags and encodes a batch; it runs on the next batch while
// publish runs.
func (e *Enricher) tag(msgs []kafka.Message) tagged {
	t := tagged{out: make([]kafka.Message, 0, len(msgs)), now: time.Now().UTC()}
	max := e.cfg.Bus.MaxMessageBytes
	for _, msg := range msgs {
		e.m.received.Inc()
		raw, letter := decodeMessage(msg, max, events.DecodeRaw)
		if letter != nil {
			t.letters = append(t.letters, *letter)
			continue
		}
		start := time.Now()
		a := e.tagger.Enrich(raw, t.now)
		e.m.duration.Observe(time.Since(start).Seconds())
		b, err := enrich.AppendJSON(nil, &a)
		if err != nil {
			t.letters = append(t.letters, bus.Letter{Msg: msg, Reason: bus.ReasonInvalid, Err: fmt.Errorf("encode enriched article: %w", err)})
			continue
		}
		if len(b) > max {
			t.letters = append(t.letters, bus.Letter{Msg: msg, Reason: bus.ReasonTooLarge, Err: fmt.Errorf("enriched article of %d bytes exceeds %d", len(b), max)})
			continue
		}
		t.out = append(t.out, kafka.Message{Key: []byte(a.ID), Value: b, Headers: bus.Headers(events.EnrichedHeaders(a))})
		t.enriched = append(t.enriched, a)
	}
	return t
}

// publish writes a tagged batch and its dead letters; see Enricher for the
// contract.
func (e *Enricher) publish(ctx context.Context, _ []kafka.Message, t tagged) error {
	out, letters, enriched, now := t.out, t.letters, t.enriched, t.now
	onRetry := func(err error) {
		e.failing.set(err)
		e.logger.Warn("publish enriched articles failed, retrying", slog.Int("articles", len(out)), slog.Any("error", err))
	}
	if err := e.out.WriteRetry(ctx, onRetry, out...); err != nil {
		return err
	}
	if err := deadLetter(ctx, e.dlq, e.logger, letters); err != nil {
		return err
	}
	e.failing.clear()
	for _, a := range enriched {
		e.count(a, now)
	}
	e.m.lastProcessed.SetToCurrentTime()
	return nil
}

func (e *Enricher) count(a events.EnrichedArticle, now time.Time) {
	e.m.enriched.Inc()
	if !a.FetchedAt.IsZero() {
		e.m.eventAge.Observe(now.Sub(a.FetchedAt).Seconds())
	}
	e.m.tags.WithLabelValues("country").Add(float64(len(a.Countries)))
	e.m.tags.WithLabelValues("person").Add(float64(len(a.People)))
	e.m.tags.WithLabelValues("organization").Add(float64(len(a.Organizations)))
	e.m.tags.WithLabelValues("topic").Add(float64(len(a.Topics)))
	for _, t := range a.Topics {
		e.m.topicTags.WithLabelValues(t.ID).Inc()
	}
	for _, c := range a.Countries {
		if c.Score < 0.5 {
			continue
		}
		e.m.countryTags.WithLabelValues(c.Code).Inc()
		for _, t := range a.Topics {
			e.m.topicCountry.WithLabelValues(t.ID, c.Code).Inc()
		}
	}
}
