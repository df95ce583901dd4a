package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/newsflow/newsflow/internal/store"
)

// TestDemo runs `newsflow demo` as a user would and checks what it prints,
// what it stored and the metrics it wrote.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	metrics := filepath.Join(dir, "metrics.txt")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"demo", "--db", db, "--metrics-out", metrics}, &stdout, &stderr); code != 0 {
		t.Fatalf("newsflow demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"Stored 7 articles",
		"North Korean Military Official Criticizes US Military Aid to Ukraine",
		"KP North Korea", "RU Russia", "US United States", "UA Ukraine", "KR South Korea",
		"Kim Jong Un", "Vladimir Putin", "Pak Jong Chon", "KCNA",
		"arms_trade", "mutual_defense", "military_aid", "armed_conflict",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "stored 7") {
		t.Errorf("demo progress never said 'stored 7':\n%s", stderr.String())
	}

	// The database holds the seed article once, with its countries.
	st, err := store.Open(t.Context(), "sqlite:"+db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	arts, err := st.Query(t.Context(), store.Filter{Country: "KP", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 {
		t.Fatalf("articles about KP: %d, want 1", len(arts))
	}

	// The exposition of all stages is well-formed, lint-clean, and carries
	// the figures of the run.
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) float64 {
		mf, ok := mfs[name]
		if !ok {
			t.Errorf("metric %s not exported", name)
			return -1
		}
		var v float64
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue()
		}
		return v
	}
	for name, want := range map[string]float64{
		"newsflow_fetcher_articles_published_total": 7,
		"newsflow_enricher_articles_enriched_total": 7,
		"newsflow_sink_articles_stored_total":       7,
		"newsflow_enricher_dead_lettered_total":     0,
		"newsflow_sink_dead_lettered_total":         0,
	} {
		if got := value(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	families := make([]*dto.MetricFamily, 0, len(mfs))
	for _, mf := range mfs {
		families = append(families, mf)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "newsflow_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
}
