package enrich

import (
	"bytes"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/events"
)

// checkAppendJSON asserts AppendJSON writes exactly what MarshalJSON writes.
func checkAppendJSON(t *testing.T, a events.EnrichedArticle) {
	t.Helper()
	want, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppendJSON([]byte("prefix"), &a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("AppendJSON differs from MarshalJSON:\n got %s\nwant %s", got[len("prefix"):], want)
	}
}

func TestAppendJSON(t *testing.T) {
	tg := newTestTagger(t)
	for _, p := range []string{"testdata/fixture.jsonl", "testdata/seed.jsonl"} {
		for _, a := range readArticles(t, p) {
			checkAppendJSON(t, tg.Enrich(a, testNow))
		}
	}
	raw := rawArticle("esc", "q\"b\\s<>&\u2028\u2029\b\f\x01\x7f", "t\ttab\r\nnl \xff bad é")
	raw.GUID, raw.URL, raw.Summary = "g", "https://x.invalid/?a=1&b=2", "s"
	raw.Authors = []string{"A <a@x>"}
	raw.PublishedAt = time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600))
	raw.Source.FeedTitle, raw.Source.SiteURL = "T", "https://x.invalid"
	a := tg.Enrich(raw, testNow)
	a.DeclaredLanguage = "en"
	a.Topics = []events.Topic{{ID: "t", Label: "L", Score: 0.123456789, Evidence: []events.Evidence{{Start: 0, End: 1, Surface: "q"}}}, {ID: "u", Score: 1e-9}}
	a.People = []events.Entity{{Name: "N", Score: 1, Mentions: nil, WikidataID: "Q1"}}
	checkAppendJSON(t, a) // score 1e-9 takes the fallback path
	a.Topics = a.Topics[:1]
	checkAppendJSON(t, a)
	a.UpdatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := AppendJSON(nil, &a); err == nil {
		t.Error("year 10000: want MarshalJSON's error")
	}
}
