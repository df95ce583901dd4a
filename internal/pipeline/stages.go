package pipeline

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/feed"
	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/service"
	"github.com/newsflow/newsflow/internal/store"
)

// RegisterFlags binds the enricher stage flags; prefix distinguishes them
// when several stages share one flag set ("enricher-" in newsflow run).
func (c *EnricherConfig) RegisterFlags(fs *flag.FlagSet, prefix string) {
	flagenv.String(fs, &c.GroupID, prefix+"group", c.GroupID, "consumer group of the enricher")
	flagenv.Int(fs, &c.BatchSize, prefix+"batch-size", c.BatchSize, "raw articles per batch at most")
	flagenv.Duration(fs, &c.BatchWait, prefix+"batch-wait", c.BatchWait, "longest wait to fill a batch")
}

// DefaultEnricherConfig returns the enricher defaults: group
// newsflow-enricher, batches of up to 100 articles or 50 ms.
func DefaultEnricherConfig() EnricherConfig {
	return EnricherConfig{Bus: bus.DefaultConfig(), GroupID: "newsflow-enricher", BatchSize: 100, BatchWait: 50 * time.Millisecond}
}

// Validate checks the enricher stage flags.
func (c EnricherConfig) Validate(prefix string) error {
	switch {
	case c.GroupID == "":
		return flagenv.Invalid(prefix+"group", c.GroupID, "must not be empty")
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return flagenv.Invalid(prefix+"batch-size", c.BatchSize, "want 1 to 10000")
	case c.BatchWait < 0 || c.BatchWait > time.Minute:
		return flagenv.Invalid(prefix+"batch-wait", c.BatchWait, "want 0 to 1m")
	}
	return nil
}

// DefaultSinkConfig returns the sink defaults: group newsflow-sink, one
// consumer, batches of up to 1,000 articles or 200 ms.
func DefaultSinkConfig() SinkConfig {
	return SinkConfig{Bus: bus.DefaultConfig(), GroupID: "newsflow-sink", Consumers: 1, BatchSize: 1000,
		BatchWait: 200 * time.Millisecond, RetryMax: 30 * time.Second}
}

// RegisterFlags binds the sink stage flags (see EnricherConfig.RegisterFlags).
func (c *SinkConfig) RegisterFlags(fs *flag.FlagSet, prefix string) {
	flagenv.String(fs, &c.GroupID, prefix+"group", c.GroupID, "consumer group of the sink")
	flagenv.Int(fs, &c.Consumers, prefix+"consumers", c.Consumers,
		"members of the consumer group in this process, each writing its own batches (about one PostgreSQL core each)")
	flagenv.Int(fs, &c.BatchSize, prefix+"batch-size", c.BatchSize, "articles per database transaction at most")
	flagenv.Duration(fs, &c.BatchWait, prefix+"batch-wait", c.BatchWait, "longest wait to fill a batch")
	flagenv.Duration(fs, &c.RetryMax, prefix+"retry-max", c.RetryMax, "longest wait between retries while the database fails")
}

// Validate checks the sink stage flags.
func (c SinkConfig) Validate(prefix string) error {
	switch {
	case c.GroupID == "":
		return flagenv.Invalid(prefix+"group", c.GroupID, "must not be empty")
	case c.Consumers < 1 || c.Consumers > 64:
		return flagenv.Invalid(prefix+"consumers", c.Consumers, "want 1 to 64")
	case c.BatchSize < 1 || c.BatchSize > 50000:
		return flagenv.Invalid(prefix+"batch-size", c.BatchSize, "want 1 to 50000")
	case c.BatchWait < 0 || c.BatchWait > time.Minute:
		return flagenv.Invalid(prefix+"batch-wait", c.BatchWait, "want 0 to 1m")
	case c.RetryMax < 100*time.Millisecond:
		return flagenv.Invalid(prefix+"retry-max", c.RetryMax, "want at least 100ms")
	}
	return nil
}

