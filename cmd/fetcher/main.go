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
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "export-opml" {
		return runExportOPML(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("fetcher", flag.ContinueOnError)
	var common service.Flags
	common.Register(fs, ":9101")
	fcfg := feed.DefaultConfig()
	fcfg.StatePath = "fetcher-state.db"
	fcfg.RegisterFlags(fs)
	bcfg := bus.DefaultConfig()
	bcfg.RegisterFlags(fs)
	if code, ok := flagenv.ParseArgs(fs, args, stderr, common.Validate, fcfg.Validate, bcfg.Validate); !ok {
		return code
	}
	tel, err := common.Start("fetcher", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "fetcher:", err)
		return 2
	}
	logger := tel.Logger
	ctx := context.Background()
	stopKafka, err := pipeline.ServiceKafka(ctx, &bcfg, logger)
	if err != nil {
		logger.Error("kafka unavailable", "error", err)
		return 1
	}
	defer stopKafka()
	km, err := bus.NewMetrics("fetcher", tel.Registry)
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
	f, err := feed.New(fcfg, pub, logger, tel.Registry)
	if err != nil {
		logger.Error("start fetcher", "error", err)
		return 1
	}
	defer f.Close()
	tel.Server.AddReadyCheck("fetcher", func() error {
		if !f.Ready() {
			return errors.New("not ready")
		}
		return nil
	})
	err = service.Run(ctx, logger, common.ShutdownTimeout,
		pipeline.FetcherActor(f, logger),
		tel.Actor(),
		service.Actor{Name: "kafka metrics", Run: func(ctx context.Context) error { km.Run(ctx, 5*time.Second); return nil }},
	)
	return service.ExitCode(err)
}
