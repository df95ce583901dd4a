package feed

// The corpus run (issue 9): every real-world feed file in the repository's
// testdata, and gofeed's own test corpus from the module cache, served
// through the real fetcher. Each file must be parsed or rejected with a
// class (never a crash or a stuck poll), and every item of a parsed feed
// must be published exactly once: the ids published for a feed are compared
// with the ids computed independently from gofeed's parse of the same bytes.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/newsflow/newsflow/pkg/events"
)

// repoCorpusDirs are the repository's directories of feed files, relative
// to this package.
var repoCorpusDirs = []string{
	"testdata",
	"testdata/hostile",
	"testdata/corpus",
	"../../test/integration/testdata",
	"../../cmd/newsflow/samples",
	"../pipeline/testdata",
}

// repoCorpus lists the feed-like files of repoCorpusDirs (not READMEs).
func repoCorpus(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range repoCorpusDirs {
		entries, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.EqualFold(filepath.Ext(e.Name()), ".md") {
				continue
			}
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files
}

// corpusContentType is what a web server would send for the file.
func corpusContentType(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "application/feed+json"
	case ".atom":
		return "application/atom+xml"
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".rss":
		return "application/rss+xml"
	}
	return "application/xml"
}

// oracleIDs returns the ids of the items gofeed itself parses from body,
// computed by the id contract (events.ArticleID), without the fetcher's
// parse path; items with no guid, link or title are left out (the fetcher
// documents that it drops them). ok is false when gofeed cannot parse body.
func oracleIDs(body []byte, feedURL string) (ids map[string]bool, ok bool) {
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	ids = map[string]bool{}
	for _, it := range f.Items {
		if it == nil {
			continue
		}
		guid, link, title := strings.TrimSpace(it.GUID), strings.TrimSpace(it.Link), strings.TrimSpace(it.Title)
		if guid == "" && link == "" && title == "" {
			continue
		}
		var published time.Time
		if it.PublishedParsed != nil {
			published = it.PublishedParsed.UTC()
		} else if it.UpdatedParsed != nil {
			published = it.UpdatedParsed.UTC()
		}
		ids[events.ArticleID(feedURL, guid, link, title, published)] = true
	}
	return ids, true
}

// runCorpus serves files through one fetcher and checks each outcome.
func runCorpus(t *testing.T, files []string) {
	t.Helper()
	bodies := make([][]byte, len(files))
	mux := http.NewServeMux()
	for i, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = b
		ctype := corpusContentType(path)
		mux.HandleFunc(fmt.Sprintf("/f/%d/", i), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Write(b)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	urls := make([]string, len(files))
	for i, path := range files {
		urls[i] = fmt.Sprintf("%s/f/%d/%s", srv.URL, i, filepath.Base(path))
	}
	cfg := testConfig(t, feedList(urls...))
	cfg.PerHost = 16
	cfg.Timeout = 10 * time.Second
	pub := &recPublisher{}
	_, took := pollOnce(t, cfg, pub, len(files), 60*time.Second)

	published := map[string]map[string]int{} // feed URL -> id -> times
	for _, a := range pub.got() {
		if published[a.Source.FeedURL] == nil {
			published[a.Source.FeedURL] = map[string]int{}
		}
		published[a.Source.FeedURL][a.ID]++
		if f := invalidUTF8Field(a); f != "" {
			t.Errorf("%s: article %s: %s is not valid UTF-8", a.Source.FeedURL, a.ID, f)
		}
	}
	states := loadState(t, cfg)
	classes := map[Class]int{}
	items := 0
	for i, path := range files {
		st, ok := states[urls[i]]
		if !ok || st.LastPoll.IsZero() {
			t.Errorf("%s: never polled", path)
			continue
		}
		class := Class(st.LastError)
		if class == "" {
			class = ClassOK
		}
		classes[class]++
		if !slices.Contains(Classes(), class) {
			t.Errorf("%s: unknown class %q", path, class)
		}
		got := published[urls[i]]
		for id, n := range got {
			if n != 1 {
				t.Errorf("%s: item %s published %d times", path, id, n)
			}
		}
		if class != ClassOK {
			if len(got) != 0 {
				t.Errorf("%s: rejected (%s) yet %d items published", path, class, len(got))
			}
			if want, ok := oracleIDs(bodies[i], urls[i]); ok && len(want) > 0 {
				t.Logf("%s: rejected as %s (%s), though gofeed alone parses %d items", path, class, st.LastErrorText, len(want))
			}
			continue
		}
		items += len(got)
		want, ok := oracleIDs(bodies[i], urls[i])
		if !ok {
			// gofeed alone cannot read it (a charset only the fetcher
			// decodes): compare with the fetcher's own parse.
			p, err := Parse(bodies[i], corpusContentType(path), urls[i])
			if err != nil {
				t.Errorf("%s: published, but Parse fails: %v", path, err)
				continue
			}
			want = map[string]bool{}
			for _, it := range p.Items {
				want[it.Article.ID] = true
			}
		}
		var missing, extra int
		for id := range want {
			if got[id] == 0 {
				missing++
			}
		}
		for id := range got {
			if !want[id] {
				extra++
			}
		}
		if missing != 0 || extra != 0 {
			t.Errorf("%s: published %d distinct items, gofeed parses %d: %d missing, %d unexpected", path, len(got), len(want), missing, extra)
		}
	}
	t.Logf("%d files polled in %v: %d items published once each; classes %v", len(files), took, items, classes)
}

func TestCorpusThroughFetcher(t *testing.T) {
	t.Run("repository", func(t *testing.T) {
		files := repoCorpus(t)
		if len(files) < 10 {
			t.Fatalf("only %d corpus files found in %v", len(files), repoCorpusDirs)
		}
		runCorpus(t, files)
	})
	t.Run("gofeed", func(t *testing.T) {
		runCorpus(t, gofeedTestdata(t))
	})
}
