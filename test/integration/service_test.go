package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServiceLifecycle starts each service binary against Apache Kafka,
// checks that /healthz, /readyz and /metrics answer with the stage's
// newsflow_<stage>_ metrics, and that SIGTERM ends it with exit code 0.
func TestServiceLifecycle(t *testing.T) {
	env := services(t)
	t.Parallel()
	dir := t.TempDir()
	feedList := filepath.Join(dir, "feeds.yaml")
	// A feed list whose only feed nobody serves: the fetcher starts, polls,
	// fails, and keeps running.
	if err := os.WriteFile(feedList, []byte("feeds:\n  - url: http://"+freeAddr(t)+"/none.xml\n    title: Nobody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := runID(t)
	raw, enr, dlq := "it."+id+".raw", "it."+id+".enriched", "it."+id+".dlq"
	t.Cleanup(func() { deleteTopics(t, env[envKafka], raw, enr, dlq) })
	topics := []string{"--brokers", env[envKafka], "--topic-raw", raw, "--topic-enriched", enr, "--topic-dlq", dlq}
	tests := []struct {
		name, binary, prefix string
		args                 []string
		metrics              []string
	}{
		{"fetcher", bin.fetcher, "newsflow_fetcher_",
			[]string{"--feeds", feedList, "--state", filepath.Join(dir, "state.db"), "--allow-private"},
			[]string{"newsflow_fetcher_articles_published_total", "newsflow_fetcher_polls_total", "newsflow_fetcher_feeds_configured"}},
		{"enricher", bin.enricher, "newsflow_enricher_",
			[]string{"--group", "it-" + id + "-enricher"},
			[]string{"newsflow_enricher_articles_enriched_total", "newsflow_enricher_messages_received_total", "newsflow_enricher_dead_lettered_total"}},
		{"sink", bin.sink, "newsflow_sink_",
			[]string{"--group", "it-" + id + "-sink", "--store", "sqlite:" + filepath.Join(dir, "sink.db")},
			[]string{"newsflow_sink_articles_stored_total", "newsflow_sink_rows_written_total", "newsflow_sink_messages_received_total"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := freeAddr(t)
			p := startProc(t, tt.name, tt.binary, addr, nil, slices.Concat(topics, tt.args, []string{"--metrics-addr", addr})...)
			p.waitHTTP("/healthz", readyTimeout)
			p.waitReady(readyTimeout)
			code, body, err := p.get(t.Context(), "/metrics")
			if err != nil || code != http.StatusOK {
				t.Fatalf("GET /metrics: %d %v", code, err)
			}
			samples, err := parseMetrics(body)
			if err != nil {
				t.Fatalf("parse /metrics: %v", err)
			}
			stage := 0
			for _, s := range samples {
				if strings.HasPrefix(s.name, tt.prefix) {
					stage++
				}
			}
			if stage == 0 {
				t.Errorf("/metrics has no %s* series", tt.prefix)
			}
			for _, m := range tt.metrics {
				if _, ok := metricSum(samples, m); !ok {
					t.Errorf("/metrics lacks %s (it must exist from the start, at zero)", m)
				}
			}
			p.stop(stopTimeout)
			// Shutdown is logged, not silent.
			if log := p.stderr.String(); !strings.Contains(log, "shutting down") {
				t.Errorf("%s did not log its shutdown:\n%s", tt.name, log)
			}
		})
	}
}

// TestBadFlagsExit2 checks that a bad flag or NEWSFLOW_* value makes each
// binary exit 2 at once, with a message naming the flag.
func TestBadFlagsExit2(t *testing.T) {
	env := services(t)
	t.Parallel()
	dir := t.TempDir()
	feeds := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(feeds, []byte("feeds:\n  - url: http://127.0.0.1:9/x.xml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.db")
	broker := env[envKafka]
	tests := []struct {
		name   string
		binary string
		env    []string
		args   []string
		flag   string // the flag the message must name
	}{
		{"fetcher interval below 1s", bin.fetcher, nil, []string{"--brokers", broker, "--feeds", feeds, "--state", state, "--interval", "500ms"}, "-interval"},
		{"fetcher interval not a duration", bin.fetcher, nil, []string{"--brokers", broker, "--feeds", feeds, "--state", state, "--interval", "often"}, "-interval"},
		{"fetcher without feed list", bin.fetcher, nil, []string{"--brokers", broker, "--state", state}, "-feeds"},
		{"fetcher unknown flag", bin.fetcher, nil, []string{"--brokers", broker, "--feeds", feeds, "--no-such-flag"}, "no-such-flag"},
		{"enricher batch size 0", bin.enricher, nil, []string{"--brokers", broker, "--batch-size", "0"}, "-batch-size"},
		{"enricher broker without port", bin.enricher, nil, []string{"--brokers", "localhost"}, "-brokers"},
		{"enricher bad NEWSFLOW_BATCH_WAIT", bin.enricher, []string{"NEWSFLOW_BATCH_WAIT=soon"}, []string{"--brokers", broker}, "-batch-wait"},
		{"sink empty store", bin.sink, nil, []string{"--brokers", broker, "--store", ""}, "-store"},
		{"sink negative retention", bin.sink, nil, []string{"--brokers", broker, "--store", "sqlite:" + filepath.Join(dir, "s.db"), "--retention", "-1h"}, "-retention"},
		{"sink bad log level", bin.sink, nil, []string{"--brokers", broker, "--log-level", "loud"}, "-log-level"},
		{"broker port out of range", bin.newsflow, nil, []string{"broker", "--broker-port", "70000", "--data", ""}, "-broker-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, filepath.Base(tt.binary), tt.binary, "", tt.env, tt.args...)
			code, err := p.waitExit(15 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if code != 2 {
				t.Fatalf("exit code %d, want 2; stderr:\n%s", code, p.stderr.String())
			}
			if msg := p.stderr.String(); !strings.Contains(msg, tt.flag) {
				t.Errorf("message does not name %s:\n%s", tt.flag, msg)
			}
		})
	}
}
