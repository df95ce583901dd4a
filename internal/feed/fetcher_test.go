package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/internal/feed/state"
	"github.com/newsflow/newsflow/pkg/events"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	if os.Getenv(farmEnv) != "" {
		os.Exit(runFarm())
	}
	goleak.VerifyTestMain(m)
}

func loadState(t *testing.T, cfg Config) map[string]state.Feed {
	t.Helper()
	st, err := state.Open(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := st.Feeds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPollPublishesOnceThenConditionalGET(t *testing.T) {
	srv := newFeedServer(t)
	lm := time.Date(2026, 11, 25, 9, 12, 0, 0, time.UTC)
	noTTL := bytes.Replace(readTestdata(t, "rss20.xml"), []byte("<ttl>30</ttl>"), nil, 1)
	srv.set("/world.xml", served{body: noTTL, ctype: "application/rss+xml", etag: `"v1"`, lastMod: lm, gzip: true})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/world.xml")+"\n    title: Harbour World\n    interval: 1s\n")
	cfg.MinInterval = time.Second
	pub := &recPublisher{}
	h := start(t, cfg, pub)

	eventually(t, "two polls", func() bool { return len(srv.requests("/world.xml")) >= 2 })
	eventually(t, "a not_modified poll", func() bool { return h.polls(ClassNotModified) >= 1 })
	h.stop()

	reqs := srv.requests("/world.xml")
	if got := reqs[0].header.Get("If-None-Match"); got != "" {
		t.Errorf("first request sent If-None-Match %q", got)
	}
	if got := reqs[1].header.Get("If-None-Match"); got != `"v1"` {
		t.Errorf("second request If-None-Match = %q, want \"v1\"", got)
	}
	if got := reqs[1].header.Get("If-Modified-Since"); got != lm.Format(http.TimeFormat) {
		t.Errorf("second request If-Modified-Since = %q", got)
	}
	if ua := reqs[0].header.Get("User-Agent"); ua != cfg.UserAgent {
		t.Errorf("User-Agent = %q", ua)
	}
	arts := pub.got()
	if len(arts) != 3 {
		t.Fatalf("published %d articles, want 3", len(arts))
	}
	byGUID := map[string]events.RawArticle{}
	for _, a := range arts {
		byGUID[a.GUID] = a
	}
	a := byGUID["ht-2026-11-25-0412"]
	want := events.ArticleID(srv.url("/world.xml"), "ht-2026-11-25-0412", "", "", time.Time{})
	switch {
	case a.ID != want:
		t.Errorf("id = %q, want %q", a.ID, want)
	case a.SchemaVersion != events.SchemaVersion:
		t.Errorf("schema_version = %d", a.SchemaVersion)
	case a.Source.FeedURL != srv.url("/world.xml") || a.Source.FeedTitle != "Harbour World" || a.Source.SiteURL != "https://harbourtimes.example/world":
		t.Errorf("source = %+v", a.Source)
	case a.Title != "Baltic states agree joint air-defence procurement":
		t.Errorf("title = %q", a.Title)
	case !strings.HasPrefix(a.Content, "<p>Estonia") || !strings.HasPrefix(a.Summary, "Estonia"):
		t.Errorf("content %q / summary %q", a.Content, a.Summary)
	case len(a.Authors) != 1 || a.Authors[0] != "Ingrid Saar":
		t.Errorf("authors = %v", a.Authors)
	case len(a.Categories) != 2 || a.Language != "en-gb":
		t.Errorf("categories %v language %q", a.Categories, a.Language)
	case !a.PublishedAt.Equal(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)):
		t.Errorf("published_at = %v", a.PublishedAt)
	case a.FetchedAt.IsZero() || !a.UpdatedAt.IsZero():
		t.Errorf("fetched_at %v updated_at %v", a.FetchedAt, a.UpdatedAt)
	}
	// Oldest first.
	if arts[0].Title != "Japan and Philippines sign reciprocal access agreement" {
		t.Errorf("first published %q, want the oldest item", arts[0].Title)
	}
	if got := testutil.ToFloat64(h.f.m.published); got != 3 {
		t.Errorf("articles_published_total = %v", got)
	}
	if got := testutil.ToFloat64(h.f.m.bytes); got <= 0 {
		t.Errorf("downloaded bytes = %v", got)
	}
	st := loadState(t, cfg)[srv.url("/world.xml")]
	if st.ETag != `"v1"` || st.LastSuccess.IsZero() || st.ConsecutiveFailures != 0 {
		t.Errorf("state = %+v", st)
	}
}

func TestChangedItemRepublishedWithUpdatedAt(t *testing.T) {
	srv := newFeedServer(t)
	v1 := readTestdata(t, "atom10.xml")
	srv.set("/diplo.xml", served{body: v1, etag: `"1"`})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/diplo.xml")+"\n    interval: 1s\n")
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "first publish", func() bool { return pub.count() == 2 })

	// The newest entry is edited: new updated date, new summary.
	v2 := bytes.Replace(v1, []byte("<updated>2026-11-22T18:30:02Z</updated>\n    <author>"), []byte("<updated>2026-11-23T07:00:00Z</updated>\n    <author>"), 1)
	v2 = bytes.Replace(v2, []byte("vingtième paquet de sanctions.</summary>"), []byte("vingtième paquet de sanctions, visant la flotte fantôme.</summary>"), 1)
	// The other entry changes content without a new date.
	v2 = bytes.Replace(v2, []byte("état d'urgence alimentaire."), []byte("état d'urgence alimentaire ; l'ONU appelle à l'aide."), 1)
	if bytes.Equal(v1, v2) {
		t.Fatal("fixture edit did not apply")
	}
	srv.set("/diplo.xml", served{body: v2, etag: `"2"`})
	eventually(t, "republish", func() bool { return pub.count() == 4 })
	time.Sleep(1500 * time.Millisecond) // another poll: nothing more
	h.stop()

	arts := pub.got()
	if len(arts) != 4 {
		t.Fatalf("published %d, want 4", len(arts))
	}
	first := map[string]events.RawArticle{arts[0].ID: arts[0], arts[1].ID: arts[1]}
	for _, a := range arts[2:] {
		old, ok := first[a.ID]
		if !ok {
			t.Errorf("republished %q under a new id", a.Title)
		}
		if a.UpdatedAt.IsZero() {
			t.Errorf("republished %q without updated_at", a.Title)
		}
		if a.Summary == old.Summary {
			t.Errorf("republished %q with the old summary", a.Title)
		}
	}
	if got := testutil.ToFloat64(h.f.m.items.WithLabelValues(OutcomeUpdated)); got != 2 {
		t.Errorf("items{updated} = %v", got)
	}
}

