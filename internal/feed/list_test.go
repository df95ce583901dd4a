package feed

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseListYAML(t *testing.T) {
	yes := true
	l, err := ParseList(".yaml", []byte(`
title: Test list
feeds:
  - url: https://www.example.org/world/rss.xml
    title: World
    interval: 10m
    tags: [world, europe]
    full_text: true
    headers:
      X-Api-Key: secret
  - url: https://WWW.EXAMPLE.ORG/world/rss.xml
  - url: file:///tmp/local.xml
`))
	if err != nil {
		t.Fatal(err)
	}
	want := List{Title: "Test list", Feeds: []Source{
		{URL: "https://www.example.org/world/rss.xml", Title: "World", Interval: 10 * time.Minute, Tags: []string{"world", "europe"},
			FullText: &yes, Headers: map[string]string{"X-Api-Key": "secret"}},
		{URL: "file:///tmp/local.xml"},
	}}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("got %+v\nwant %+v", l, want)
	}
}

func TestParseListErrors(t *testing.T) {
	tests := []struct{ name, ext, body string }{
		{"ftp", ".yaml", "feeds:\n  - url: ftp://example.org/x\n"},
		{"no host", ".yaml", "feeds:\n  - url: https:///x\n"},
		{"relative", ".yml", "feeds:\n  - url: /x.xml\n"},
		{"relative file url", ".yaml", "feeds:\n  - url: file://feeds/x.xml\n"},
		{"unknown field", ".yaml", "feeds:\n  - url: https://example.org/x\n    intervall: 5m\n"},
		{"bad interval", ".yaml", "feeds:\n  - url: https://example.org/x\n    interval: often\n"},
		{"negative interval", ".yaml", "feeds:\n  - url: https://example.org/x\n    interval: -5m\n"},
		{"broken yaml", ".yaml", "feeds: [\n"},
		{"broken opml", ".opml", "<opml><body><outline"},
		{"not opml", ".opml", "<rss></rss>"},
	}
	for _, tc := range tests {
		if _, err := ParseList(tc.ext, []byte(tc.body)); !errors.Is(err, ErrBadList) {
			t.Errorf("%s: err = %v, want ErrBadList", tc.name, err)
		}
	}
}

func TestOPMLImportAndRoundTrip(t *testing.T) {
	l, err := LoadList(filepath.Join("..", "..", "feeds", "world-news.opml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Feeds) < 30 {
		t.Fatalf("bundled list has %d feeds, want at least 30", len(l.Feeds))
	}
	for _, s := range l.Feeds {
		if s.Title == "" || len(s.Tags) == 0 {
			t.Errorf("feed %s: title %q tags %v", s.URL, s.Title, s.Tags)
		}
	}
	var buf bytes.Buffer
	if err := WriteOPML(&buf, l); err != nil {
		t.Fatal(err)
	}
	back, err := ParseList(".opml", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Feeds, l.Feeds) || back.Title != l.Title {
		t.Errorf("round trip changed the list:\n%+v\n%+v", back, l)
	}
}

func TestOPMLNestedOutlines(t *testing.T) {
	l, err := ParseList(".opml", []byte(`<?xml version="1.0"?>
<opml version="1.0"><head><title>Mine</title></head><body>
  <outline text="Defence">
    <outline text="Defense News" type="rss" xmlUrl="https://www.defensenews.com/arc/outboundfeeds/rss/?outputType=xml" category="/usa"/>
  </outline>
  <outline text="Loose" type="rss" xmlUrl="https://example.org/loose.xml"/>
</body></opml>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Feeds) != 2 || l.Title != "Mine" {
		t.Fatalf("%+v", l)
	}
	if got := l.Feeds[0].Tags; !reflect.DeepEqual(got, []string{"Defence", "usa"}) {
		t.Errorf("tags %v", got)
	}
}

func TestSampleYAMLLoads(t *testing.T) {
	path := filepath.Join("..", "..", "feeds", "sample.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	l, err := LoadList(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Feeds) == 0 {
		t.Error("sample.yaml has no feeds")
	}
}
