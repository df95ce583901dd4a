package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyFunc reports whether a component can do its work now; a non-nil error
// says why not. It must return quickly.
type ReadyFunc func() error

// Server serves /metrics (the registry passed in), /healthz (200 while the
// process runs) and /readyz (200 when every ReadyFunc returns nil, 503 with the
// reasons otherwise, and 503 once shutdown has begun).
type Server struct {
	srv      *http.Server
	ln       net.Listener
	logger   *slog.Logger
	checks   []namedCheck
	stopping atomic.Bool
}

type namedCheck struct {
	name string
	fn   ReadyFunc
}

// NewServer listens on addr at once (so that a bad or busy address fails at
// start) and returns a server ready to Run. addr "" means no server: Run then
// blocks until ctx is done.
func NewServer(addr string, g prometheus.Gatherer, logger *slog.Logger) (*Server, error) {
	s := &Server{logger: logger}
	if addr == "" {
		return s, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", s.ready)
	s.ln = ln
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// AddReadyCheck adds a readiness check; call before Run.
func (s *Server) AddReadyCheck(name string, fn ReadyFunc) {
	s.checks = append(s.checks, namedCheck{name, fn})
}

// Addr returns the address the server listens on, or "" when it has none.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if s.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	var msg string
	for _, c := range s.checks {
		if err := c.fn(); err != nil {
			msg += c.name + ": " + err.Error() + "\n"
		}
	}
	if msg != "" {
		http.Error(w, msg, http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Run serves until ctx is done, then flips readiness to not-ready and shuts the
// server down within 5 s.
func (s *Server) Run(ctx context.Context) error {
	if s.srv == nil {
		<-ctx.Done()
		return nil
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.logger.Info("serving metrics and health", slog.String("addr", s.Addr()))
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	<-errc
	return nil
}
