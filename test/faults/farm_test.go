package faults

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/events"
)

// farm is a local feed farm: many RSS feeds on one httptest server, to which
// items are appended over time. Each feed always lists every item it ever
// published (newest first), so an item never leaves its feed before the
// fetcher could see it; the farm answers conditional GETs (ETag,
// Last-Modified) and records every item it served in a 200 response.
type farm struct {
	srv   *httptest.Server
	feeds []*farmFeed

	mu        sync.Mutex
	published int
	served    map[string]farmItem // article id → item, items sent in a complete response
	responses int
	notMod    int
}

type farmFeed struct {
	url      string // as listed in the feed list: the article ids' feed URL
	items    []farmItem
	modified time.Time
}

type farmItem struct {
	ID      string // events.ArticleID of the item, as the fetcher computes it
	FeedURL string
	GUID    string
	Link    string
	Title   string
}

// places gives the items text for the enricher to tag.
var places = []string{"Ukraine", "Poland", "Germany", "Japan", "Brazil", "Kenya", "India", "France", "Canada", "Egypt"}

func newFarm(t *testing.T, feeds int) *farm {
	f := &farm{served: map[string]farmItem{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	for i := range feeds {
		f.feeds = append(f.feeds, &farmFeed{url: fmt.Sprintf("%s/feeds/%03d.xml", f.srv.URL, i), modified: time.Now().UTC()})
	}
	return f
}

// writeList writes the feed list (YAML) of the farm's feeds to path.
func (f *farm) writeList(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("title: newsflow fault-injection feed farm\nfeeds:\n")
	for _, fd := range f.feeds {
		fmt.Fprintf(&b, "  - url: %s\n", fd.url)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// publish appends total items to random feeds at an even rate over d, or
// until ctx ends. It returns the number published.
func (f *farm) publish(ctx context.Context, total int, d time.Duration, rng *rand.Rand) int {
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		due := int(float64(total) * float64(time.Since(start)) / float64(d))
		due = min(due, total)
		f.mu.Lock()
		for f.published < due {
			fd := f.feeds[rng.IntN(len(f.feeds))]
			n := f.published
			place := places[n%len(places)]
			it := farmItem{
				FeedURL: fd.url,
				GUID:    fmt.Sprintf("urn:newsflow-faults:%d", n),
				Link:    fmt.Sprintf("%s/articles/%d.html", f.srv.URL, n),
				Title:   fmt.Sprintf("Report %d: %s talks on military aid and sanctions", n, place),
			}
			it.ID = events.ArticleID(it.FeedURL, it.GUID, it.Link, it.Title, time.Time{})
			fd.items = append(fd.items, it)
			fd.modified = time.Now().UTC().Truncate(time.Second)
			f.published++
		}
		done := f.published >= total
		f.mu.Unlock()
		if done {
			return total
		}
		select {
		case <-ctx.Done():
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.published
		case <-tick.C:
		}
	}
}

func (f *farm) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/feeds/")
	n, err := strconv.Atoi(strings.TrimSuffix(name, ".xml"))
	if !ok || err != nil || n < 0 || n >= len(f.feeds) {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	fd := f.feeds[n]
	items := fd.items[:len(fd.items):len(fd.items)]
	modified := fd.modified
	f.mu.Unlock()

	etag := fmt.Sprintf(`"%d-%d"`, n, len(items))
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
	if r.Header.Get("If-None-Match") == etag {
		f.mu.Lock()
		f.notMod++
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Farm feed %d</title><link>%s</link><description>fault-injection feed</description>\n", n, f.srv.URL)
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		place := places[i%len(places)]
		fmt.Fprintf(&b, "<item><title>%s</title><link>%s</link><guid isPermaLink=\"false\">%s</guid><description>%s</description></item>\n",
			html.EscapeString(it.Title), html.EscapeString(it.Link), html.EscapeString(it.GUID),
			html.EscapeString("Officials in "+place+" discussed arms deliveries, a ceasefire and new export controls with delegations from the European Union and NATO."))
	}
	b.WriteString("</channel></rss>\n")
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	if _, err := w.Write(b.Bytes()); err != nil {
		return // not served: the client went away
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responses++
	for _, it := range items {
		f.served[it.ID] = it
	}
}

// counts returns how many items were published and served so far.
func (f *farm) counts() (published, served int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.published, len(f.served)
}

// servedItems returns a copy of the served items.
func (f *farm) servedItems() map[string]farmItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]farmItem, len(f.served))
	for k, v := range f.served {
		out[k] = v
	}
	return out
}

// stats returns how many 200 and 304 responses the farm sent.
func (f *farm) stats() (ok, notModified int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.responses, f.notMod
}
