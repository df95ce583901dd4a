// Command enricher consumes raw articles, tags the countries, people,
// organizations and topics each is about, with scores and evidence spans,
// and publishes enriched articles (topic newsflow.articles.enriched).
// Messages that cannot be processed go to the dead-letter topic with the
// reason.
//
//	enricher [run] --brokers kafka:9092 [flags]   the stream service
//	enricher tag [--taxonomy FILE] [--explain]    offline: RawArticle JSON Lines on stdin, EnrichedArticle JSON Lines on stdout
//	enricher taxonomy --print | --check FILE      show or validate a topic taxonomy
//
// Flags have NEWSFLOW_* environment defaults. SIGINT or SIGTERM finish the
// batch in flight, commit it and exit 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/service"
	"github.com/newsflow/newsflow/internal/telemetry"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "tag":
			return runTag(args[1:], stdin, stdout, stderr)
		case "taxonomy":
			return runTaxonomy(args[1:], stdout, stderr)
		case "run":
			args = args[1:]
		}
	}
	fs := flag.NewFlagSet("enricher", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common service.Flags
	common.Register(fs, ":9102")
	ecfg := pipeline.DefaultEnricherConfig()
	ecfg.RegisterFlags(fs, "")
	ecfg.Bus.RegisterFlags(fs)
	var tflags pipeline.TaggerFlags
	tflags.RegisterFlags(fs)
	if err := flagenv.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "enricher:", err)
		return 2
	}
	logger, err := common.Logger(stderr)
	if err == nil {
		err = ecfg.Validate("")
	}
	if err == nil {
		err = ecfg.Bus.Validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, "enricher:", err)
		return 2
	}
	tagger, err := tflags.Build()
	if err != nil {
		fmt.Fprintln(stderr, "enricher:", err)
		return 2
	}
	logger = logger.With("stage", "enricher")
	ctx := context.Background()
	reg := telemetry.NewRegistry()
	srv, err := telemetry.NewServer(common.MetricsAddr, reg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "enricher: invalid flag -metrics-addr:", err)
		return 2
	}
	if len(ecfg.Bus.Brokers) == 0 {
		logger.Warn("no --brokers given: starting an in-memory embedded broker inside this process; only this process can use it")
	}
	stopKafka, err := pipeline.Kafka(ctx, &ecfg.Bus, "", 0, logger)
	if err != nil {
		logger.Error("kafka unavailable", "error", err)
		return 1
	}
	defer stopKafka()
	st, err := pipeline.NewEnricher(ecfg, tagger, logger, reg)
	if err != nil {
		logger.Error("start enricher", "error", err)
		return 1
	}
	srv.AddReadyCheck("enricher", st.Ready)
	err = service.Run(ctx, logger, common.ShutdownTimeout,
		service.Actor{Name: "enricher", Run: st.Run},
		service.Actor{Name: "http server", Run: srv.Run},
	)
	return service.ExitCode(err)
}
