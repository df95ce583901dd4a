package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/newsflow/newsflow/pkg/events"
)

// feedFiles are the files in testdata that the feed server serves, with
// their content types and titles for the feed list.
var feedFiles = []struct {
	file, contentType, title string
}{
	{"seed-feed.xml", "application/rss+xml; charset=utf-8", "Example World News"},
	{"global-affairs.rss", "application/rss+xml; charset=utf-8", "Global Affairs Wire"},
	{"defence-review.atom", "application/atom+xml; charset=utf-8", "Defence and Security Review"},
	{"asia-pacific.json", "application/feed+json; charset=utf-8", "Asia-Pacific Briefing"},
}

// seedGUID is the guid of the seed article in seed-feed.xml.
const seedGUID = "seed-2024-06-24-nk-official-us-aid-ukraine"

// feedServer serves the testdata feed files over HTTP with ETag and
// Last-Modified, answering conditional requests with 304, and counts the
// requests and 304s per path.
type feedServer struct {
	srv *httptest.Server
	// feeds maps each feed URL to its file's bytes.
	feeds map[string][]byte

	mu          sync.Mutex
	requests    map[string]int
	notModified map[string]int
}

// newFeedServer starts the server; t.Cleanup closes it.
func newFeedServer(t *testing.T) *feedServer {
	t.Helper()
	fs := &feedServer{feeds: map[string][]byte{}, requests: map[string]int{}, notModified: map[string]int{}}
	modTime := time.Date(2024, 7, 19, 12, 0, 0, 0, time.UTC)
	mux := http.NewServeMux()
	for _, f := range feedFiles {
		body, err := os.ReadFile(filepath.Join("testdata", f.file))
		if err != nil {
			t.Fatalf("read feed file: %v", err)
		}
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		path := "/feeds/" + f.file
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", f.contentType)
			w.Header().Set("ETag", etag)
			rec := &statusRecorder{ResponseWriter: w}
			http.ServeContent(rec, r, f.file, modTime, bytes.NewReader(body))
			fs.mu.Lock()
			fs.requests[path]++
			if rec.status == http.StatusNotModified {
				fs.notModified[path]++
			}
			fs.mu.Unlock()
		})
		fs.feeds[path] = body
	}
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(fs.srv.Close)
	byURL := make(map[string][]byte, len(fs.feeds))
	for path, body := range fs.feeds {
		byURL[fs.srv.URL+path] = body
	}
	fs.feeds = byURL
	return fs
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// writeFeedList writes the fetcher's YAML feed list of every served feed
// into dir and returns its path.
func (fs *feedServer) writeFeedList(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("feeds:\n")
	for _, f := range feedFiles {
		fmt.Fprintf(&b, "  - url: %s/feeds/%s\n    title: %q\n", fs.srv.URL, f.file, f.title)
	}
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("write feed list: %v", err)
	}
	return path
}

// counts returns the number of requests and of 304 answers per feed path.
func (fs *feedServer) counts() (requests, notModified map[string]int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return maps.Clone(fs.requests), maps.Clone(fs.notModified)
}

// servedArticle is an item of a served feed, as an independent parser
// (gofeed directly, not newsflow's feed package) sees it.
type servedArticle struct {
	FeedURL string
	GUID    string
	Title   string
}

// expectedArticles parses every served feed and returns its distinct items
// by article id (events.ArticleID of the feed URL and the item's identity),
// the ids the fetcher must publish.
func (fs *feedServer) expectedArticles(t *testing.T) map[string]servedArticle {
	t.Helper()
	want := map[string]servedArticle{}
	items := 0
	for feedURL, body := range fs.feeds {
		f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("parse served feed %s: %v", feedURL, err)
		}
		for _, it := range f.Items {
			var published time.Time
			if it.PublishedParsed != nil {
				published = *it.PublishedParsed
			} else if it.UpdatedParsed != nil {
				published = *it.UpdatedParsed
			}
			id := events.ArticleID(feedURL, strings.TrimSpace(it.GUID), strings.TrimSpace(it.Link), strings.TrimSpace(it.Title), published)
			want[id] = servedArticle{FeedURL: feedURL, GUID: strings.TrimSpace(it.GUID), Title: strings.TrimSpace(it.Title)}
			items++
		}
	}
	if len(want) < 20 || items == len(want) {
		t.Fatalf("testdata feeds: %d items, %d distinct; want at least 20 distinct and one repeated item", items, len(want))
	}
	return want
}

// seedID returns the article id of the seed article.
func seedID(t *testing.T, want map[string]servedArticle) string {
	t.Helper()
	for id, a := range want {
		if a.GUID == seedGUID {
			return id
		}
	}
	t.Fatalf("the seed article (guid %s) is not among the served feeds", seedGUID)
	return ""
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
