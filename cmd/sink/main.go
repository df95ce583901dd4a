// Command sink consumes enriched articles and stores them in PostgreSQL or
// SQLite in batches, one transaction per batch, idempotently by article id.
// Kafka offsets are committed only after the transaction committed.
//
//	sink [run] --brokers kafka:9092 --store postgres://... [flags]
//	sink migrate --store URL     apply the schema migrations and exit
//
// Flags have NEWSFLOW_* environment defaults. While the database is down the
// sink retries, stops consuming and reports not-ready on /readyz. SIGINT or
// SIGTERM finish the batch in flight and exit 0.
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
	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/internal/telemetry"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "migrate":
			return runMigrate(args[1:], stdout, stderr)
		case "run":
			args = args[1:]
		}
	}
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common service.Flags
	common.Register(fs, ":9103")
	scfg := pipeline.DefaultSinkConfig()
	scfg.RegisterFlags(fs, "")
	scfg.Bus.RegisterFlags(fs)
	sflags := pipeline.StoreFlags{URL: "sqlite:newsflow.db"}
	sflags.RegisterFlags(fs)
	if err := flagenv.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "sink:", err)
		return 2
	}
	logger, err := common.Logger(stderr)
	for _, check := range []func() error{func() error { return scfg.Validate("") }, scfg.Bus.Validate, sflags.Validate} {
		if err == nil {
			err = check()
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "sink:", err)
		return 2
	}
	logger = logger.With("stage", "sink")
	ctx := context.Background()
	reg := telemetry.NewRegistry()
	srv, err := telemetry.NewServer(common.MetricsAddr, reg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "sink: invalid flag -metrics-addr:", err)
		return 2
	}
	if len(scfg.Bus.Brokers) == 0 {
		logger.Warn("no --brokers given: starting an in-memory embedded broker inside this process; only this process can use it")
	}
	// The database may come up after the sink: wait for it, but stop waiting
	// on SIGINT/SIGTERM.
	octx, cancel := service.SignalContext(ctx)
	st, err := sflags.Open(octx, logger, reg)
	cancel()
	if err != nil {
		logger.Error("open store", "store", store.Redact(sflags.URL), "error", err)
		return 1
	}
	defer st.Close()
	stopKafka, err := pipeline.Kafka(ctx, &scfg.Bus, "", 0, logger)
	if err != nil {
		logger.Error("kafka unavailable", "error", err)
		return 1
	}
	defer stopKafka()
	sink, err := pipeline.NewSink(scfg, st, logger, reg)
	if err != nil {
		logger.Error("start sink", "error", err)
		return 1
	}
	srv.AddReadyCheck("sink", sink.Ready)
	err = service.Run(ctx, logger, common.ShutdownTimeout,
		service.Actor{Name: "sink", Run: sink.Run},
		service.Actor{Name: "http server", Run: srv.Run},
	)
	return service.ExitCode(err)
}