// StoreFlags are the storage flags of the sink and of newsflow run.
type StoreFlags struct {
	URL       string
	Retention time.Duration
	MaxConns  int
}

// RegisterFlags binds --store, --retention and --db-max-conns.
func (s *StoreFlags) RegisterFlags(fs *flag.FlagSet) {
	flagenv.String(fs, &s.URL, "store", s.URL, "where articles go: sqlite:PATH or postgres://user@host/db?sslmode=...")
	flagenv.Duration(fs, &s.Retention, "retention", s.Retention, "delete articles older than this in the background (0: keep everything), e.g. 2160h for 90 days")
	flagenv.Int(fs, &s.MaxConns, "db-max-conns", s.MaxConns, "database connections at most (0: default)")
}

// Validate checks the storage flags.
func (s *StoreFlags) Validate() error {
	switch {
	case s.URL == "":
		return flagenv.Invalid("store", s.URL, "want sqlite:PATH or postgres://...")
	case s.Retention < 0:
		return flagenv.Invalid("retention", s.Retention, "must not be negative")
	case s.MaxConns < 0:
		return flagenv.Invalid("db-max-conns", s.MaxConns, "must not be negative")
	}
	return nil
}

// Open opens the store, retrying while the database is unreachable until ctx
// is done, so that a sink started before its database waits for it.
func (s StoreFlags) Open(ctx context.Context, logger *slog.Logger, reg prometheus.Registerer) (store.Store, error) {
	for attempt := 0; ; attempt++ {
		st, err := store.Open(ctx, s.URL, store.Options{Logger: logger, Registerer: reg, Retention: s.Retention, MaxConns: s.MaxConns})
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil || !isUnavailable(err) {
			return nil, err
		}
		logger.Warn("database not reachable yet, retrying", slog.String("store", store.Redact(s.URL)), slog.Any("error", err))
		if !bus.Sleep(ctx, bus.Backoff(attempt, 10*time.Second)) {
			return nil, err
		}
	}
}

func isUnavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable)
}

// Kafka connects to the configured brokers or, when none are configured,
// starts an embedded broker (its log in dataDir when not empty) and points c
// at it. It then creates missing topics. The returned stop function closes
// the embedded broker, if one was started; call it after the stages stopped.
func Kafka(ctx context.Context, c *bus.Config, dataDir string, port int, logger *slog.Logger) (stop func(), err error) {
	stop = func() {}
	if len(c.Brokers) == 0 {
		e, err := bus.StartEmbedded(bus.EmbeddedOptions{DataDir: dataDir, Port: port, Partitions: c.Partitions, Logger: logger})
		if err != nil {
			return stop, err
		}
		c.Brokers = e.Addrs()
		stop = e.Close
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := bus.EnsureTopicsLogged(tctx, *c, logger); err != nil {
		stop()
		return func() {}, err
	}
	return stop, nil
}

// ServiceKafka is Kafka for a single-stage service: the configured brokers,
// or, with none, an in-memory embedded broker that only this process can use
// (said in a warning).
func ServiceKafka(ctx context.Context, c *bus.Config, logger *slog.Logger) (stop func(), err error) {
	if len(c.Brokers) == 0 {
		logger.Warn("no --brokers given: starting an in-memory embedded broker inside this process; only this process can use it")
	}
	return Kafka(ctx, c, "", 0, logger)
}

// FetcherActor returns the fetcher as a service actor, with SIGHUP reloading
// the feed list.
func FetcherActor(f *feed.Fetcher, logger *slog.Logger) service.Actor {
	return service.Actor{Name: "fetcher", Run: func(ctx context.Context) error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					if err := f.Reload(); err != nil {
						logger.Error("reload feed list failed", slog.Any("error", err))
					} else {
						logger.Info("feed list reloaded")
					}
				}
			}
		}()
		return f.Run(ctx)
	}}
}
