package feed

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Health states of a feed, the values of the health label.
const (
	HealthNew     = "new"     // never polled
	HealthOK      = "ok"      // last poll succeeded
	HealthFailing = "failing" // last poll failed
)

// Item outcomes, the values of the outcome label.
const (
	OutcomePublished = "published" // new item, published
	OutcomeUpdated   = "updated"   // changed item, republished
	OutcomeDuplicate = "duplicate" // already published, skipped
)

// fullTextResults are the values of the result label of full-text fetches:
// ok, an error class, extract_failed or skipped (no http(s) link).
func fullTextResults() []Class {
	return append(Classes(), "extract_failed", "skipped")
}

// metrics is the fetcher's instrumentation. Every series of a fixed label
// set exists from the start at zero.
type metrics struct {
	polls           *prometheus.CounterVec
	pollDuration    prometheus.Histogram
	responses       *prometheus.CounterVec
	bytes           prometheus.Counter
	items           *prometheus.CounterVec
	published       prometheus.Counter
	feeds           *prometheus.GaugeVec
	oldestFailing   prometheus.Gauge
	feedsConfigured prometheus.Gauge
	feedsDue        prometheus.Gauge
	inFlight        prometheus.Gauge
	lastSuccess     prometheus.Gauge
	publishErrors   prometheus.Counter
	fullText        *prometheus.CounterVec
	reloads         *prometheus.CounterVec
	redirects       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_fetcher_polls_total",
			Help: "Feed polls by result: ok, not_modified, or the error class.",
		}, []string{"result"}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_fetcher_poll_duration_seconds",
			Help:    "Time of one poll: request, body, parse, publish and state commit.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_fetcher_http_responses_total",
			Help: "HTTP responses received, by status class (2xx, 3xx, 4xx, 5xx).",
		}, []string{"code"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_fetcher_downloaded_bytes_total",
			Help: "Response body bytes received on the wire (before decompression).",
		}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_fetcher_items_total",
			Help: "Feed items seen, by outcome: published (new), updated (changed, republished), duplicate (skipped).",
		}, []string{"outcome"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_fetcher_articles_published_total",
			Help: "Articles acknowledged by the broker (new and updated).",
		}),
		feeds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "newsflow_fetcher_feeds",
			Help: "Feeds in the feed list by health: new (never polled), ok, failing.",
		}, []string{"health"}),
		oldestFailing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_fetcher_oldest_failing_since_timestamp_seconds",
			Help: "Unix time since which the longest-failing feed has failed every poll without a success; 0 when no feed is failing.",
		}),
		feedsConfigured: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_fetcher_feeds_configured",
			Help: "Distinct feeds in the feed list.",
		}),
		feedsDue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_fetcher_feeds_due",
			Help: "Feeds whose poll time has come but that wait for a worker or a host slot.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_fetcher_polls_in_flight",
			Help: "Polls in progress.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_fetcher_last_success_timestamp_seconds",
			Help: "Unix time of the last poll that ended ok or not_modified.",
		}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_fetcher_publish_errors_total",
			Help: "Publish calls that failed (the items stay unseen and are retried).",
		}),
		fullText: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_fetcher_fulltext_fetches_total",
			Help: "Article pages fetched for full text, by result: ok, an error class, or extract_failed.",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_fetcher_reloads_total",
			Help: "Feed list reloads by result (ok, error).",
		}, []string{"result"}),
		redirects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_fetcher_permanent_redirects_total",
			Help: "Feed URLs updated after a permanent redirect.",
		}),
	}
	for _, c := range Classes() {
		m.polls.WithLabelValues(string(c))
	}
	for _, c := range []string{"2xx", "3xx", "4xx", "5xx"} {
		m.responses.WithLabelValues(c)
	}
	for _, o := range []string{OutcomePublished, OutcomeUpdated, OutcomeDuplicate} {
		m.items.WithLabelValues(o)
	}
	for _, h := range []string{HealthNew, HealthOK, HealthFailing} {
		m.feeds.WithLabelValues(h)
	}
	for _, r := range fullTextResults() {
		m.fullText.WithLabelValues(string(r))
	}
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.polls, m.pollDuration, m.responses, m.bytes, m.items, m.published, m.feeds,
		m.oldestFailing, m.feedsConfigured, m.feedsDue, m.inFlight, m.lastSuccess, m.publishErrors, m.fullText, m.reloads, m.redirects} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register fetcher metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) response(status int) {
	if status < 200 || status > 599 {
		return
	}
	m.responses.WithLabelValues(fmt.Sprintf("%dxx", status/100)).Inc()
}