func TestErrorClasses(t *testing.T) {
	srv := newFeedServer(t)
	big := bytes.Repeat([]byte("<!-- padding -->"), 8<<10) // 128 KiB
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte{' '}, 200<<20)) // 200 MiB of spaces, ~200 KiB gzipped
	zw.Close()
	challenge := []byte(`<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><div id="challenge-platform"></div></body></html>`)
	tests := []struct {
		name string
		sv   served
		want Class
	}{
		{"html page", served{body: readTestdata(t, "notafeed.html"), ctype: "text/html"}, ClassNotAFeed},
		{"broken xml", served{body: []byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a</item></channel>`)}, ClassParse},
		{"too large", served{body: big}, ClassTooLarge},
		{"too large by content-length", served{body: big, header: map[string]string{"Content-Length": fmt.Sprint(len(big))}}, ClassTooLarge},
		{"gzip bomb", served{body: bomb.Bytes(), header: map[string]string{"Content-Encoding": "gzip"}}, ClassTooLarge},
		{"404", served{status: http.StatusNotFound}, ClassHTTP4xx},
		{"410", served{status: http.StatusGone}, ClassHTTP4xx},
		{"500", served{status: http.StatusInternalServerError}, ClassHTTP5xx},
		{"429", served{status: http.StatusTooManyRequests}, ClassRateLimited},
		{"challenge", served{status: http.StatusForbidden, body: challenge, header: map[string]string{"Server": "cloudflare"}}, ClassBlockedByChallenge},
		{"cf-mitigated", served{status: http.StatusForbidden, header: map[string]string{"Cf-Mitigated": "challenge"}}, ClassBlockedByChallenge},
		{"slow", served{body: readTestdata(t, "rss20.xml"), delay: 3 * time.Second}, ClassTimeout},
		{"redirect loop", served{redirect: "/loop", status: http.StatusFound}, ClassConnect},
	}
	var list strings.Builder
	list.WriteString("feeds:\n")
	for i, tc := range tests {
		path := fmt.Sprintf("/case%d", i)
		if tc.name == "redirect loop" {
			path = "/loop"
		}
		srv.set(path, tc.sv)
		fmt.Fprintf(&list, "  - url: %s\n", srv.url(path))
	}
	cfg := testConfig(t, list.String())
	cfg.MaxBody = 64 << 10
	cfg.HeaderTimeout = 500 * time.Millisecond
	cfg.PerHost = len(tests)
	h := start(t, cfg, &recPublisher{})
	var total float64
	eventually(t, "every feed polled", func() bool {
		total = 0
		for _, c := range Classes() {
			total += h.polls(c)
		}
		return total >= float64(len(tests))
	})
	h.stop()
	states := loadState(t, cfg)
	for i, tc := range tests {
		path := fmt.Sprintf("/case%d", i)
		if tc.name == "redirect loop" {
			path = "/loop"
		}
		st := states[srv.url(path)]
		if Class(st.LastError) != tc.want {
			t.Errorf("%s: last error class %q (%s), want %q", tc.name, st.LastError, st.LastErrorText, tc.want)
		}
		if st.ConsecutiveFailures != 1 || st.FailingSince.IsZero() {
			t.Errorf("%s: failures %d since %v", tc.name, st.ConsecutiveFailures, st.FailingSince)
		}
		if st.NextPoll.Before(st.LastPoll.Add(cfg.Interval / 2)) {
			t.Errorf("%s: next poll %v too soon after %v", tc.name, st.NextPoll, st.LastPoll)
		}
	}
	if got := testutil.ToFloat64(h.f.m.feeds.WithLabelValues(HealthFailing)); got != float64(len(tests)) {
		t.Errorf("feeds{health=failing} = %v, want %d", got, len(tests))
	}
	oldest := time.Now()
	for _, st := range states {
		if st.FailingSince.Before(oldest) {
			oldest = st.FailingSince
		}
	}
	if got := testutil.ToFloat64(h.f.m.oldestFailing); got != float64(oldest.UnixNano())/1e9 {
		t.Errorf("oldest failing since = %v, want %v (the earliest FailingSince)", got, float64(oldest.UnixNano())/1e9)
	}
	f2, err := New(cfg, &recPublisher{}, discardLogger(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	status, err := f2.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != len(tests) {
		t.Fatalf("Status: %d feeds", len(status))
	}
	for i, s := range status {
		if s.Health != HealthFailing || s.LastError != tests[i].want || s.ConsecutiveFailures != 1 {
			t.Errorf("Status %s: %+v", s.URL, s)
		}
	}
}

func TestRetryAfterSlowsFeedAndHost(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter func() string
	}{
		{"seconds", func() string { return "7200" }},
		{"http-date", func() string { return time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFeedServer(t)
			srv.set("/limited", served{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": tc.retryAfter()}})
			srv.set("/other", served{body: readTestdata(t, "rss20.xml")})
			cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/limited")+"\n")
			cfg.PerHost = 1
			pub := &recPublisher{}
			h := start(t, cfg, pub)
			eventually(t, "the 429", func() bool { return h.polls(ClassRateLimited) == 1 })
			// A feed added on the same host waits for the host's Retry-After.
			list := "feeds:\n  - url: " + srv.url("/limited") + "\n  - url: " + srv.url("/other") + "\n"
			if err := os.WriteFile(cfg.FeedsPath, []byte(list), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := h.f.Reload(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			h.stop()
			if n := len(srv.requests("/other")); n != 0 {
				t.Errorf("host rate-limited, yet /other was requested %d times", n)
			}
			st := loadState(t, cfg)[srv.url("/limited")]
			if wait := st.NextPoll.Sub(st.LastPoll); wait < 110*time.Minute {
				t.Errorf("next poll after %v, want about 2h (Retry-After)", wait)
			}
			if st.LastError != string(ClassRateLimited) {
				t.Errorf("last error %q", st.LastError)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	srv := newFeedServer(t)
	body := bytes.Replace(readTestdata(t, "rss20.xml"), []byte("<ttl>30</ttl>"), nil, 1)
	srv.set("/old", served{redirect: "/new", status: http.StatusMovedPermanently})
	srv.set("/new", served{body: body, etag: `"n"`})
	srv.set("/temp", served{redirect: "/target", status: http.StatusFound})
	srv.set("/target", served{body: readTestdata(t, "atom10.xml"), etag: `"t"`})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/old")+"\n    interval: 1s\n  - url: "+srv.url("/temp")+"\n    interval: 1s\n")
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "second polls", func() bool { return len(srv.requests("/new")) >= 2 && len(srv.requests("/target")) >= 2 })
	h.stop()
	if n := len(srv.requests("/old")); n != 1 {
		t.Errorf("/old requested %d times; after a 301 the new URL must be polled", n)
	}
	if n := len(srv.requests("/temp")); n < 2 {
		t.Errorf("/temp requested %d times; a 302 must not move the feed", n)
	}
	states := loadState(t, cfg)
	if got := states[srv.url("/old")].CurrentURL; got != srv.url("/new") {
		t.Errorf("current url after 301 = %q", got)
	}
	if got := states[srv.url("/temp")].CurrentURL; got != "" {
		t.Errorf("current url after 302 = %q", got)
	}
	for _, a := range pub.got() {
		if a.Source.FeedTitle == "Harbour Times — World" && a.Source.FeedURL != srv.url("/new") {
			t.Errorf("source.feed_url %q, want the new URL", a.Source.FeedURL)
		}
	}
	if pub.count() != 5 {
		t.Errorf("published %d, want 5", pub.count())
	}
}

func TestNonUTF8OverHTTP(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/cp1252", served{body: readTestdata(t, "windows-1252.xml"), ctype: "application/rss+xml"})
	srv.set("/latin1", served{body: readTestdata(t, "iso-8859-1-nodecl.xml"), ctype: "application/rss+xml; charset=ISO-8859-1"})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/cp1252")+"\n  - url: "+srv.url("/latin1")+"\n")
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "both published", func() bool { return pub.count() == 2 })
	h.stop()
	titles := map[string]bool{}
	for _, a := range pub.got() {
		titles[a.Title] = true
	}
	for _, want := range []string{"Réunion à Genève : l’OTAN et l’UE discutent défense", "Exército português participa em exercício da NATO"} {
		if !titles[want] {
			t.Errorf("missing title %q in %v", want, titles)
		}
	}
}

func TestPrivateAddressRefused(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/feed", served{body: readTestdata(t, "rss20.xml")})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/feed")+"\n  - url: http://localhost:"+srv.srv.Listener.Addr().(interface{ String() string }).String()[len("127.0.0.1:"):]+"/feed\n")
	cfg.AllowPrivate = false
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "two failed polls", func() bool { return h.polls(ClassConnect) == 2 })
	h.stop()
	if n := len(srv.requests("/feed")); n != 0 {
		t.Errorf("server got %d requests; the guard must refuse loopback", n)
	}
	if pub.count() != 0 {
		t.Errorf("published %d", pub.count())
	}
	st := loadState(t, cfg)[srv.url("/feed")]
	if !strings.Contains(st.LastErrorText, ErrBlockedAddress.Error()) {
		t.Errorf("last error %q does not say the address is not allowed", st.LastErrorText)
	}
}

func TestDuplicateURLsPolledOnce(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/feed", served{body: readTestdata(t, "rss20.xml")})
	upper := strings.Replace(srv.url("/feed"), "http://", "HTTP://", 1)
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/feed")+"\n  - url: "+srv.url("/feed")+"\n    title: again\n  - url: "+upper+"\n")
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "publish", func() bool { return pub.count() == 3 })
	time.Sleep(300 * time.Millisecond)
	h.stop()
	if n := len(srv.requests("/feed")); n != 1 {
		t.Errorf("feed requested %d times, want 1", n)
	}
	if got := testutil.ToFloat64(h.f.m.feedsConfigured); got != 1 {
		t.Errorf("feeds_configured = %v", got)
	}
}

func TestReloadKeepsScheduleOfUnchangedFeeds(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/a", served{body: readTestdata(t, "rss20.xml")})
	srv.set("/b", served{body: readTestdata(t, "atom10.xml")})
	srv.set("/c", served{body: readTestdata(t, "jsonfeed.json")})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/a")+"\n  - url: "+srv.url("/b")+"\n")
	cfg.ReloadCheck = 50 * time.Millisecond
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "first cycle", func() bool { return pub.count() == 5 })

	// SIGHUP path: an explicit Reload drops /b.
	if err := os.WriteFile(cfg.FeedsPath, []byte("feeds:\n  - url: "+srv.url("/a")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.f.Reload(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one feed configured", func() bool { return testutil.ToFloat64(h.f.m.feedsConfigured) == 1 })
	// File watch: adding /c is picked up without Reload.
	time.Sleep(20 * time.Millisecond)
	if err := os.WriteFile(cfg.FeedsPath, []byte("feeds:\n  - url: "+srv.url("/a")+"\n  - url: "+srv.url("/c")+"\n    title: Pacific\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new feed's items", func() bool { return pub.count() == 7 })
	// A broken list keeps the old one.
	if err := os.WriteFile(cfg.FeedsPath, []byte("feeds: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.f.Reload(); err == nil {
		t.Error("Reload of a broken list returned nil")
	}
	time.Sleep(200 * time.Millisecond)
	h.stop()
	if n := len(srv.requests("/a")); n != 1 {
		t.Errorf("/a polled %d times; reloads must not re-poll unchanged feeds", n)
	}
	if n := len(srv.requests("/b")); n != 1 {
		t.Errorf("/b polled %d times", n)
	}
	if got := testutil.ToFloat64(h.f.m.reloads.WithLabelValues("error")); got < 1 {
		t.Errorf("reloads{error} = %v", got)
	}
}

func TestPublishFailureRetriedWithoutLoss(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/feed", served{body: readTestdata(t, "rss20.xml"), etag: `"x"`})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/feed")+"\n")
	cfg.MinInterval = time.Second
	cfg.PublishRetries = 1
	pub := &recPublisher{failNext: 2} // the first poll gives up after 2 failures
	h := start(t, cfg, pub)
	eventually(t, "published after the broker came back", func() bool { return pub.count() == 3 })
	time.Sleep(200 * time.Millisecond)
	h.stop()
	reqs := srv.requests("/feed")
	if len(reqs) < 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if got := reqs[1].header.Get("If-None-Match"); got != "" {
		t.Errorf("after a failed publish the next poll sent If-None-Match %q; it must fetch the body again", got)
	}
	if got := testutil.ToFloat64(h.f.m.publishErrors); got != 2 {
		t.Errorf("publish_errors_total = %v", got)
	}
}

func TestBackoffGrowsAndRecovers(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/flaky", served{status: http.StatusBadGateway})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/flaky")+"\n    interval: 1s\n")
	cfg.BackoffMax = 2 * time.Second
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "three failures", func() bool { return h.polls(ClassHTTP5xx) >= 3 })
	reqs := srv.requests("/flaky")
	if gap1, gap2 := reqs[1].at.Sub(reqs[0].at), reqs[2].at.Sub(reqs[1].at); gap2 < gap1+gap1/2 {
		t.Errorf("backoff did not grow: gaps %v then %v", gap1, gap2)
	}
	srv.set("/flaky", served{body: readTestdata(t, "rss20.xml")})
	eventually(t, "recovery", func() bool { return pub.count() == 3 })
	h.stop()
	st := loadState(t, cfg)[srv.url("/flaky")]
	if st.ConsecutiveFailures != 0 || !st.FailingSince.IsZero() || st.LastError != "" {
		t.Errorf("state after recovery = %+v", st)
	}
}

func TestFileURL(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/local.xml"
	if err := os.WriteFile(path, readTestdata(t, "atom10.xml"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "feeds:\n  - url: file://"+path+"\n    interval: 1s\n")
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "publish", func() bool { return pub.count() == 2 })
	eventually(t, "an unchanged file is not modified", func() bool { return h.polls(ClassNotModified) >= 1 })
	h.stop()
	if a := pub.got()[0]; a.Language != "fr" || a.Source.FeedURL != "file://"+path {
		t.Errorf("article %+v", a)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	cfg := testConfig(t, "feeds:\n  - url: ftp://example.org/feed\n")
	if _, err := New(cfg, &recPublisher{}, discardLogger(), prometheus.NewRegistry()); err == nil || !errors.Is(err, ErrBadList) {
		t.Errorf("New with an ftp URL: %v", err)
	}
	cfg.Workers = 0
	if _, err := New(cfg, &recPublisher{}, discardLogger(), prometheus.NewRegistry()); err == nil || !strings.Contains(err.Error(), "-workers") {
		t.Errorf("New with 0 workers: %v", err)
	}
}

func TestShutdownLetsAStartedPublishFinish(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/feed", served{body: readTestdata(t, "atom10.xml"), etag: `"e"`})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/feed")+"\n")
	pub := &recPublisher{delay: 700 * time.Millisecond}
	h := start(t, cfg, pub)
	eventually(t, "the publish to start", func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		return pub.calls == 1
	})
	h.stop() // while the broker has not acknowledged yet
	if pub.count() != 2 {
		t.Fatalf("publish in flight at shutdown: %d articles acknowledged, want 2", pub.count())
	}
	// The commit followed the ack: a restart sends the validators and
	// publishes nothing again.
	cfg.pollAllAtStart = true
	pub2 := &recPublisher{}
	h2 := start(t, cfg, pub2)
	eventually(t, "a second poll", func() bool { return len(srv.requests("/feed")) == 2 })
	time.Sleep(100 * time.Millisecond)
	h2.stop()
	if got := srv.requests("/feed")[1].header.Get("If-None-Match"); got != `"e"` {
		t.Errorf("restart sent If-None-Match %q", got)
	}
	if pub2.count() != 0 {
		t.Errorf("restart republished %d articles", pub2.count())
	}
}

func TestServiceUnavailableWithRetryAfter(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/busy", served{status: http.StatusServiceUnavailable, header: map[string]string{"Retry-After": "5400"}})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/busy")+"\n    interval: 1s\n")
	h := start(t, cfg, &recPublisher{})
	eventually(t, "the 503", func() bool { return h.polls(ClassHTTP5xx) == 1 })
	h.stop()
	st := loadState(t, cfg)[srv.url("/busy")]
	if wait := st.NextPoll.Sub(st.LastPoll); wait < 89*time.Minute {
		t.Errorf("next poll after %v, want the 90 min of Retry-After", wait)
	}
}

func TestBrokerOutagePausesPolling(t *testing.T) {
	srv := newFeedServer(t)
	var list strings.Builder
	list.WriteString("feeds:\n")
	for i := range 5 {
		path := fmt.Sprintf("/f%d", i)
		srv.set(path, served{body: farmFeed("F", fmt.Sprint("f", i), 3), etag: `"e"`})
		fmt.Fprintf(&list, "  - url: %s\n", srv.url(path))
	}
	cfg := testConfig(t, list.String())
	cfg.PerHost = 5
	cfg.PublishRetries = 0
	pub := &recPublisher{failNext: 1 << 30}
	h := start(t, cfg, pub)
	time.Sleep(2500 * time.Millisecond)
	n := 0
	for i := range 5 {
		n += len(srv.requests(fmt.Sprintf("/f%d", i)))
	}
	// Round one at 0 s, the pause then doubles: 1 s, 2 s.
	if n < 5 || n > 10 {
		t.Errorf("%d requests in 2.5 s of broker outage; want the polls paused (5–10)", n)
	}
	pub.mu.Lock()
	pub.failNext = 0
	pub.mu.Unlock()
	eventually(t, "recovery", func() bool { return pub.count() == 15 })
	h.stop()
	for _, r := range srv.requests("/f0") {
		if r.header.Get("If-None-Match") != "" {
			t.Error("a poll after a failed publish sent validators")
		}
	}
}
