package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/service"
)

// runBroker runs only the embedded Kafka-protocol broker, so that fetcher,
// enricher and sink can run as separate processes without Apache Kafka.
func runBroker(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("newsflow broker", flag.ContinueOnError)
	var common service.Flags
	common.Register(fs, "")
	var port int
	var data string
	flagenv.Int(fs, &port, "broker-port", 9092, "loopback port to listen on")
	flagenv.String(fs, &data, "data", "newsflow-data/broker", "folder of the broker's log (empty: in memory)")
	portRange := func() error {
		if port < 1 || port > 65535 {
			return flagenv.Invalid("broker-port", port, "want 1 to 65535")
		}
		return nil
	}
	if code, ok := flagenv.ParseArgs(fs, args, stderr, common.Validate, portRange); !ok {
		return code
	}
	tel, err := common.Start("", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "newsflow broker:", err)
		return 2
	}
	logger := tel.Logger
	b, err := bus.StartEmbedded(bus.EmbeddedOptions{DataDir: data, Port: port, Partitions: 3, Logger: logger})
	if err != nil {
		logger.Error("start broker", "error", err)
		return 1
	}
	defer b.Close()
	fmt.Fprintf(stdout, "NEWSFLOW_BROKERS=%s\n", b.Addrs()[0])
	err = service.Run(context.Background(), logger, common.ShutdownTimeout, tel.Actor())
	return service.ExitCode(err)
}
