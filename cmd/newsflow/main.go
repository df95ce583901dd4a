// Command newsflow runs the whole pipeline in one process on an embedded
// Kafka-protocol broker and SQLite, and reads what it stored.
//
//	newsflow run [--feeds FILE] [--data DIR] [--store URL] [--brokers LIST]   monitor feeds
//	newsflow demo [--db PATH] [--metrics-out FILE]                           run on bundled sample feeds, print, exit
//	newsflow articles [--country KP] [--topic arms_trade] [--since 24h] ...  list stored articles
//	newsflow broker [--port 9092] [--data DIR]                               only the embedded broker, for separate services
//
// Flags have NEWSFLOW_* environment defaults; a bad value exits 2 naming the
// flag. SIGINT or SIGTERM stop every stage gracefully and exit 0.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `newsflow: news monitoring pipeline (fetcher -> Kafka -> enricher -> sink)

Usage:
  newsflow run [flags]        monitor feeds with all stages in one process
  newsflow demo [flags]       run the pipeline on bundled sample feeds and print what was stored
  newsflow articles [flags]   list stored articles with their tags
  newsflow broker [flags]     run only the embedded Kafka-protocol broker

Run "newsflow COMMAND -h" for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runPipeline(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "articles":
		return runArticles(args[1:], stdout, stderr)
	case "broker":
		return runBroker(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "newsflow: unknown command %q\n\n%s", args[0], usage)
	return 2
}
