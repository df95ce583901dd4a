package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestSaveAndReload(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "fetcher.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f := Feed{URL: "https://a.example/rss", CurrentURL: "https://b.example/rss", ETag: `"e"`, LastModified: "Fri, 27 Nov 2026 11:00:00 GMT",
		NextPoll: now.Add(time.Hour), LastPoll: now, LastSuccess: now, FailingSince: now.Add(-time.Hour), LastError: "timeout",
		LastErrorText: "slow", ConsecutiveFailures: 3, Interval: 20 * time.Minute, Title: "A", SiteURL: "https://a.example/"}
	err = s.Save(ctx, Commit{Feed: f, Published: []Seen{{ID: "1", Hash: "h1", Updated: now}, {ID: "2", Hash: "h2"}}, Present: []string{"1", "2"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feeds, err := s.Feeds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := feeds[f.URL]; got != f {
		t.Errorf("feed state\n got %+v\nwant %+v", got, f)
	}
	seen, err := s.SeenItems(ctx, f.URL, []string{"1", "2", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen["1"].Hash != "h1" || !seen["1"].Updated.Equal(now) || !seen["2"].Updated.IsZero() {
		t.Errorf("seen = %+v", seen)
	}
	if seen, _ := s.SeenItems(ctx, "https://unknown.example/", []string{"1"}); len(seen) != 0 {
		t.Errorf("unknown feed has seen items %v", seen)
	}
}

func TestSeenSetIsBounded(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feed := Feed{URL: "https://a.example/rss"}
	day := 24 * time.Hour
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Day 0: items 0..9 in the feed. Day 40: items 10..19 replace them.
	var first, second []Seen
	var firstIDs, secondIDs []string
	for i := range 10 {
		first = append(first, Seen{ID: fmt.Sprint(i), Hash: "h"})
		firstIDs = append(firstIDs, fmt.Sprint(i))
		second = append(second, Seen{ID: fmt.Sprint(10 + i), Hash: "h"})
		secondIDs = append(secondIDs, fmt.Sprint(10+i))
	}
	if err := s.Save(ctx, Commit{Feed: feed, Published: first, Present: firstIDs, Now: t0, Retention: 30 * day, PerFeed: 100}); err != nil {
		t.Fatal(err)
	}
	// Day 20: still present, so they stay however old.
	if err := s.Save(ctx, Commit{Feed: feed, Present: firstIDs, Now: t0.Add(20 * day), Retention: 30 * day, PerFeed: 100}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, Commit{Feed: feed, Published: second, Present: secondIDs, Now: t0.Add(40 * day), Retention: 30 * day, PerFeed: 100}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.SeenCount(ctx, feed.URL); n != 20 {
		t.Errorf("day 40: %d seen, want 20 (the first items left the feed only 20 days ago)", n)
	}
	if err := s.Save(ctx, Commit{Feed: feed, Present: secondIDs, Now: t0.Add(51 * day), Retention: 30 * day, PerFeed: 100}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.SeenCount(ctx, feed.URL); n != 10 {
		t.Errorf("day 51: %d seen, want 10 (items gone for 31 days forgotten)", n)
	}
	// A per-feed cap keeps the most recently present ids.
	if err := s.Save(ctx, Commit{Feed: feed, Published: first, Present: firstIDs, Now: t0.Add(52 * day), Retention: 30 * day, PerFeed: 15}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.SeenCount(ctx, feed.URL); n != 15 {
		t.Errorf("capped: %d seen, want 15", n)
	}
	seen, _ := s.SeenItems(ctx, feed.URL, firstIDs)
	if len(seen) != 10 {
		t.Errorf("the ids present in the feed must survive the cap: %d of 10", len(seen))
	}
}

func TestForget(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, u := range []string{"https://keep.example/", "https://drop.example/"} {
		if err := s.Save(ctx, Commit{Feed: Feed{URL: u}, Published: []Seen{{ID: "x", Hash: "h"}}, Present: []string{"x"}, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Forget(ctx, map[string]bool{"https://keep.example/": true})
	if err != nil || n != 1 {
		t.Fatalf("Forget = %d, %v", n, err)
	}
	feeds, _ := s.Feeds(ctx)
	if _, ok := feeds["https://drop.example/"]; ok || len(feeds) != 1 {
		t.Errorf("feeds after Forget: %v", feeds)
	}
	if c, _ := s.SeenCount(ctx, "https://drop.example/"); c != 0 {
		t.Errorf("seen items of a forgotten feed: %d", c)
	}
}

func TestConcurrentSavesAllLand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			u := fmt.Sprintf("https://f%d.example/rss", i)
			errs <- s.Save(ctx, Commit{Feed: Feed{URL: u, ETag: fmt.Sprint(i)}, Published: []Seen{{ID: "a", Hash: "h"}, {ID: "b", Hash: "h"}},
				Present: []string{"a", "b"}, Now: time.Now()})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Save(ctx, Commit{Feed: Feed{URL: "x"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Save after Close: %v", err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feeds, err := s.Feeds(ctx)
	if err != nil || len(feeds) != 200 {
		t.Fatalf("%d feeds after reopen, %v", len(feeds), err)
	}
	for i := range 200 {
		u := fmt.Sprintf("https://f%d.example/rss", i)
		if n, _ := s.SeenCount(ctx, u); n != 2 || feeds[u].ETag != fmt.Sprint(i) {
			t.Errorf("%s: %d seen, etag %q", u, n, feeds[u].ETag)
		}
	}
}
