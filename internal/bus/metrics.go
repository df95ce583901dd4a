package bus

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Metrics are the Kafka client statistics of one stage, exported as
// newsflow_kafka_* with labels client (the stage), role (reader or writer)
// and topic. kafka-go's Stats() return deltas since the previous call, so
// Metrics reads them from a single ticker (Run) and adds them to counters.
type Metrics struct {
	client string

	messages   *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	errors     *prometheus.CounterVec
	rebalances *prometheus.CounterVec
	lag        *prometheus.GaugeVec
	writeDur   *prometheus.HistogramVec
	retries    *prometheus.CounterVec

	readers []*kafka.Reader
	writers []*kafka.Writer
	// monitored is held by the one consumer that keeps the metrics up to
	// date when several share them.
	monitored atomic.Bool
}

// NewMetrics registers the Kafka client metrics of stage client on reg.
func NewMetrics(client string, reg prometheus.Registerer) (*Metrics, error) {
	cl := prometheus.Labels{"client": client}
	m := &Metrics{
		client: client,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_kafka_messages_total", Help: "Messages read or written by the Kafka client.", ConstLabels: cl,
		}, []string{"role", "topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_kafka_bytes_total", Help: "Message bytes read or written by the Kafka client.", ConstLabels: cl,
		}, []string{"role", "topic"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_kafka_errors_total", Help: "Errors reported by the Kafka client.", ConstLabels: cl,
		}, []string{"role", "topic"}),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_kafka_rebalances_total", Help: "Consumer group rebalances seen by the reader.", ConstLabels: cl,
		}, []string{"topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "newsflow_kafka_consumer_lag", Help: "Messages in the topic not yet committed by the consumer group, summed over partitions.", ConstLabels: cl,
		}, []string{"group", "topic"}),
		writeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "newsflow_kafka_write_duration_seconds", Help: "Time to write a batch of messages until all replicas acknowledged it.", ConstLabels: cl,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"topic"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_kafka_write_retries_total", Help: "Batch writes retried after a failure.", ConstLabels: cl,
		}, []string{"topic"}),
	}
	for _, c := range []prometheus.Collector{m.messages, m.bytes, m.errors, m.rebalances, m.lag, m.writeDur, m.retries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) addReader(r *kafka.Reader, topic string) {
	m.readers = append(m.readers, r)
	for _, c := range []*prometheus.CounterVec{m.messages, m.bytes, m.errors} {
		c.WithLabelValues("reader", topic)
	}
	m.rebalances.WithLabelValues(topic)
}

func (m *Metrics) addWriter(w *kafka.Writer, topic string) {
	m.writers = append(m.writers, w)
	for _, c := range []*prometheus.CounterVec{m.messages, m.bytes, m.errors} {
		c.WithLabelValues("writer", topic)
	}
	m.retries.WithLabelValues(topic)
}

// Run copies client statistics into the metrics every interval until ctx is
// done. Readers and writers must be created before Run starts.
func (m *Metrics) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.collect()
			return
		case <-t.C:
			m.collect()
		}
	}
}

func (m *Metrics) collect() {
	for _, r := range m.readers {
		s := r.Stats()
		topic := r.Config().Topic
		if topic == "" && len(r.Config().GroupTopics) > 0 {
			topic = r.Config().GroupTopics[0]
		}
		m.messages.WithLabelValues("reader", topic).Add(float64(s.Messages))
		m.bytes.WithLabelValues("reader", topic).Add(float64(s.Bytes))
		m.errors.WithLabelValues("reader", topic).Add(float64(s.Errors))
		m.rebalances.WithLabelValues(topic).Add(float64(s.Rebalances))
	}
	for _, w := range m.writers {
		s := w.Stats()
		m.messages.WithLabelValues("writer", w.Topic).Add(float64(s.Messages))
		m.bytes.WithLabelValues("writer", w.Topic).Add(float64(s.Bytes))
		m.errors.WithLabelValues("writer", w.Topic).Add(float64(s.Errors))
	}
}
