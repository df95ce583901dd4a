// Package feed polls RSS, Atom and JSON feeds and publishes each new or
// changed item: at least once, and once in the normal case, since an item is
// marked seen only after the broker acknowledged it (see Publisher).
//
// The HTTP is the fetcher's own (conditional GET, decompression with a size
// cap, timeouts, redirects, a private-network guard at dial time); parsing is
// gofeed's. Each feed has its own schedule (interval, server hints, jitter,
// backoff on failure) and health; a global worker limit and a per-host limit
// keep it polite. What was published, the HTTP validators, the schedule and
// the health persist in a state store (package state), so a restart neither
// republishes nor misses anything.
package feed

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/internal/feed/state"
	"github.com/newsflow/newsflow/pkg/events"
)

// Publisher publishes articles to Kafka. Publish returns nil only once every
// article is acknowledged by the broker (all in-sync replicas); on error
// nothing may be assumed published. It is called from many polls at once and
// must be safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, articles []events.RawArticle) error
}

// Fetcher polls the feeds of a feed list until its Run's context ends.
type Fetcher struct {
	cfg   Config
	pub   Publisher
	log   *slog.Logger
	m     *metrics
	store *state.Store
	http  *client
	ft    *fullText

	ready atomic.Bool

	mu      sync.Mutex // guards pending, listSig
	pending *reload
	listSig string
	notify  chan struct{} // a reload is pending
}

// reload is a new feed list with the stored state of its feeds.
type reload struct {
	list   List
	states map[string]state.Feed
}

// New checks cfg, opens the state store and reads the feed list. The caller
// must Close the Fetcher.
func New(cfg Config, pub Publisher, logger *slog.Logger, reg prometheus.Registerer) (*Fetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, errors.New("new fetcher: nil publisher")
	}
	cfg = cfg.effective()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	st, err := state.Open(cfg.StatePath)
	if err != nil {
		return nil, fmt.Errorf("new fetcher: %w", err)
	}
	f := &Fetcher{
		cfg:    cfg,
		pub:    pub,
		log:    logger,
		m:      m,
		store:  st,
		http:   newClient(cfg),
		notify: make(chan struct{}, 1),
	}
	f.ft = newFullText(cfg, f.http, m)
	if err := f.Reload(); err != nil {
		st.Close()
		return nil, err
	}
	return f, nil
}

// Close releases the state store and idle connections. Call it after Run
// returned.
func (f *Fetcher) Close() error {
	f.http.close()
	return f.store.Close()
}

// Ready reports whether Run has loaded the state and is scheduling polls.
func (f *Fetcher) Ready() bool { return f.ready.Load() }

// Reload reads the feed list again and hands it to the running scheduler:
// new feeds are scheduled, removed feeds stop, unchanged feeds keep their
// schedule (they are not polled again because of the reload). On error the
// previous list stays in force.
func (f *Fetcher) Reload() error {
	b, err := os.ReadFile(f.cfg.FeedsPath)
	if err != nil {
		f.m.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("reload feed list: %w", err)
	}
	return f.reloadBytes(b)
}

func (f *Fetcher) reloadBytes(b []byte) error {
	l, err := ParseList(fileExt(f.cfg.FeedsPath), b)
	if err != nil {
		f.m.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("reload feed list %s: %w", f.cfg.FeedsPath, err)
	}
	states, err := f.store.Feeds(context.Background())
	if err != nil {
		f.m.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("reload feed list: %w", err)
	}
	sum := sha256.Sum256(b)
	f.mu.Lock()
	f.pending = &reload{list: l, states: states}
	f.listSig = string(sum[:])
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
	f.m.reloads.WithLabelValues("ok").Inc()
	f.m.feedsConfigured.Set(float64(len(l.Feeds)))
	return nil
}

func fileExt(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i:]
	}
	return ""
}

// watch reloads the list when the file's content changes.
func (f *Fetcher) watch(ctx context.Context) {
	if f.cfg.ReloadCheck <= 0 {
		return
	}
	t := time.NewTicker(f.cfg.ReloadCheck)
	defer t.Stop()
	var lastMod time.Time
	var lastSize int64 = -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Stat(f.cfg.FeedsPath)
		if err != nil {
			continue
		}
		if st.ModTime().Equal(lastMod) && st.Size() == lastSize {
			continue
		}
		lastMod, lastSize = st.ModTime(), st.Size()
		b, err := os.ReadFile(f.cfg.FeedsPath)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		f.mu.Lock()
		same := f.listSig == string(sum[:])
		f.mu.Unlock()
		if same {
			continue
		}
		if err := f.reloadBytes(b); err != nil {
			f.log.Error("feed list changed but does not load; keeping the previous list", "path", f.cfg.FeedsPath, "error", err)
			f.mu.Lock()
			f.listSig = string(sum[:]) // do not log the same bad file again
			f.mu.Unlock()
			continue
		}
		f.log.Info("feed list changed, reloaded", "path", f.cfg.FeedsPath)
	}
}

// FeedStatus is the persisted health of one feed.
type FeedStatus struct {
	URL string
	// CurrentURL is where the feed lives after permanent redirects.
	CurrentURL string
	// Health is HealthNew, HealthOK or HealthFailing.
	Health string
	// LastError is the Class of the last failure, empty when healthy.
	LastError           Class
	LastErrorText       string
	ConsecutiveFailures int
	FailingSince        time.Time
	LastPoll            time.Time
	LastSuccess         time.Time
	NextPoll            time.Time
}

// Status returns the health of every feed of the current list, as last
// saved, in list order.
func (f *Fetcher) Status(ctx context.Context) ([]FeedStatus, error) {
	l, err := LoadList(f.cfg.FeedsPath)
	if err != nil {
		return nil, err
	}
	states, err := f.store.Feeds(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]FeedStatus, 0, len(l.Feeds))
	for _, src := range l.Feeds {
		st := states[src.URL]
		out = append(out, FeedStatus{URL: src.URL, CurrentURL: firstNonEmpty(st.CurrentURL, src.URL), Health: healthOf(st),
			LastError: Class(st.LastError), LastErrorText: st.LastErrorText, ConsecutiveFailures: st.ConsecutiveFailures,
			FailingSince: st.FailingSince, LastPoll: st.LastPoll, LastSuccess: st.LastSuccess, NextPoll: st.NextPoll})
	}
	return out, nil
}
