package feed

import (
	"container/heap"
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/newsflow/newsflow/internal/feed/state"
)

// feedRun is the scheduler's record of one feed. Only the scheduler
// goroutine touches it.
type feedRun struct {
	key      string // listKey of src.URL
	src      Source
	st       state.Feed
	due      time.Time
	index    int // in the heap, -1 when not there
	inFlight bool
	removed  bool
	health   string
}

func (r *feedRun) url() string { return firstNonEmpty(r.st.CurrentURL, r.src.URL) }

func (r *feedRun) host() string {
	u, err := url.Parse(r.url())
	if err != nil || u.Host == "" {
		return "file"
	}
	return strings.ToLower(u.Hostname())
}

type dueHeap []*feedRun

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	r := x.(*feedRun)
	r.index = len(*h)
	*h = append(*h, r)
}
func (h *dueHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	r.index = -1
	*h = old[:len(old)-1]
	return r
}

// hostState is the politeness state of one host.
type hostState struct {
	inFlight     int
	waiting      []*feedRun
	blockedUntil time.Time
}

// pollResult is what a poll hands back to the scheduler.
type pollResult struct {
	run     *feedRun
	st      state.Feed
	class   Class
	aborted bool          // cancelled by shutdown: nothing was saved
	hostHit time.Duration // the host asked to slow down for this long
	// publishErr is set when the publisher failed after its retries:
	// nothing was saved and the feed is due again.
	publishErr error
}

// scheduler is Run's state.
type scheduler struct {
	f        *Fetcher
	runs     map[string]*feedRun
	heap     dueHeap
	hosts    map[string]*hostState
	inFlight int
	done     chan pollResult
	health   map[string]int
	lastDue  time.Time
	// While the publisher fails, no poll starts before pausedUntil; the
	// pause doubles from 1 s up to maxPublishPause and ends at the first
	// successful poll.
	pausedUntil time.Time
	pause       time.Duration
}

// maxPublishPause is the longest pause of polling while the publisher fails.
const maxPublishPause = time.Minute

// Run polls the feeds until ctx is cancelled, then stops: polls still
// fetching are cancelled, a publish already under way gets ShutdownGrace to
// be acknowledged (and its items are then marked seen), and Run returns nil
// once every poll has ended. A cancelled poll saves nothing, so its feed is
// polled again, and its items published, after a restart. Call Run once per
// Fetcher. The error result is for future use; today Run always returns nil.
func (f *Fetcher) Run(ctx context.Context) error {
	s := &scheduler{
		f:      f,
		runs:   make(map[string]*feedRun),
		hosts:  make(map[string]*hostState),
		done:   make(chan pollResult, f.cfg.Workers),
		health: make(map[string]int),
	}
	// Polls fetch under pollCtx, cancelled at once on shutdown; publishes
	// run under pubCtx, which gives a publish already started ShutdownGrace
	// to be acknowledged.
	pollCtx, cancelPolls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPolls()
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	var wg sync.WaitGroup
	wg.Go(func() { f.watch(ctx) })
	defer wg.Wait()

	f.ready.Store(true)
	defer f.ready.Store(false)
	f.log.Info("fetcher started", "workers", f.cfg.Workers, "per_host", f.cfg.PerHost, "interval", f.cfg.Interval)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-f.notify:
			s.applyReload()
		default:
		}
		s.dispatch(pollCtx, pubCtx, time.Now())
		if wait, ok := s.nextWake(time.Now()); ok {
			timer.Reset(wait)
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			f.log.Info("fetcher stopping", "polls_in_flight", s.inFlight)
			cancelPolls()
			grace := time.AfterFunc(f.cfg.ShutdownGrace, cancelPub)
			defer grace.Stop()
			for s.inFlight > 0 {
				s.finish(<-s.done)
			}
			f.log.Info("fetcher stopped")
			return nil
		case r := <-s.done:
			s.finish(r)
		case <-f.notify:
			s.applyReload()
		case <-timer.C:
		}
	}
}

// applyReload takes the pending feed list.
func (s *scheduler) applyReload() {
	f := s.f
	f.mu.Lock()
	p := f.pending
	f.pending = nil
	f.mu.Unlock()
	if p == nil {
		return
	}
	now := time.Now()
	keep := make(map[string]bool, len(p.list.Feeds))
	added, removed := 0, 0
	for _, src := range p.list.Feeds {
		key := listKey(src.URL)
		keep[key] = true
		if r, ok := s.runs[key]; ok {
			r.src = src // settings change in place; the schedule stays
			continue
		}
		st, known := p.states[src.URL]
		if !known {
			st = state.Feed{URL: src.URL}
		}
		r := &feedRun{key: key, src: src, st: st, index: -1, due: st.NextPoll}
		if r.due.IsZero() || r.due.Before(now) || f.cfg.pollAllAtStart {
			r.due = now
		}
		if lim := now.Add(f.cfg.MaxInterval); r.due.After(lim) {
			r.due = lim
		}
		r.health = healthOf(st)
		s.health[r.health]++
		s.runs[key] = r
		heap.Push(&s.heap, r)
		added++
	}
	for key, r := range s.runs {
		if keep[key] {
			continue
		}
		r.removed = true
		delete(s.runs, key)
		s.health[r.health]--
		if r.index >= 0 {
			heap.Remove(&s.heap, r.index)
		}
		if h := s.hosts[r.host()]; h != nil {
			h.waiting = slices.DeleteFunc(h.waiting, func(w *feedRun) bool { return w == r })
		}
		removed++
	}
	s.publishHealth()
	f.log.Info("feed list loaded", "feeds", len(s.runs), "added", added, "removed", removed)
}

