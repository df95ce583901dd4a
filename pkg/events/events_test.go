package events_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/newsflow/newsflow/pkg/events"
)

func raw() events.RawArticle {
	return events.RawArticle{
		SchemaVersion: 1,
		ID:            events.ArticleID("https://news.example.org/rss.xml", "g1", "", "", time.Time{}),
		Source:        events.Source{FeedURL: "https://news.example.org/rss.xml", FeedTitle: "Example"},
		GUID:          "g1",
		URL:           "https://news.example.org/1",
		Title:         "Seoul protests launch",
		Content:       "<p>North Korea fired a missile.</p>",
		Language:      "en",
		PublishedAt:   time.Date(2024, 6, 24, 8, 0, 0, 0, time.UTC),
		FetchedAt:     time.Date(2024, 6, 24, 8, 1, 0, 0, time.UTC),
	}
}

func enriched() events.EnrichedArticle {
	e := events.NewEnriched(raw())
	e.Text = "Seoul protests launch\n\nNorth Korea fired a missile."
	e.Language = "en"
	e.Countries = []events.Country{{Code: "KP", Name: "North Korea", Score: 0.9,
		Mentions: []events.Mention{{Start: 23, End: 34, Surface: "North Korea", Kind: "name"}}}}
	e.Topics = []events.Topic{{ID: "missile_test", Label: "Missile test", Score: 0.7,
		Evidence: []events.Evidence{{Start: 35, End: 50, Surface: "fired a missile"}}}}
	e.EnrichedAt = time.Date(2024, 6, 24, 8, 1, 1, 0, time.UTC)
	e.EnricherVersion = "test"
	return e
}

func TestRoundTrip(t *testing.T) {
	e := enriched()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.DecodeEnriched(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(got)
	if string(b) != string(b2) {
		t.Errorf("round trip changed the document:\n%s\n%s", b, b2)
	}
	// Every RawArticle field is at the top level, and nil lists are [].
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema_version", "id", "source", "guid", "url", "title", "content", "authors", "categories",
		"language", "published_at", "fetched_at", "text", "countries", "people", "organizations", "topics", "enriched_at", "enricher_version"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing from %s", k, b)
		}
	}
	if _, ok := m["updated_at"]; ok {
		t.Errorf("zero updated_at should be omitted")
	}
	if string(mustJSON(t, m["people"])) != "[]" {
		t.Errorf("people = %s, want []", mustJSON(t, m["people"]))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	good, _ := json.Marshal(enriched())
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"not json", "{nope", events.ErrMalformed},
		{"array", "[1,2]", events.ErrMalformed},
		{"null", "null", events.ErrMalformed},
		{"empty", "", events.ErrMalformed},
		{"version 2 with other shape", `{"schema_version":2,"title":["a"]}`, events.ErrSchemaVersion},
		{"no version", `{"id":"x"}`, events.ErrSchemaVersion},
		{"version 2", strings.Replace(string(good), `"schema_version":1`, `"schema_version":2`, 1), events.ErrSchemaVersion},
		{"wrong type", strings.Replace(string(good), `"title":"Seoul protests launch"`, `"title":7`, 1), events.ErrMalformed},
		{"empty id", strings.Replace(string(good), `"id":"`, `"id":"","x":"`, 1), events.ErrInvalid},
		{"no fetched_at", strings.Replace(string(good), `"fetched_at":"2024-06-24T08:01:00Z",`, ``, 1), events.ErrInvalid},
		{"span outside text", strings.Replace(string(good), `"end":34`, `"end":3400`, 1), events.ErrInvalid},
		{"surface mismatch", strings.Replace(string(good), `"surface":"North Korea"`, `"surface":"South Korea"`, 1), events.ErrInvalid},
		{"score above 1", strings.Replace(string(good), `"score":0.9`, `"score":1.5`, 1), events.ErrInvalid},
		{"bad country code", strings.Replace(string(good), `"code":"KP"`, `"code":"kp"`, 1), events.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.DecodeEnriched([]byte(tc.input))
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestArticleIDStable(t *testing.T) {
	feed := "https://news.example.org/rss.xml"
	pub := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		a, b       [4]string
		sameExpect bool
	}{
		{"same guid", [4]string{"g", "https://x/1", "t"}, [4]string{"g", "https://x/2", "other"}, true},
		{"different guid", [4]string{"g1"}, [4]string{"g2"}, false},
		{"link without tracking", [4]string{"", "https://X.org/a?utm_source=rss&id=3#top"}, [4]string{"", "https://x.org/a?id=3"}, true},
		{"link param order", [4]string{"", "https://x.org/a?b=2&a=1"}, [4]string{"", "https://x.org/a?a=1&b=2"}, true},
		{"different links", [4]string{"", "https://x.org/a"}, [4]string{"", "https://x.org/b"}, false},
		{"title fallback", [4]string{"", "", "Title"}, [4]string{"", "", "Title"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := events.ArticleID(feed, tc.a[0], tc.a[1], tc.a[2], pub)
			b := events.ArticleID(feed, tc.b[0], tc.b[1], tc.b[2], pub)
			if (a == b) != tc.sameExpect {
				t.Errorf("ids %s and %s: same=%v, want %v", a, b, a == b, tc.sameExpect)
			}
			if len(a) != 32 {
				t.Errorf("id %q: want 32 hex digits", a)
			}
		})
	}
	if events.ArticleID(feed, "g", "", "", pub) == events.ArticleID(feed+"2", "g", "", "", pub) {
		t.Error("the same guid in another feed must get another id")
	}
}

