package telemetry_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/internal/telemetry"
)

func TestServerEndpoints(t *testing.T) {
	reg := telemetry.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	srv, err := telemetry.NewServer("127.0.0.1:0", reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	srv.AddReadyCheck("db", func() error {
		if broken.Load() {
			return errors.New("database down")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	base := "http://" + srv.Addr()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	tests := []struct {
		path, contains string
		broken         bool
		code           int
	}{
		{"/healthz", "ok", false, 200},
		{"/readyz", "ready", false, 200},
		{"/readyz", "db: database down", true, 503},
		{"/healthz", "ok", true, 200},
		{"/metrics", "newsflow_test_things_total 3", false, 200},
		{"/metrics", "go_goroutines", false, 200},
	}
	for _, tc := range tests {
		broken.Store(tc.broken)
		code, body := get(tc.path)
		if code != tc.code || !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s (broken=%v) = %d %q, want %d containing %q", tc.path, tc.broken, code, body, tc.code, tc.contains)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestProgressLine(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "a_total", Help: "a"}, []string{"result"})
	b := prometheus.NewGauge(prometheus.GaugeOpts{Name: "b", Help: "b"})
	reg.MustRegister(a, b)
	a.WithLabelValues("ok").Add(2)
	a.WithLabelValues("error").Add(5)
	b.Set(4)
	got := telemetry.ProgressLine(reg, []telemetry.ProgressItem{
		{Label: "all", Metrics: []string{"a_total"}},
		{Label: "errors", Metrics: []string{"a_total"}, Match: "result", Values: []string{"error"}},
		{Label: "not ok", Metrics: []string{"a_total"}, Match: "result", Values: []string{"ok"}, Exclude: true},
		{Label: "sum", Metrics: []string{"a_total", "b"}},
		{Label: "missing", Metrics: []string{"nope"}},
	})
	if want := "all 7, errors 5, not ok 5, sum 11, missing 0"; got != want {
		t.Errorf("ProgressLine = %q, want %q", got, want)
	}
	if n := testutil.ToFloat64(b); n != 4 {
		t.Fatal(n)
	}
}

func TestLintRegistry(t *testing.T) {
	problems, err := testutil.GatherAndLint(telemetry.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
