package store

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Error classes of newsflow_sink_write_errors_total.
const (
	classUnavailable = "unavailable"
	classRejected    = "rejected"
	classOther       = "other"
)

// metrics are the store's series. All are registered on Options.Registerer
// and pre-set to zero.
type metrics struct {
	rowsWritten   *prometheus.CounterVec
	articles      *prometheus.CounterVec
	stored        prometheus.Counter
	batchSize     prometheus.Histogram
	writeDuration prometheus.Histogram
	errors        *prometheus.CounterVec
	eventAge      prometheus.Histogram
	retentionRows prometheus.Counter
	retentionLast prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, extra ...prometheus.Collector) (*metrics, error) {
	m := &metrics{
		rowsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_sink_rows_written_total",
			Help: "Rows written to storage in committed transactions, by table.",
		}, []string{"table"}),
		articles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_sink_articles_total",
			Help: "Articles in committed writes, by result: inserted, updated (newer version), skipped (same or older version).",
		}, []string{"result"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_sink_articles_stored_total",
			Help: "Articles committed to storage (inserted or updated).",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_sink_batch_size_articles",
			Help:    "Articles per write transaction.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000},
		}),
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_sink_write_duration_seconds",
			Help:    "Time to write one batch, from the start of the transaction to its commit (or failure).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_sink_write_errors_total",
			Help: "Failed batch writes, by class: unavailable (transient, retried), rejected (articles dead-lettered), other.",
		}, []string{"class"}),
		eventAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_sink_event_age_seconds",
			Help:    "End-to-end freshness: now minus fetched_at when an article's write committed.",
			Buckets: []float64{.1, .25, .5, .75, 1, 1.5, 2, 2.5, 3, 5, 10, 30, 60, 300, 3600},
		}),
		retentionRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_sink_retention_deleted_articles_total",
			Help: "Articles deleted by the retention job (their tag rows go with them).",
		}),
		retentionLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_sink_retention_last_success_timestamp_seconds",
			Help: "Unix time of the last successful retention run (0: never).",
		}),
	}
	for _, t := range Tables() {
		m.rowsWritten.WithLabelValues(t)
	}
	for _, r := range []string{"inserted", "updated", "skipped"} {
		m.articles.WithLabelValues(r)
	}
	for _, c := range []string{classUnavailable, classRejected, classOther} {
		m.errors.WithLabelValues(c)
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.rowsWritten, m.articles, m.stored, m.batchSize, m.writeDuration,
		m.errors, m.eventAge, m.retentionRows, m.retentionLast}
	for _, c := range append(cs, extra...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observeWrite records one Write: its duration, and on success its rows and
// the age of each stored article.
func (m *metrics) observeWrite(start time.Time, size int, rows []articleRow, res WriteResult, err error) {
	now := time.Now()
	m.writeDuration.Observe(now.Sub(start).Seconds())
	m.batchSize.Observe(float64(size))
	if err != nil {
		switch {
		case errors.Is(err, ErrUnavailable):
			m.errors.WithLabelValues(classUnavailable).Inc()
		case errors.Is(err, ErrRejected):
			m.errors.WithLabelValues(classRejected).Inc()
		default:
			m.errors.WithLabelValues(classOther).Inc()
		}
		return
	}
	for t, n := range res.Rows {
		m.rowsWritten.WithLabelValues(t).Add(float64(n))
	}
	m.articles.WithLabelValues("inserted").Add(float64(res.Inserted))
	m.articles.WithLabelValues("updated").Add(float64(res.Updated))
	m.articles.WithLabelValues("skipped").Add(float64(res.Skipped))
	m.stored.Add(float64(res.Inserted + res.Updated))
	for i := range rows {
		if rows[i].written {
			m.eventAge.Observe(now.Sub(rows[i].fetchedAt).Seconds())
		}
	}
}
