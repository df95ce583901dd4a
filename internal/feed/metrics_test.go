package feed

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsLintAndZeroSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(m.polls); n != len(Classes()) {
		t.Errorf("polls_total has %d series, want one per class (%d)", n, len(Classes()))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if !strings.HasPrefix(mf.GetName(), "newsflow_fetcher_") {
			t.Errorf("metric %s outside newsflow_fetcher_", mf.GetName())
		}
	}
	for _, want := range []string{"newsflow_fetcher_articles_published_total", "newsflow_fetcher_last_success_timestamp_seconds",
		"newsflow_fetcher_polls_total", "newsflow_fetcher_poll_duration_seconds", "newsflow_fetcher_items_total",
		"newsflow_fetcher_feeds", "newsflow_fetcher_publish_errors_total", "newsflow_fetcher_fulltext_fetches_total",
		"newsflow_fetcher_http_responses_total", "newsflow_fetcher_downloaded_bytes_total", "newsflow_fetcher_polls_in_flight",
		"newsflow_fetcher_feeds_due"} {
		if !names[want] {
			t.Errorf("metric %s missing", want)
		}
	}
	if _, err := newMetrics(reg); err == nil {
		t.Error("registering twice on one registry did not fail")
	}
}
