package store

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// startRetention runs deleteOlder(now - retention) at once and then every
// interval, until the returned stop function is called; stop waits for a run
// in progress to end (it cancels it).
func startRetention(log *slog.Logger, m *metrics, retention, interval time.Duration,
	deleteOlder func(context.Context, time.Time) (int, error)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			cutoff := time.Now().Add(-retention)
			n, err := deleteOlder(ctx, cutoff)
			m.retentionRows.Add(float64(n))
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("retention run failed", slog.Time("cutoff", cutoff), slog.Int("deleted", n), slog.Any("error", err))
			default:
				m.retentionLast.SetToCurrentTime()
				if n > 0 {
					log.Info("retention deleted old articles", slog.Time("cutoff", cutoff), slog.Int("deleted", n))
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}
