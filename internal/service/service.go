// Package service is the frame every newsflow command runs in: common flags
// (metrics address, log level and format), and a group of actors (the stage
// loops, the HTTP server, signal handling) run until the first one returns,
// after which the rest are stopped, each logged as "stopping X" / "X stopped",
// within a hard deadline.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/telemetry"
)

// Flags are the flags every service has.
type Flags struct {
	MetricsAddr     string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
}

// Register binds the common flags; defaultAddr is the service's default
// metrics address.
func (f *Flags) Register(fs *flag.FlagSet, defaultAddr string) {
	flagenv.String(fs, &f.MetricsAddr, "metrics-addr", defaultAddr, "address of the /metrics, /healthz and /readyz server (empty: none)")
	flagenv.String(fs, &f.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	flagenv.String(fs, &f.LogFormat, "log-format", "text", "log format: text or json")
	flagenv.Duration(fs, &f.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "hard deadline for a graceful shutdown")
}

// Validate checks the common flags; errors name the flag.
func (f *Flags) Validate() error {
	if f.ShutdownTimeout <= 0 {
		return flagenv.Invalid("shutdown-timeout", f.ShutdownTimeout, "must be positive")
	}
	if _, err := telemetry.NewLogger(io.Discard, f.LogLevel, f.LogFormat); err != nil {
		return fmt.Errorf("invalid flag -log-level or -log-format: %w", err)
	}
	return nil
}

// Logger returns the logger the flags describe, writing to w.
func (f *Flags) Logger(w io.Writer) (*slog.Logger, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return telemetry.NewLogger(w, f.LogLevel, f.LogFormat)
}

// Telemetry is what every service process has: a logger, the registry its
// components register on, and the /metrics /healthz /readyz server.
type Telemetry struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Server   *telemetry.Server
}

// Start builds the service's telemetry from the validated flags; stage is
// the logger's stage attribute ("" for none). The error (a busy or bad
// -metrics-addr) names the flag.
func (f *Flags) Start(stage string, w io.Writer) (Telemetry, error) {
	logger, err := f.Logger(w)
	if err != nil {
		return Telemetry{}, err
	}
	if stage != "" {
		logger = logger.With("stage", stage)
	}
	reg := telemetry.NewRegistry()
	srv, err := telemetry.NewServer(f.MetricsAddr, reg, logger)
	if err != nil {
		return Telemetry{}, fmt.Errorf("invalid flag -metrics-addr: %w", err)
	}
	return Telemetry{Logger: logger, Registry: reg, Server: srv}, nil
}

// Actor returns the HTTP server as an actor.
func (t Telemetry) Actor() Actor {
	return Actor{Name: "http server", Run: t.Server.Run}
}

// Actor is one long-running part of a service. Run returns when ctx is done
// (nil) or when the actor fails.
type Actor struct {
	Name string
	Run  func(ctx context.Context) error
}

// ErrShutdownTimeout is returned when actors did not stop within the deadline.
var ErrShutdownTimeout = errors.New("shutdown deadline passed")

// Run runs the actors and a signal handler (SIGINT, SIGTERM) until the first
// actor returns or a signal arrives, then stops the others. It returns nil
// after a signal or a clean stop, the first actor's error otherwise, and
// ErrShutdownTimeout when the others do not stop within timeout.
func Run(ctx context.Context, logger *slog.Logger, timeout time.Duration, actors ...Actor) error {
	var g run.Group
	sigctx, sigcancel := context.WithCancel(ctx)
	defer sigcancel()
	g.Add(func() error {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(c)
		select {
		case s := <-c:
			logger.Info("received signal, shutting down", slog.String("signal", s.String()))
			return nil
		case <-sigctx.Done():
			return nil
		}
	}, func(error) { sigcancel() })

	stopped := make(chan struct{})
	var deadline = make(chan struct{}, 1)
	for _, a := range actors {
		actx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			err := a.Run(actx)
			if err != nil && !errors.Is(err, context.Canceled) {
				logger.Error(a.Name+" failed", slog.Any("error", err))
				return fmt.Errorf("%s: %w", a.Name, err)
			}
			logger.Info(a.Name + " stopped")
			return nil
		}, func(error) {
			select {
			case deadline <- struct{}{}:
				go func() {
					select {
					case <-stopped:
					case <-time.After(timeout):
						logger.Error("shutdown deadline passed, exiting", slog.Duration("timeout", timeout))
						os.Exit(1)
					}
				}()
			default:
			}
			if actx.Err() == nil {
				logger.Info("stopping " + a.Name)
			}
			cancel()
		})
	}
	err := g.Run()
	close(stopped)
	return err
}

// ExitCode maps Run's error to a process exit code: 0 for a clean stop, 1
// otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	return 1
}

// SignalContext returns a context cancelled on SIGINT or SIGTERM, for the
// start-up phase before Run takes over signal handling.
func SignalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
}
