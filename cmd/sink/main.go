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
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/service"
	"github.com/newsflow/newsflow/internal/store"
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
	var common service.Flags
	common.Register(fs, ":9103")
	scfg := pipeline.DefaultSinkConfig()
	scfg.RegisterFlags(fs, "")
	scfg.Bus.RegisterFlags(fs)
	sflags := pipeline.StoreFlags{URL: "sqlite:newsflow.db"}
	sflags.RegisterFlags(fs)
	if code, ok := flagenv.ParseArgs(fs, args, stderr, common.Validate, func() error { return scfg.Validate("") }, scfg.Bus.Validate, sflags.Validate); !ok {
		return code
	}
	tel, err := common.Start("sink", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sink:", err)
		return 2
	}
	logger := tel.Logger
	ctx := context.Background()
	// The database may come up after the sink: wait for it, but stop waiting
	// on SIGINT/SIGTERM.
	octx, cancel := service.SignalContext(ctx)
	st, err := sflags.Open(octx, logger, tel.Registry)
	cancel()
	if err != nil {
		logger.Error("open store", "store", store.Redact(sflags.URL), "error", err)
		return 1
	}
	defer st.Close()
	stopKafka, err := pipeline.ServiceKafka(ctx, &scfg.Bus, logger)
	if err != nil {
		logger.Error("kafka unavailable", "error", err)
		return 1
	}
	defer stopKafka()
	sink, err := pipeline.NewSink(scfg, st, logger, tel.Registry)
	if err != nil {
		logger.Error("start sink", "error", err)
		return 1
	}
	tel.Server.AddReadyCheck("sink", sink.Ready)
	err = service.Run(ctx, logger, common.ShutdownTimeout,
		service.Actor{Name: "sink", Run: sink.Run},
		tel.Actor(),
	)
	return service.ExitCode(err)
}
