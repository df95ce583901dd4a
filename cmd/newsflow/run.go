package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/feeds"
	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/feed"
	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/service"
	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/internal/telemetry"
)

// options is everything one-process newsflow needs.
type options struct {
	common   service.Flags
	data     string
	port     int
	progress time.Duration
	feed     feed.Config
	enricher pipeline.EnricherConfig
	sink     pipeline.SinkConfig
	store    pipeline.StoreFlags
	tagger   pipeline.TaggerFlags
}

func (o *options) register(fs *flag.FlagSet) {
	o.common.Register(fs, ":9100")
	flagenv.String(fs, &o.data, "data", "newsflow-data", "folder of the embedded broker's log (broker/), the fetcher's state (state/) and the SQLite database (newsflow.db)")
	flagenv.Int(fs, &o.port, "broker-port", 0, "loopback port of the embedded broker (0: any free port)")
	flagenv.Duration(fs, &o.progress, "progress", 10*time.Second, "how often progress is printed (0: never)")
	o.feed = feed.DefaultConfig()
	o.feed.RegisterFlags(fs)
	o.enricher = pipeline.DefaultEnricherConfig()
	o.enricher.RegisterFlags(fs, "enricher-")
	o.enricher.Bus.RegisterFlags(fs)
	o.sink = pipeline.DefaultSinkConfig()
	o.sink.RegisterFlags(fs, "sink-")
	o.store.RegisterFlags(fs)
	o.tagger.RegisterFlags(fs)
}

