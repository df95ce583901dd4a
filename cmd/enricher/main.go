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
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/service"
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
	var common service.Flags
	common.Register(fs, ":9102")
	ecfg := pipeline.DefaultEnricherConfig()
	ecfg.RegisterFlags(fs, "")
	ecfg.Bus.RegisterFlags(fs)
	var tflags pipeline.TaggerFlags
	tflags.RegisterFlags(fs)
	var tagger *pipeline.TaxonomyTagger
	build := func() (err error) { tagger, err = tflags.Build(); return err }
	if code, ok := flagenv.ParseArgs(fs, args, stderr, common.Validate, func() error { return ecfg.Validate("") }, ecfg.Bus.Validate, build); !ok {
		return code
	}
	tel, err := common.Start("enricher", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "enricher:", err)
		return 2
	}
	logger := tel.Logger
	ctx := context.Background()
	stopKafka, err := pipeline.ServiceKafka(ctx, &ecfg.Bus, logger)
	if err != nil {
		logger.Error("kafka unavailable", "error", err)
		return 1
	}
	defer stopKafka()
	st, err := pipeline.NewEnricher(ecfg, tagger, logger, tel.Registry)
	if err != nil {
		logger.Error("start enricher", "error", err)
		return 1
	}
	tel.Server.AddReadyCheck("enricher", st.Ready)
	err = service.Run(ctx, logger, common.ShutdownTimeout,
		service.Actor{Name: "enricher", Run: st.Run},
		tel.Actor(),
	)
	return service.ExitCode(err)
}
