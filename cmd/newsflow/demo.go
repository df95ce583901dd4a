package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/service"
	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/internal/telemetry"
)

// samples are the bundled sample feeds the demo serves: the seed article's
// feed (RSS 2.0), an Atom feed and a JSON Feed, all written for newsflow.
//
//go:embed samples/*
var samples embed.FS

// runDemo serves the sample feeds from an in-process HTTP server, runs the
// whole pipeline on an in-memory embedded broker until every sample article
// is stored, prints what was stored, and exits 0.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("newsflow demo", flag.ContinueOnError)
	var o options
	o.register(fs)
	var db, metricsOut string
	var timeout time.Duration
	flagenv.String(fs, &db, "db", "", "SQLite database to store into (default: a temporary one, removed at exit)")
	flagenv.String(fs, &metricsOut, "metrics-out", "", "write the final Prometheus exposition of all stages to this file")
	flagenv.Duration(fs, &timeout, "timeout", 2*time.Minute, "give up when the sample articles are not all stored by then")
	// The demo is quiet unless asked: warnings only, no metrics server.
	if err := fs.Set("log-level", "warn"); err != nil {
		panic(err)
	}
	if err := fs.Set("metrics-addr", ""); err != nil {
		panic(err)
	}
	positive := func() error {
		if timeout <= 0 {
			return flagenv.Invalid("timeout", timeout, "must be positive")
		}
		return nil
	}
	if code, ok := flagenv.ParseArgs(fs, args, stderr, positive); !ok {
		return code
	}
	tmp, err := os.MkdirTemp("", "newsflow-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "newsflow demo:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if db == "" {
		db = filepath.Join(tmp, "newsflow.db")
	}

	srv, feedsFile, want, err := serveSamples(tmp)
	if err != nil {
		fmt.Fprintln(stderr, "newsflow demo:", err)
		return 1
	}
	defer srv.Close()

	o.data = tmp
	o.store.URL = "sqlite:" + db
	o.feed.FeedsPath = feedsFile
	o.feed.StatePath = filepath.Join(tmp, "fetcher.db")
	o.feed.AllowPrivate = true // the sample server is on loopback
	o.enricher.Bus.Brokers = nil
	var tagger *pipeline.TaxonomyTagger
	build := func() (err error) { tagger, err = o.tagger.Build(); return err }
	for _, check := range []func() error{o.validate, build} {
		if err := check(); err != nil {
			fmt.Fprintln(stderr, "newsflow demo:", err)
			return 2
		}
	}
	tel, err := o.common.Start("", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "newsflow demo:", err)
		return 2
	}
	logger, reg := tel.Logger, tel.Registry
	ctx := context.Background()
	fmt.Fprintf(stderr, "newsflow demo: serving %d sample articles in 3 feeds at %s; running fetcher -> embedded Kafka -> enricher -> sink (SQLite %s)\n", len(want), srv.URL, db)
	p, err := startPipeline(ctx, o, "", tagger, logger, reg)
	if err != nil {
		fmt.Fprintln(stderr, "newsflow demo: start pipeline:", err)
		return 1
	}
	defer p.close()

	var stored []store.Article
	waitErr := errors.New("not done")
	watch := service.Actor{Name: "demo", Run: func(ctx context.Context) error {
		stored, waitErr = waitStored(ctx, p.store, want, timeout, reg, stderr)
		return nil // returning stops the pipeline
	}}
	runErr := service.Run(ctx, logger, o.common.ShutdownTimeout, append(p.actors(logger), watch)...)
	if runErr != nil {
		fmt.Fprintln(stderr, "newsflow demo:", runErr)
		return 1
	}
	if waitErr != nil {
		fmt.Fprintln(stderr, "newsflow demo:", waitErr)
		return 1
	}
	fmt.Fprintf(stdout, "Stored %d articles in %s:\n\n", len(stored), db)
	printArticleDetails(stdout, stored)
	if metricsOut != "" {
		if err := writeExposition(reg, metricsOut); err != nil {
			fmt.Fprintln(stderr, "newsflow demo:", err)
			return 1
		}
		fmt.Fprintf(stderr, "newsflow demo: metrics of all stages written to %s\n", metricsOut)
	}
	return 0
}

// serveSamples serves the embedded sample feeds on a loopback port and
// writes a feed list naming them. It returns the URLs of the articles the
// feeds hold.
func serveSamples(dir string) (*sampleServer, string, map[string]bool, error) {
	sub, err := fs.Sub(samples, "samples")
	if err != nil {
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("sample feed server: %w", err)
	}
	s := &sampleServer{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: http.FileServerFS(sub), ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()

	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		return nil, "", nil, err
	}
	want := map[string]bool{}
	var list strings.Builder
	list.WriteString("# Sample feeds served by newsflow demo.\nfeeds:\n")
	parser := gofeed.NewParser()
	for _, e := range entries {
		b, err := fs.ReadFile(sub, e.Name())
		if err != nil {
			return nil, "", nil, err
		}
		f, err := parser.Parse(bytes.NewReader(b))
		if err != nil {
			return nil, "", nil, fmt.Errorf("sample feed %s: %w", e.Name(), err)
		}
		for _, it := range f.Items {
			want[it.Link] = true
		}
		fmt.Fprintf(&list, "  - url: %s/%s\n    title: %q\n", s.URL, e.Name(), f.Title)
	}
	path := filepath.Join(dir, "demo-feeds.yaml")
	if err := os.WriteFile(path, []byte(list.String()), 0o644); err != nil {
		return nil, "", nil, err
	}
	return s, path, want, nil
}

type sampleServer struct {
	URL string
	srv *http.Server
}

func (s *sampleServer) Close() { _ = s.srv.Close() }

// waitStored polls the store until an article is stored for every wanted URL
// or timeout passes, printing progress.
func waitStored(ctx context.Context, st store.Store, want map[string]bool, timeout time.Duration, g prometheus.Gatherer, stderr io.Writer) ([]store.Article, error) {
	deadline := time.Now().Add(timeout)
	lastLine := ""
	for {
		arts, err := st.Query(ctx, store.Filter{Limit: 10000})
		if err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("query store: %w", err)
		}
		var got []store.Article
		for _, a := range arts {
			if want[a.URL] {
				got = append(got, a)
			}
		}
		if line := telemetry.ProgressLine(g, progressItems); line != lastLine {
			fmt.Fprintf(stderr, "newsflow demo: %s\n", line)
			lastLine = line
		}
		if len(got) >= len(want) {
			sort.Slice(got, func(i, j int) bool { return got[i].Time.After(got[j].Time) })
			return got, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d sample articles stored after %s", len(got), len(want), timeout)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("interrupted with %d of %d sample articles stored", len(got), len(want))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeExposition writes the registry's current metrics in the Prometheus
// text format.
func writeExposition(g prometheus.Gatherer, path string) error {
	mfs, err := g.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encode metrics: %w", err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}
