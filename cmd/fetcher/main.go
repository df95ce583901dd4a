// Command fetcher polls RSS, Atom and JSON feeds and publishes each new or
// changed item to Kafka as a RawArticle (topic newsflow.articles.raw).
//
//	fetcher --feeds feeds.yaml --brokers kafka:9092 [flags]
//	fetcher export-opml --feeds feeds.yaml > feeds.opml
//
// Flags have NEWSFLOW_* environment defaults (fetcher -h lists them). A bad
// value exits 2 naming the flag. SIGHUP reloads the feed list; SIGINT or
// SIGTERM stop polling, let in-flight publishes finish and exit 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/feed"
	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/service"
	"github.com/newsflow/newsflow/internal/telemetry"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "export-opml" {
		return runExportOPML(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("fetcher", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common service.Flags
	common.Register(fs, ":9101")
	fcfg := feed.DefaultConfig()
	fcfg.StatePath = "fetcher-state.db"
	fcfg.RegisterFlags(fs)
	bcfg := bus.DefaultConfig()
	bcfg.RegisterFlags(fs)
	if err := flagenv.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "fetcher:", err)
		return 2
	}
	logger, err := common.Logger(stderr)
	if err == nil {
		err = fcfg.Validate()
	}
	if err == nil {
		err = bcfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, "fetcher:", err)
		return 2
	}
	logger = logger.With("stage", "fetcher")
	ctx := context.Background()
	reg := telemetry.NewRegistry()
	srv, err := telemetry.NewServer(common.MetricsAddr, reg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "fetcher: invalid flag -metrics-addr:", err)
		return 2
	}
	if len(bcfg.Brokers) == 0 {
		logger.Warn("no --brokers given: starting an in-memory embedded broker inside this process; only this process can use it")
	}
	stopKafka, err := pipeline.Kafka(ctx, &bcfg, "", 0, logger)
	if err != nil {
		logger.Error("kafka unavailable", "error", err)
		return 1
	}
	defer stopKafka()
	km, err := bus.NewMetrics("fetcher", reg)
	if err != nil {
		logger.Error("metrics", "error", err)
		return 1
	}
	pub, err := pipeline.NewPublisher(bcfg, km, logger)
	if err != nil {
		logger.Error("kafka publisher", "error", err)
		return 1
	}
	defer pub.Close()
	f, err := feed.New(fcfg, pub, logger, reg)
	if err != nil {
		logger.Error("start fetcher", "error", err)
		return 1
	}
	defer f.Close()
	srv.AddReadyCheck("fetcher", func() error {
		if !f.Ready() {
			return errors.New("not ready")
		}
		return nil
	})
	err = service.Run(ctx, logger, common.ShutdownTimeout,
		pipeline.FetcherActor(f, logger),
		service.Actor{Name: "http server", Run: srv.Run},
		service.Actor{Name: "kafka metrics", Run: func(ctx context.Context) error { km.Run(ctx, 5*time.Second); return nil }},
	)
	return service.ExitCode(err)
}
