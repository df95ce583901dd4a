package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/newsflow/newsflow/internal/feed/state"
	"github.com/newsflow/newsflow/pkg/events"
)

// poll fetches one feed under ctx, publishes what is new or changed under
// pubCtx, and saves the outcome. It never returns an error: failures are the
// feed's health. A poll whose ctx ends before its publish started saves
// nothing (aborted).
func (f *Fetcher) poll(ctx, pubCtx context.Context, r *feedRun, src Source, st state.Feed) pollResult {
	start := time.Now()
	res := pollResult{run: r}
	base := src.Interval
	if base <= 0 {
		base = f.cfg.Interval
	}
	reqURL := firstNonEmpty(st.CurrentURL, src.URL)
	resp, err := f.http.get(ctx, request{
		URL: reqURL, ETag: st.ETag, LastModified: st.LastModified, Headers: src.Headers,
		Accept: "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5",
	})
	if ctx.Err() != nil {
		res.aborted = true
		return res
	}
	now := time.Now()
	if resp != nil {
		f.m.response(resp.Status)
		f.m.bytes.Add(float64(resp.WireBytes))
	}
	st.LastPoll = now
	var fe *FetchError
	if err != nil {
		if !errors.As(err, &fe) {
			fe = &FetchError{Class: ClassConnect, Err: err}
		}
		return f.failed(ctx, res, src, st, base, fe, start)
	}
	if resp.PermanentURL != "" && resp.PermanentURL != st.CurrentURL {
		f.log.Info("feed moved permanently; polling the new URL from now on", "feed_url", src.URL, "new_url", resp.PermanentURL)
		f.m.redirects.Inc()
		st.CurrentURL = resp.PermanentURL
		if st.CurrentURL == src.URL {
			st.CurrentURL = ""
		}
	}
	hint := serverHint(resp.Header, now)
	if resp.NotModified() {
		if v := resp.Header.Get("ETag"); v != "" {
			st.ETag = v
		}
		if v := resp.Header.Get("Last-Modified"); v != "" {
			st.LastModified = v
		}
		interval := f.intervalFor(st, base, false)
		if f.cfg.Adaptive {
			st.Interval = interval
		}
		st = f.succeeded(st, now)
		st.NextPoll = now.Add(jitter(f.cfg.successInterval(interval, hint, 0), f.cfg.Jitter))
		if err := f.store.SaveFeed(context.WithoutCancel(ctx), st); err != nil {
			f.log.Error("save feed state", "feed_url", src.URL, "error", err)
		}
		return f.done(res, st, ClassNotModified, start, now)
	}
	parsed, err := Parse(resp.Body, resp.Header.Get("Content-Type"), src.URL)
	resp.release() // parsed holds copies
	if err != nil {
		class := ClassParse
		if errors.Is(err, ErrNotAFeed) {
			class = ClassNotAFeed
		}
		return f.failed(ctx, res, src, st, base, &FetchError{Class: class, Status: resp.Status, Err: fmt.Errorf("%s: %w", reqURL, err)}, start)
	}
	// What is new or changed.
	ids := make([]string, len(parsed.Items))
	for i, it := range parsed.Items {
		ids[i] = it.Article.ID
	}
	seen, err := f.store.SeenItems(ctx, src.URL, ids)
	if err != nil {
		if ctx.Err() != nil {
			res.aborted = true
			return res
		}
		// A local failure, not the feed's: poll again soon, old validators.
		f.log.Error("read seen items; will poll again", "feed_url", src.URL, "error", err)
		st.NextPoll = now.Add(f.cfg.MinInterval)
		res.st, res.class = st, ClassOK
		return res
	}
	feedTitle := firstNonEmpty(src.Title, parsed.Title)
	source := events.Source{FeedURL: firstNonEmpty(st.CurrentURL, src.URL), FeedTitle: feedTitle, SiteURL: parsed.SiteURL}
	var out []events.RawArticle
	var marks []state.Seen
	nNew, nUpd, nDup := 0, 0, 0
	// Oldest first: feeds list newest first.
	for i := len(parsed.Items) - 1; i >= 0; i-- {
		it := parsed.Items[i]
		a := it.Article
		old, wasSeen := seen[a.ID]
		if wasSeen {
			newer := !it.Updated.IsZero() && it.Updated.After(old.Updated)
			if !newer && it.Hash == old.Hash {
				nDup++
				continue
			}
			a.UpdatedAt = it.Updated
			if !newer || a.UpdatedAt.IsZero() {
				a.UpdatedAt = now
			}
			nUpd++
		} else {
			nNew++
		}
		a.Source = source
		a.FetchedAt = now
		out = append(out, a)
		marks = append(marks, state.Seen{ID: a.ID, Hash: it.Hash, Updated: it.Updated})
	}
	if len(out) > 0 && f.fullTextOn(src) {
		f.ft.fill(ctx, out, src.Headers)
	}
	if ctx.Err() != nil {
		res.aborted = true
		return res
	}
	if len(out) > 0 {
		if err := f.publish(ctx, pubCtx, out); err != nil {
			if ctx.Err() != nil {
				res.aborted = true
				return res
			}
			// Nothing is saved: the old validators stay, so the next poll
			// gets the body again and the items are still unseen. The
			// scheduler pauses polling while the publisher fails.
			f.log.Debug("publish failed; items stay unseen", "feed_url", src.URL, "articles", len(out), "error", err)
			st.NextPoll = now
			res.st, res.class, res.publishErr = st, ClassOK, err
			return res
		}
		st.LastNewItem = now
	}
	st.ETag = resp.Header.Get("ETag")
	st.LastModified = resp.Header.Get("Last-Modified")
	st.Title, st.SiteURL = parsed.Title, parsed.SiteURL
	interval := f.intervalFor(st, base, len(out) > 0)
	if f.cfg.Adaptive {
		st.Interval = interval
	}
	st = f.succeeded(st, now)
	st.NextPoll = now.Add(jitter(f.cfg.successInterval(interval, hint, parsed.TTL), f.cfg.Jitter))
	err = f.store.Save(context.WithoutCancel(ctx), state.Commit{
		Feed: st, Published: marks, Present: ids, Now: now,
		Retention: f.cfg.SeenRetention, PerFeed: f.cfg.SeenPerFeed,
	})
	if err != nil {
		// Published but not marked: the items will be published again
		// (at-least-once), never lost.
		f.log.Error("save state after publishing; items may be published again", "feed_url", src.URL, "error", err)
	}
	f.m.items.WithLabelValues(OutcomeDuplicate).Add(float64(nDup))
	f.m.items.WithLabelValues(OutcomePublished).Add(float64(nNew))
	f.m.items.WithLabelValues(OutcomeUpdated).Add(float64(nUpd))
	f.m.published.Add(float64(len(out)))
	if len(out) > 0 {
		f.log.Debug("feed polled", "feed_url", src.URL, "new", nNew, "updated", nUpd, "duplicate", nDup)
	}
	return f.done(res, st, ClassOK, start, now)
}

