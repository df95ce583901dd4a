package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/store"
)

// runMigrate applies the embedded schema migrations to the store and exits:
// 0 when the schema is up to date (also when it already was), 1 when the
// database cannot be reached or a migration fails, 2 on a bad flag. It is
// safe to run while sinks run and from several places at once (PostgreSQL
// serialises migrations with an advisory lock).
func runMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sink migrate", flag.ContinueOnError)
	var url string
	var timeout time.Duration
	flagenv.String(fs, &url, "store", "sqlite:newsflow.db", "the database to migrate: sqlite:PATH or postgres://user@host/db?sslmode=...")
	flagenv.Duration(fs, &timeout, "migrate-timeout", 5*time.Minute, "give up when the migrations have not finished by then")
	required := func() error {
		if url == "" {
			return flagenv.Invalid("store", url, "want sqlite:PATH or postgres://...")
		}
		return nil
	}
	if code, ok := flagenv.ParseArgs(fs, args, stderr, required); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("stage", "sink")
	st, err := store.Open(ctx, url, store.Options{Logger: logger, NoMigrate: true, MaxConns: 1})
	if err != nil {
		fmt.Fprintln(stderr, "sink migrate:", err)
		return 1
	}
	defer st.Close()
	before, latest, err := store.SchemaVersion(ctx, st)
	if err != nil {
		fmt.Fprintln(stderr, "sink migrate:", err)
		return 1
	}
	if before > latest {
		fmt.Fprintf(stderr, "sink migrate: %s has schema version %d, newer than this build's %d: upgrade newsflow\n", store.Redact(url), before, latest)
		return 1
	}
	if err := st.Migrate(ctx); err != nil {
		fmt.Fprintln(stderr, "sink migrate:", err)
		return 1
	}
	after, _, err := store.SchemaVersion(ctx, st)
	if err != nil {
		fmt.Fprintln(stderr, "sink migrate:", err)
		return 1
	}
	if after == before {
		fmt.Fprintf(stdout, "%s: schema already at version %d\n", store.Redact(url), after)
	} else {
		fmt.Fprintf(stdout, "%s: schema migrated from version %d to %d\n", store.Redact(url), before, after)
	}
	return 0
}