func TestHeaders(t *testing.T) {
	e := enriched()
	hs := events.EnrichedHeaders(e)
	want := map[string]string{
		events.HeaderSpecVersion: "1.0", events.HeaderType: events.TypeEnriched,
		events.HeaderContentType: "application/json", events.HeaderSubject: e.ID,
		events.HeaderTime: "2024-06-24T08:01:01Z",
	}
	for k, v := range want {
		if got := events.HeaderValue(hs, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if id := events.HeaderValue(hs, events.HeaderID); id == "" || id != events.HeaderValue(events.EnrichedHeaders(e), events.HeaderID) {
		t.Errorf("ce_id %q must be non-empty and stable", id)
	}
	r := raw()
	id1 := events.HeaderValue(events.RawHeaders(r), events.HeaderID)
	r.UpdatedAt = r.FetchedAt.Add(time.Hour)
	r.Content += " Updated."
	if id2 := events.HeaderValue(events.RawHeaders(r), events.HeaderID); id1 == id2 {
		t.Error("a new version of an article must get a new ce_id")
	}
	if src := events.HeaderValue(events.RawHeaders(r), events.HeaderSource); src != r.Source.FeedURL {
		t.Errorf("raw ce_source = %q", src)
	}
}

// TestSchemas checks that what the Go types encode validates against the
// published JSON Schemas, and that the schemas reject what Validate rejects.
func TestSchemas(t *testing.T) {
	c := jsonschema.NewCompiler()
	for _, name := range []string{events.SchemaRawFile, events.SchemaEnrichedFile} {
		b, err := fs.ReadFile(events.Schemas, name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(name, doc); err != nil {
			t.Fatal(err)
		}
	}
	rawSchema := c.MustCompile(events.SchemaRawFile)
	enrSchema := c.MustCompile(events.SchemaEnrichedFile)
	check := func(s *jsonschema.Schema, v any, valid bool) {
		t.Helper()
		b, _ := json.Marshal(v)
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Validate(doc)
		if (err == nil) != valid {
			t.Errorf("validate %s: err=%v, want valid=%v", b, err, valid)
		}
	}
	check(rawSchema, raw(), true)
	check(enrSchema, enriched(), true)
	check(rawSchema, enriched(), true) // an enriched article is also a raw one
	bad := enriched()
	bad.Countries[0].Code = "kp"
	check(enrSchema, bad, false)
	bad = enriched()
	bad.Topics[0].Score = 2
	check(enrSchema, bad, false)
	check(enrSchema, raw(), false) // no text, tags, enricher_version
}