// validate fills the defaults that depend on --data and checks every flag.
func (o *options) validate() error {
	if o.data == "" {
		return flagenv.Invalid("data", o.data, "must not be empty")
	}
	if o.port < 0 || o.port > 65535 {
		return flagenv.Invalid("broker-port", o.port, "want 0 to 65535")
	}
	if o.progress < 0 {
		return flagenv.Invalid("progress", o.progress, "must not be negative")
	}
	if o.store.URL == "" {
		o.store.URL = "sqlite:" + filepath.Join(o.data, "newsflow.db")
	}
	if o.feed.StatePath == "" {
		o.feed.StatePath = filepath.Join(o.data, "state", "fetcher.db")
	}
	o.sink.Bus = o.enricher.Bus
	for _, check := range []func() error{
		o.common.Validate, o.feed.Validate, o.enricher.Bus.Validate, o.store.Validate,
		func() error { return o.enricher.Validate("enricher-") },
		func() error { return o.sink.Validate("sink-") },
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func runPipeline(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("newsflow run", flag.ContinueOnError)
	var o options
	o.register(fs)
	var tagger *pipeline.TaxonomyTagger
	bundled := func() error {
		if o.feed.FeedsPath != "" {
			return nil
		}
		// The bundled list of world-news and defence feeds, written to the
		// data folder so that the user can edit it.
		p := filepath.Join(o.data, "world-news.opml")
		o.feed.FeedsPath = p
		return feeds.WriteWorldNews(p)
	}
	build := func() (err error) { tagger, err = o.tagger.Build(); return err }
	if code, ok := flagenv.ParseArgs(fs, args, stderr, bundled, o.validate, build); !ok {
		return code
	}
	tel, err := o.common.Start("", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "newsflow run:", err)
		return 2
	}
	logger, reg, srv := tel.Logger, tel.Registry, tel.Server
	if err := os.MkdirAll(filepath.Dir(o.feed.StatePath), 0o755); err != nil {
		logger.Error("create state folder", "error", err)
		return 1
	}
	brokerDir := filepath.Join(o.data, "broker")
	fmt.Fprintf(stderr, "newsflow: monitoring %s; data in %s; metrics on %s\n", o.feed.FeedsPath, o.data, srv.Addr())
	p, err := startPipeline(context.Background(), o, brokerDir, tagger, logger, reg)
	if err != nil {
		logger.Error("start pipeline", "error", err)
		return 1
	}
	defer p.close()
	srv.AddReadyCheck("enricher", p.enricher.Ready)
	srv.AddReadyCheck("sink", p.sink.Ready)
	actors := append(p.actors(logger), tel.Actor())
	if o.progress > 0 {
		actors = append(actors, service.Actor{Name: "progress", Run: func(ctx context.Context) error {
			telemetry.ReportProgress(ctx, stderr, reg, progressItems, o.progress)
			return nil
		}})
	}
	err = service.Run(context.Background(), logger, o.common.ShutdownTimeout, actors...)
	fmt.Fprintf(stderr, "newsflow: stopped; %s\n", telemetry.ProgressLine(reg, progressItems))
	return service.ExitCode(err)
}

// progressItems are the figures of the progress line.
var progressItems = []telemetry.ProgressItem{
	{Label: "feeds polled", Metrics: []string{"newsflow_fetcher_polls_total"}},
	{Label: "poll errors", Metrics: []string{"newsflow_fetcher_polls_total"}, Match: "result", Values: []string{"ok", "not_modified"}, Exclude: true},
	{Label: "articles fetched", Metrics: []string{"newsflow_fetcher_articles_published_total"}},
	{Label: "enriched", Metrics: []string{"newsflow_enricher_articles_enriched_total"}},
	{Label: "stored", Metrics: []string{"newsflow_sink_articles_stored_total"}},
	{Label: "dead-lettered", Metrics: []string{"newsflow_enricher_dead_lettered_total", "newsflow_sink_dead_lettered_total"}},
}

// stages is the three stages wired on one broker and one store.
type stages struct {
	fetcher   *feed.Fetcher
	publisher *pipeline.Publisher
	enricher  *pipeline.Enricher
	sink      *pipeline.Sink
	store     store.Store
	km        *bus.Metrics
	stopKafka func()
}

// startPipeline starts (or connects to) Kafka, opens the store and wires the
// stages. brokerDir "" keeps the embedded broker in memory.
func startPipeline(ctx context.Context, o options, brokerDir string, tagger pipeline.Tagger, logger *slog.Logger, reg prometheus.Registerer) (*stages, error) {
	s := &stages{stopKafka: func() {}}
	var err error
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	s.store, err = o.store.Open(ctx, logger.With("stage", "sink"), reg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", store.Redact(o.store.URL), err)
	}
	s.stopKafka, err = pipeline.Kafka(ctx, &o.enricher.Bus, brokerDir, o.port, logger)
	if err != nil {
		return nil, err
	}
	o.sink.Bus = o.enricher.Bus
	if s.km, err = bus.NewMetrics("fetcher", reg); err != nil {
		return nil, err
	}
	if s.publisher, err = pipeline.NewPublisher(o.enricher.Bus, s.km, logger.With("stage", "fetcher")); err != nil {
		return nil, err
	}
	if s.fetcher, err = feed.New(o.feed, s.publisher, logger.With("stage", "fetcher"), reg); err != nil {
		return nil, err
	}
	if s.enricher, err = pipeline.NewEnricher(o.enricher, tagger, logger.With("stage", "enricher"), reg); err != nil {
		return nil, err
	}
	if s.sink, err = pipeline.NewSink(o.sink, s.store, logger.With("stage", "sink"), reg); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func (s *stages) actors(logger *slog.Logger) []service.Actor {
	return []service.Actor{
		pipeline.FetcherActor(s.fetcher, logger.With("stage", "fetcher")),
		{Name: "enricher", Run: s.enricher.Run},
		{Name: "sink", Run: s.sink.Run},
		{Name: "kafka metrics", Run: func(ctx context.Context) error { s.km.Run(ctx, 5*time.Second); return nil }},
	}
}

// close releases what startPipeline opened, in reverse order; the broker
// goes last so that the stages' final commits reach it.
func (s *stages) close() {
	if s.fetcher != nil {
		_ = s.fetcher.Close()
	}
	if s.publisher != nil {
		_ = s.publisher.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	s.stopKafka()
}
