package feed

import (
	"net/http"
	"testing"
	"time"
)

func TestServerHint(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"none", nil, 0},
		{"max-age", map[string]string{"Cache-Control": "public, max-age=1800"}, 30 * time.Minute},
		{"s-maxage", map[string]string{"Cache-Control": "s-maxage=600"}, 10 * time.Minute},
		{"max-age=0", map[string]string{"Cache-Control": "max-age=0"}, 0},
		{"expires", map[string]string{"Expires": now.Add(2 * time.Hour).Format(http.TimeFormat)}, 2 * time.Hour},
		{"expired", map[string]string{"Expires": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{"max-age wins over expires", map[string]string{"Cache-Control": "max-age=60", "Expires": now.Add(2 * time.Hour).Format(http.TimeFormat)}, time.Minute},
		{"garbage", map[string]string{"Cache-Control": "max-age=soon", "Expires": "tomorrow"}, 0},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.header {
			h.Set(k, v)
		}
		if got := serverHint(h, now); got != tc.want {
			t.Errorf("%s: serverHint = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{"-5", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0},
		{"99999999999", 7 * 24 * time.Hour},
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestIntervals(t *testing.T) {
	cfg := DefaultConfig() // 15m in [1m, 24h], backoff ceiling 6h
	tests := []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"plain", cfg.successInterval(15*time.Minute, 0, 0), 15 * time.Minute},
		{"max-age longer", cfg.successInterval(15*time.Minute, time.Hour, 0), time.Hour},
		{"ttl longer", cfg.successInterval(15*time.Minute, 0, 30*time.Minute), 30 * time.Minute},
		{"hint shorter is ignored", cfg.successInterval(15*time.Minute, time.Minute, 0), 15 * time.Minute},
		{"clamped to max", cfg.successInterval(15*time.Minute, 0, 7*24*time.Hour), 24 * time.Hour},
		{"clamped to min", cfg.successInterval(time.Second, 0, 0), time.Minute},
		{"backoff 1", cfg.backoff(15*time.Minute, 1, 0), 15 * time.Minute},
		{"backoff 3", cfg.backoff(15*time.Minute, 3, 0), time.Hour},
		{"backoff ceiling", cfg.backoff(15*time.Minute, 40, 0), 6 * time.Hour},
		{"retry-after longer", cfg.backoff(15*time.Minute, 1, 2*time.Hour), 2 * time.Hour},
		{"retry-after capped", cfg.backoff(15*time.Minute, 1, 7*24*time.Hour), 24 * time.Hour},
		{"adaptive grows", cfg.adaptiveInterval(20*time.Minute, 15*time.Minute, false), 30 * time.Minute},
		{"adaptive capped", cfg.adaptiveInterval(20*time.Hour, 15*time.Minute, false), 24 * time.Hour},
		{"adaptive resets", cfg.adaptiveInterval(20*time.Hour, 15*time.Minute, true), 15 * time.Minute},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestJitterBounds(t *testing.T) {
	for range 1000 {
		d := jitter(time.Hour, 0.1)
		if d < 54*time.Minute || d > 66*time.Minute {
			t.Fatalf("jitter(1h, 0.1) = %v", d)
		}
	}
	if jitter(time.Hour, 0) != time.Hour {
		t.Error("jitter 0 changed the interval")
	}
}

func TestScheduleFollowsFeedAndServer(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/ttl", served{body: readTestdata(t, "rss20.xml")}) // <ttl>30</ttl>
	srv.set("/sy", served{body: readTestdata(t, "rdf.xml")})    // hourly / 2
	srv.set("/maxage", served{body: readTestdata(t, "atom10.xml"), header: map[string]string{"Cache-Control": "max-age=7200"}})
	srv.set("/plain", served{body: readTestdata(t, "jsonfeed.json")})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/ttl")+"\n    interval: 10m\n  - url: "+srv.url("/sy")+"\n    interval: 10m\n  - url: "+srv.url("/maxage")+"\n    interval: 10m\n  - url: "+srv.url("/plain")+"\n    interval: 10m\n")
	cfg.PerHost = 4
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "four polls", func() bool { return h.polls(ClassOK) == 4 })
	h.stop()
	states := loadState(t, cfg)
	for path, want := range map[string]time.Duration{"/ttl": 30 * time.Minute, "/sy": 30 * time.Minute, "/maxage": 2 * time.Hour, "/plain": 10 * time.Minute} {
		st := states[srv.url(path)]
		if got := st.NextPoll.Sub(st.LastPoll); got < want-time.Second || got > want+time.Second {
			t.Errorf("%s: next poll after %v, want %v", path, got, want)
		}
	}
}

func TestAdaptiveSlowsQuietFeeds(t *testing.T) {
	srv := newFeedServer(t)
	srv.set("/quiet", served{body: readTestdata(t, "atom10.xml"), etag: `"q"`})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/quiet")+"\n    interval: 1s\n")
	cfg.Adaptive = true
	h := start(t, cfg, &recPublisher{})
	eventually(t, "four polls", func() bool { return len(srv.requests("/quiet")) >= 4 })
	h.stop()
	reqs := srv.requests("/quiet")
	// Poll 1 found items (1 s), then nothing new: 1.5 s, 2.25 s...
	if g1, g3 := reqs[1].at.Sub(reqs[0].at), reqs[3].at.Sub(reqs[2].at); g3 < g1+g1/2 {
		t.Errorf("quiet feed not slowed: gaps %v then %v", g1, g3)
	}
	if st := loadState(t, cfg)[srv.url("/quiet")]; st.Interval <= time.Second {
		t.Errorf("stored adaptive interval %v", st.Interval)
	}
}
