package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/feed"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/internal/telemetry"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestSeedEndToEnd runs the seed feed through fetcher, Kafka, enricher and
// sink, and checks the stored article and its countries. It runs on the
// embedded broker, and on Apache Kafka too when NEWSFLOW_TEST_KAFKA is set;
// on SQLite, and on PostgreSQL too when NEWSFLOW_TEST_POSTGRES is set.
func TestSeedEndToEnd(t *testing.T) {
	type target struct{ name, kafka, store string }
	targets := []target{{name: "embedded+sqlite", store: "sqlite:" + filepath.Join(t.TempDir(), "e2e.db")}}
	if k := os.Getenv("NEWSFLOW_TEST_KAFKA"); k != "" {
		pg := "sqlite:" + filepath.Join(t.TempDir(), "e2e-kafka.db")
		if admin := os.Getenv("NEWSFLOW_TEST_POSTGRES"); admin != "" {
			pg = freshSchema(t, admin)
		}
		targets = append(targets, target{name: "apache-kafka+postgres", kafka: k, store: pg})
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			runSeed(t, tg.kafka, tg.store)
		})
	}
}

func runSeed(t *testing.T, kafka, storeURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	feedXML, err := os.ReadFile("testdata/seed-feed.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write(feedXML)
	}))
	defer srv.Close()
	dir := t.TempDir()
	feeds := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(feeds, []byte("feeds:\n  - url: "+srv.URL+"/world/rss.xml\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	bc := bus.DefaultConfig()
	suffix := "." + time.Now().Format("150405.000000")
	bc.Topics.Raw += suffix
	bc.Topics.Enriched += suffix
	bc.Topics.DeadLetter += suffix
	if kafka != "" {
		bc.Brokers = []string{kafka}
	}
	stopKafka, err := pipeline.Kafka(ctx, &bc, "", 0, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer stopKafka()

	reg := prometheus.NewRegistry()
	st, err := pipeline.StoreFlags{URL: storeURL}.Open(ctx, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	pub, err := pipeline.NewPublisher(bc, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	fc := feed.DefaultConfig()
	fc.FeedsPath = feeds
	fc.StatePath = filepath.Join(dir, "state.db")
	fc.AllowPrivate = true
	f, err := feed.New(fc, pub, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	tagger, err := (&pipeline.TaggerFlags{TopicThreshold: -1}).Build()
	if err != nil {
		t.Fatal(err)
	}
	ec := pipeline.DefaultEnricherConfig()
	ec.Bus = bc
	ec.GroupID += suffix
	enr, err := pipeline.NewEnricher(ec, tagger, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	sc := pipeline.DefaultSinkConfig()
	sc.Bus = bc
	sc.GroupID += suffix
	sink, err := pipeline.NewSink(sc, st, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}

	rctx, stop := context.WithCancel(ctx)
	errc := make(chan error, 3)
	go func() { errc <- f.Run(rctx) }()
	go func() { errc <- enr.Run(rctx) }()
	go func() { errc <- sink.Run(rctx) }()

	var got []store.Article
	for {
		got, err = st.Query(ctx, store.Filter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	for range 3 {
		if err := <-errc; err != nil {
			t.Errorf("stage returned %v", err)
		}
	}
	if len(got) != 1 {
		t.Fatalf("stored %d articles, want 1", len(got))
	}
	a := got[0]
	if a.Title != "North Korean Military Official Criticizes US Military Aid to Ukraine" {
		t.Errorf("title = %q", a.Title)
	}
	codes := map[string]float64{}
	for _, c := range a.Countries {
		codes[c.Code] = c.Score
	}
	for _, want := range []string{"KP", "RU", "US", "UA", "KR"} {
		if _, ok := codes[want]; !ok {
			t.Errorf("country %s missing; stored %v", want, codes)
		}
	}
	if codes["KP"] < 0.5 {
		t.Errorf("KP salience %.2f, want >= 0.5 (the article is about North Korea)", codes["KP"])
	}
	if n := telemetry.Sum(reg, "newsflow_enricher_articles_enriched_total"); n != 1 {
		t.Errorf("enriched counter = %v, want 1", n)
	}
}

// freshSchema creates an empty schema on the PostgreSQL server at admin,
// dropped when t ends, and returns a URL whose search_path is that schema, so
// that a run never sees the articles of an earlier one.
func freshSchema(t *testing.T, admin string) string {
	t.Helper()
	name := fmt.Sprintf("newsflow_e2e_%d_%d", os.Getpid(), time.Now().UnixNano())
	execOn(t, admin, "CREATE SCHEMA "+name)
	t.Cleanup(func() { execOn(t, admin, "DROP SCHEMA "+name+" CASCADE") })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