func healthOf(st state.Feed) string {
	switch {
	case st.LastPoll.IsZero():
		return HealthNew
	case st.ConsecutiveFailures > 0:
		return HealthFailing
	}
	return HealthOK
}

// publishHealth sets the health gauges: feeds per health state, and the
// time since which the longest-failing feed has failed (0 when none fails).
// It runs when a feed's health changes, not on every poll.
func (s *scheduler) publishHealth() {
	for _, h := range []string{HealthNew, HealthOK, HealthFailing} {
		s.f.m.feeds.WithLabelValues(h).Set(float64(s.health[h]))
	}
	var oldest time.Time
	if s.health[HealthFailing] > 0 {
		for _, r := range s.runs {
			if r.health == HealthFailing && !r.st.FailingSince.IsZero() && (oldest.IsZero() || r.st.FailingSince.Before(oldest)) {
				oldest = r.st.FailingSince
			}
		}
	}
	if oldest.IsZero() {
		s.f.m.oldestFailing.Set(0)
	} else {
		s.f.m.oldestFailing.Set(float64(oldest.UnixNano()) / 1e9)
	}
}

func (s *scheduler) hostOf(name string) *hostState {
	h := s.hosts[name]
	if h == nil {
		h = &hostState{}
		s.hosts[name] = h
	}
	return h
}

// dispatch starts every due poll that the global and per-host limits allow.
func (s *scheduler) dispatch(ctx, pubCtx context.Context, now time.Time) {
	f := s.f
	if now.Before(s.pausedUntil) {
		return
	}
	// Hosts whose slot freed or whose block ended first.
	for name, h := range s.hosts {
		for len(h.waiting) > 0 && s.inFlight < f.cfg.Workers && h.inFlight < f.cfg.PerHost && !now.Before(h.blockedUntil) {
			r := h.waiting[0]
			h.waiting = h.waiting[1:]
			s.start(ctx, pubCtx, r, h)
		}
		if len(h.waiting) == 0 && h.inFlight == 0 && !now.Before(h.blockedUntil) {
			delete(s.hosts, name)
		}
	}
	for s.inFlight < f.cfg.Workers && len(s.heap) > 0 && !s.heap[0].due.After(now) {
		r := heap.Pop(&s.heap).(*feedRun)
		h := s.hostOf(r.host())
		if h.inFlight >= f.cfg.PerHost || now.Before(h.blockedUntil) {
			h.waiting = append(h.waiting, r)
			continue
		}
		s.start(ctx, pubCtx, r, h)
	}
	if now.Sub(s.lastDue) >= time.Second {
		s.lastDue = now
		n := 0
		for _, r := range s.heap {
			if !r.due.After(now) {
				n++
			}
		}
		for _, h := range s.hosts {
			n += len(h.waiting)
		}
		f.m.feedsDue.Set(float64(n))
	}
}

// nextWake is how long until something may become dispatchable.
func (s *scheduler) nextWake(now time.Time) (time.Duration, bool) {
	if now.Before(s.pausedUntil) {
		return s.pausedUntil.Sub(now), true
	}
	if s.inFlight >= s.f.cfg.Workers {
		return 0, false // a finishing poll wakes us
	}
	var next time.Time
	if len(s.heap) > 0 {
		next = s.heap[0].due
	}
	for _, h := range s.hosts {
		if len(h.waiting) > 0 && h.inFlight < s.f.cfg.PerHost && h.blockedUntil.After(now) {
			if next.IsZero() || h.blockedUntil.Before(next) {
				next = h.blockedUntil
			}
		}
	}
	if next.IsZero() {
		return 0, false
	}
	return max(next.Sub(now), time.Millisecond), true
}

func (s *scheduler) start(ctx, pubCtx context.Context, r *feedRun, h *hostState) {
	r.inFlight = true
	h.inFlight++
	s.inFlight++
	s.f.m.inFlight.Set(float64(s.inFlight))
	src, st := r.src, r.st
	go func() {
		s.done <- s.f.poll(ctx, pubCtx, r, src, st)
	}()
}

// finish applies a poll's result to the schedule.
func (s *scheduler) finish(res pollResult) {
	r := res.run
	s.inFlight--
	s.f.m.inFlight.Set(float64(s.inFlight))
	r.inFlight = false
	h := s.hostOf(r.host())
	h.inFlight--
	if res.hostHit > 0 {
		if until := time.Now().Add(res.hostHit); until.After(h.blockedUntil) {
			h.blockedUntil = until
		}
	}
	if r.removed {
		return
	}
	if res.aborted {
		r.due = time.Now()
		heap.Push(&s.heap, r)
		return
	}
	switch {
	case res.publishErr != nil:
		// Polls of one round fail together: grow the pause once per round.
		if now := time.Now(); !now.Before(s.pausedUntil) {
			s.pause = min(max(2*s.pause, time.Second), maxPublishPause)
			s.pausedUntil = now.Add(s.pause)
			s.f.log.Warn("publisher failing; polls paused, items stay unseen until acknowledged",
				"pause", s.pause, "error", res.publishErr)
		}
	case s.pause > 0:
		s.f.log.Info("publisher recovered; polling resumed")
		s.pause = 0
	}
	oldHost := r.host()
	r.st = res.st
	if nh := r.host(); nh != oldHost {
		// A permanent redirect moved the feed to another host.
		s.hostOf(nh)
	}
	if hl := healthOf(r.st); hl != r.health {
		s.health[r.health]--
		s.health[hl]++
		r.health = hl
		s.publishHealth()
	}
	r.due = r.st.NextPoll
	heap.Push(&s.heap, r)
}
