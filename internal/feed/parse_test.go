package feed

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTestdata(t *testing.T) {
	tests := []struct {
		file, contentType string
		title, lang       string
		ttl               time.Duration
		items             int
		firstTitle        string
		firstGUID         string
	}{
		{"rss20.xml", "application/rss+xml", "Harbour Times — World", "en-gb", 30 * time.Minute, 3, "Baltic states agree joint air-defence procurement", "ht-2026-11-25-0412"},
		{"rss091.xml", "", "Old Wire Service", "en-us", 0, 2, "Ceasefire talks resume in Geneva", ""},
		{"rdf.xml", "application/rdf+xml", "Science Desk", "de", 30 * time.Minute, 2, "Satellitenstart verschoben", ""},
		{"atom03.xml", "", "Legacy Atom Blog", "", 0, 1, "Notes from the border crossing", "tag:legacy-atom.example,2026:border"},
		{"atom10.xml", "application/atom+xml", "Le Monde Diplomatique (fixture)", "fr", 0, 2, "Sanctions : l'Union européenne adopte un nouveau paquet", "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"},
		{"jsonfeed.json", "application/feed+json", "Pacific Briefing", "en", 0, 2, "Fiji braces for early-season cyclone", "pb-2026-11-23-1"},
		{"windows-1252.xml", "text/xml", "Gazette de Genève (fixture)", "fr", 0, 1, "Réunion à Genève : l’OTAN et l’UE discutent défense", "gazette-1"},
		{"iso-8859-1-nodecl.xml", "application/rss+xml; charset=ISO-8859-1", "Diário Lusófono (fixture)", "pt", 0, 1, "Exército português participa em exercício da NATO", "diario-1"},
		{"iso-8859-1-nodecl.xml", "", "Diário Lusófono (fixture)", "pt", 0, 1, "Exército português participa em exercício da NATO", "diario-1"},
		{"seed-feed.xml", "", "Example World News", "en", 0, 1, "North Korean Military Official Criticizes US Military Aid to Ukraine", "seed-2024-06-24-nk-official-us-aid-ukraine"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p, err := Parse(readTestdata(t, tc.file), tc.contentType, "https://feeds.example/"+tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if p.Title != tc.title || p.Language != tc.lang || p.TTL != tc.ttl || len(p.Items) != tc.items {
				t.Fatalf("got title %q lang %q ttl %v items %d", p.Title, p.Language, p.TTL, len(p.Items))
			}
			a := p.Items[0].Article
			if a.Title != tc.firstTitle || a.GUID != tc.firstGUID {
				t.Errorf("first item %q guid %q", a.Title, a.GUID)
			}
			for _, it := range p.Items {
				if it.Article.ID == "" || len(it.Article.ID) != 32 || it.Hash == "" {
					t.Errorf("item %q: id %q hash %q", it.Article.Title, it.Article.ID, it.Hash)
				}
			}
		})
	}
}

func TestParseIDsFollowTheContract(t *testing.T) {
	p, err := Parse(readTestdata(t, "rss20.xml"), "", "https://feeds.example/world")
	if err != nil {
		t.Fatal(err)
	}
	// The third item has no guid: its id is the link's, without utm_*.
	third := p.Items[2].Article
	if want := "https://harbourtimes.example/world/2026/11/24/japan-philippines-raa"; third.GUID != "" || third.URL != want {
		t.Fatalf("third item guid %q url %q", third.GUID, third.URL)
	}
	tracked := strings.Replace(string(readTestdata(t, "rss20.xml")), "japan-philippines-raa</link>", "japan-philippines-raa?utm_source=x&amp;utm_campaign=y</link>", 1)
	p2, err := Parse([]byte(tracked), "", "https://feeds.example/world")
	if err != nil {
		t.Fatal(err)
	}
	if p2.Items[2].Article.ID != third.ID {
		t.Error("tracking parameters changed the id of a guid-less item")
	}
	if p.Items[2].Hash != p2.Items[2].Hash {
		t.Error("tracking parameters changed the content hash: the item would be republished as updated")
	}
	edited := strings.Replace(string(readTestdata(t, "rss20.xml")), "train on the other's territory.", "train on the other's territory from 2027.", 1)
	p3, err := Parse([]byte(edited), "", "https://feeds.example/world")
	if err != nil {
		t.Fatal(err)
	}
	if p3.Items[2].Hash == p.Items[2].Hash || p3.Items[2].Article.ID != third.ID {
		t.Error("an edited description must keep the id and change the hash")
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		notAFeed bool
	}{
		{"html", string(readTestdata(t, "notafeed.html")), true},
		{"empty", "", true},
		{"plain text", "hello, world", true},
		{"truncated rss", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a</item>`, false},
		{"bad json feed", `{"version": "https://jsonfeed.org/version/1.1", "items": [`, false},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.body), "", "https://feeds.example/x")
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if errors.Is(err, ErrNotAFeed) != tc.notAFeed {
			t.Errorf("%s: ErrNotAFeed = %v, want %v (%v)", tc.name, !tc.notAFeed, tc.notAFeed, err)
		}
	}
}

func TestParseEntityExpansionIsBounded(t *testing.T) {
	p, err := Parse(readTestdata(t, "billion-laughs.xml"), "", "https://laughs.example/rss")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if n := len(p.Items[0].Article.Title) + len(p.Items[0].Article.Summary); n > 1000 {
		t.Errorf("entities expanded to %d bytes", n)
	}
}

// gofeedTestdata returns gofeed's own real-world test feeds, from the module
// cache (go list), or skips.
func gofeedTestdata(t testing.TB) []string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/mmcdole/gofeed").Output()
	if err != nil {
		t.Skipf("gofeed module not found: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata", "parser")
	var files []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".xml") || (strings.HasPrefix(filepath.Base(filepath.Dir(path)), "json") && strings.HasSuffix(path, ".json"))) {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("gofeed testdata not found")
	}
	return files
}

func TestParseGofeedTestdata(t *testing.T) {
	files := gofeedTestdata(t)
	parsed, items := 0, 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(b, "", "https://feeds.example/"+filepath.Base(path))
		if err != nil {
			continue // gofeed's corpus includes invalid documents on purpose
		}
		parsed++
		for _, it := range p.Items {
			if len(it.Article.ID) != 32 {
				t.Errorf("%s: bad id %q", path, it.Article.ID)
			}
			items++
		}
	}
	if parsed < len(files)/2 {
		t.Errorf("parsed only %d of %d gofeed test feeds", parsed, len(files))
	}
	t.Logf("parsed %d of %d gofeed test feeds, %d items", parsed, len(files), items)
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"rss20.xml", "rss091.xml", "rdf.xml", "atom03.xml", "atom10.xml", "jsonfeed.json",
		"windows-1252.xml", "iso-8859-1-nodecl.xml", "seed-feed.xml", "billion-laughs.xml", "notafeed.html"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
	}
	f.Add([]byte(`<rss version="2.0"><channel><item><guid></guid></item></channel></rss>`), "text/xml; charset=koi8-r")
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1","items":[{"id":1}]}`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		p, err := Parse(body, contentType, "https://fuzz.example/feed")
		if err != nil {
			return
		}
		ids := map[string]bool{}
		for _, it := range p.Items {
			a := it.Article
			if len(a.ID) != 32 {
				t.Fatalf("id %q", a.ID)
			}
			if ids[a.ID] {
				t.Fatalf("duplicate id %s in one document", a.ID)
			}
			ids[a.ID] = true
		}
	})
}
