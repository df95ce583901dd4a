package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/events"
)

// recPublisher is a Publisher that records what it acknowledged. It fails
// while failNext > 0 (counting down) and honours cancellation like a broker
// client: a cancelled Publish acknowledges nothing.
type recPublisher struct {
	mu       sync.Mutex
	articles []events.RawArticle
	calls    int
	failNext int
	delay    time.Duration
}

func (p *recPublisher) Publish(ctx context.Context, arts []events.RawArticle) error {
	p.mu.Lock()
	p.calls++
	if p.failNext > 0 {
		p.failNext--
		p.mu.Unlock()
		return errors.New("broker unavailable")
	}
	delay := p.delay
	p.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, a := range arts {
		b, err := a.MarshalJSON()
		if err != nil {
			return err
		}
		if _, err := events.DecodeRaw(b); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.articles = append(p.articles, arts...)
	return nil
}

func (p *recPublisher) got() []events.RawArticle {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]events.RawArticle(nil), p.articles...)
}

func (p *recPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.articles)
}

// served is what the test server answers on one path.
type served struct {
	body     []byte
	ctype    string
	etag     string
	lastMod  time.Time
	gzip     bool
	status   int
	header   map[string]string
	delay    time.Duration
	redirect string
}

type seenReq struct {
	path   string
	header http.Header
	at     time.Time
}

// feedServer is a real HTTP server serving feed files with ETag and
// Last-Modified validation; it records every request.
type feedServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths map[string]served
	reqs  []seenReq
}

func newFeedServer(t *testing.T) *feedServer {
	t.Helper()
	s := &feedServer{paths: make(map[string]served)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *feedServer) url(path string) string { return s.srv.URL + path }

func (s *feedServer) set(path string, sv served) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[path] = sv
}

func (s *feedServer) requests(path string) []seenReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []seenReq
	for _, r := range s.reqs {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

func (s *feedServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, seenReq{path: r.URL.Path, header: r.Header.Clone(), at: time.Now()})
	sv, ok := s.paths[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if sv.delay > 0 {
		select {
		case <-time.After(sv.delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range sv.header {
		w.Header().Set(k, v)
	}
	if sv.redirect != "" {
		http.Redirect(w, r, sv.redirect, sv.status)
		return
	}
	if sv.status != 0 && sv.status != http.StatusOK {
		w.WriteHeader(sv.status)
		w.Write(sv.body)
		return
	}
	if sv.etag != "" {
		w.Header().Set("ETag", sv.etag)
		if r.Header.Get("If-None-Match") == sv.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if !sv.lastMod.IsZero() {
		w.Header().Set("Last-Modified", sv.lastMod.UTC().Format(http.TimeFormat))
		if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !sv.lastMod.Truncate(time.Second).After(ims) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if sv.ctype != "" {
		w.Header().Set("Content-Type", sv.ctype)
	}
	body := sv.body
	if sv.gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Write(body)
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testConfig is a config for tests: loopback allowed, fast schedule, no jitter.
func testConfig(t *testing.T, listYAML string) Config {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.FeedsPath = filepath.Join(dir, "feeds.yaml")
	cfg.StatePath = filepath.Join(dir, "state", "fetcher.db")
	cfg.AllowPrivate = true
	cfg.Interval = time.Hour
	cfg.MinInterval = time.Second
	cfg.Jitter = 0
	cfg.ReloadCheck = 0
	if err := os.WriteFile(cfg.FeedsPath, []byte(listYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// harness runs a Fetcher in the background.
type harness struct {
	t      *testing.T
	f      *Fetcher
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, pub Publisher) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	f, err := New(cfg, pub, discardLogger(), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, f: f, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- f.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop cancels Run, waits for it and closes the fetcher (idempotent).
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		h.t.Fatal("Run did not return within 15s of cancellation")
	}
	if err := h.f.Close(); err != nil {
		h.t.Errorf("Close: %v", err)
	}
}

func (h *harness) polls(class Class) float64 {
	return testutil.ToFloat64(h.f.m.polls.WithLabelValues(string(class)))
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