func (f *Fetcher) intervalFor(st state.Feed, base time.Duration, foundNew bool) time.Duration {
	if !f.cfg.Adaptive {
		return base
	}
	cur := st.Interval
	if cur <= 0 {
		cur = base
	}
	return f.cfg.adaptiveInterval(cur, base, foundNew)
}

func (f *Fetcher) succeeded(st state.Feed, now time.Time) state.Feed {
	if st.ConsecutiveFailures > 0 {
		f.log.Info("feed recovered", "feed_url", st.URL, "failed_polls", st.ConsecutiveFailures,
			"failing_since", st.FailingSince.Format(time.RFC3339), "last_error_class", st.LastError)
	}
	st.LastSuccess = now
	st.FailingSince = time.Time{}
	st.ConsecutiveFailures = 0
	st.LastError, st.LastErrorText = "", ""
	return st
}

func (f *Fetcher) done(res pollResult, st state.Feed, class Class, start, now time.Time) pollResult {
	res.st, res.class = st, class
	f.m.polls.WithLabelValues(string(class)).Inc()
	f.m.pollDuration.Observe(time.Since(start).Seconds())
	f.m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	return res
}

// failed records a failed poll: backoff, health, host slow-down.
func (f *Fetcher) failed(ctx context.Context, res pollResult, src Source, st state.Feed, base time.Duration, fe *FetchError, start time.Time) pollResult {
	now := st.LastPoll
	prevClass := st.LastError
	st.ConsecutiveFailures++
	if st.FailingSince.IsZero() {
		st.FailingSince = now
	}
	st.LastError, st.LastErrorText = string(fe.Class), truncate(fe.Error(), 500)
	wait := f.cfg.backoff(base, st.ConsecutiveFailures, fe.RetryAfter)
	st.NextPoll = now.Add(jitter(wait, f.cfg.Jitter))
	if fe.Class == ClassRateLimited || (fe.Status == http.StatusServiceUnavailable && fe.RetryAfter > 0) {
		res.hostHit = max(fe.RetryAfter, time.Minute)
		if fe.RetryAfter > 0 {
			res.hostHit = fe.RetryAfter
		}
	}
	f.m.polls.WithLabelValues(string(fe.Class)).Inc()
	f.m.pollDuration.Observe(time.Since(start).Seconds())
	// Warn when a feed starts failing or fails differently; repeats of the
	// same failure are debug noise (the health metric and state keep them).
	level := slog.LevelDebug
	if st.ConsecutiveFailures == 1 || prevClass != string(fe.Class) {
		level = slog.LevelWarn
	}
	f.log.Log(ctx, level, "poll failed", "feed_url", src.URL, "error_class", string(fe.Class), "consecutive_failures", st.ConsecutiveFailures,
		"next_poll", st.NextPoll.Format(time.RFC3339), "error", fe.Err)
	if err := f.store.SaveFeed(context.WithoutCancel(ctx), st); err != nil {
		f.log.Error("save feed state", "feed_url", src.URL, "error", err)
	}
	res.st, res.class = st, fe.Class
	return res
}

// publish publishes under pubCtx with retries; it returns the last error
// after PublishRetries retries, or after the first failure once ctx ended.
func (f *Fetcher) publish(ctx, pubCtx context.Context, out []events.RawArticle) error {
	wait := 500 * time.Millisecond
	var err error
	for attempt := 0; ; attempt++ {
		if err = f.pub.Publish(pubCtx, out); err == nil {
			return nil
		}
		f.m.publishErrors.Inc()
		if attempt >= f.cfg.PublishRetries || ctx.Err() != nil {
			return fmt.Errorf("publish %d articles: %w", len(out), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish %d articles: %w", len(out), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (f *Fetcher) fullTextOn(src Source) bool {
	if src.FullText != nil {
		return *src.FullText
	}
	return f.cfg.FullText
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
