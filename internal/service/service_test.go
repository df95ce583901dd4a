package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsflow/newsflow/internal/service"
)

func TestRunStopsTheRest(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	boom := errors.New("boom")
	stopped := make(chan string, 3)
	wait := func(name string) service.Actor {
		return service.Actor{Name: name, Run: func(ctx context.Context) error {
			<-ctx.Done()
			stopped <- name
			return nil
		}}
	}
	tests := []struct {
		name    string
		first   func(ctx context.Context) error
		wantErr error
	}{
		{"clean return", func(context.Context) error { return nil }, nil},
		{"failure", func(context.Context) error { return boom }, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := service.Run(context.Background(), logger, 5*time.Second,
				service.Actor{Name: "first", Run: tc.first}, wait("second"), wait("third"))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tc.wantErr)
			}
			got := map[string]bool{<-stopped: true, <-stopped: true}
			if !got["second"] || !got["third"] {
				t.Errorf("stopped %v, want second and third", got)
			}
			if service.ExitCode(err) != map[bool]int{true: 0, false: 1}[tc.wantErr == nil] {
				t.Errorf("ExitCode(%v) = %d", err, service.ExitCode(err))
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"stopping second", "second stopped", "first failed"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
