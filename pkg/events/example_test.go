package events_test

import (
	"fmt"

	"github.com/newsflow/newsflow/pkg/events"
)

// A downstream consumer reads a message value from newsflow.articles.enriched
// and decodes it.
func Example_decodeEnriched() {
	value := []byte(`{
	  "schema_version": 1,
	  "id": "4f1c0e1e0f6a4b7c9d2e3f4a5b6c7d8e",
	  "source": {"feed_url": "https://news.example.org/world/rss.xml", "feed_title": "Example World News"},
	  "url": "https://news.example.org/world/1",
	  "title": "Seoul protests missile launch",
	  "authors": [], "categories": [], "language": "en",
	  "fetched_at": "2024-06-24T08:01:00Z",
	  "text": "Seoul protests missile launch\n\nNorth Korea fired a missile.",
	  "countries": [{"code": "KR", "name": "South Korea", "score": 0.8,
	                 "mentions": [{"start": 0, "end": 5, "surface": "Seoul", "kind": "capital"}]},
	                {"code": "KP", "name": "North Korea", "score": 0.9,
	                 "mentions": [{"start": 31, "end": 42, "surface": "North Korea", "kind": "name"}]}],
	  "people": [], "organizations": [],
	  "topics": [{"id": "missile_test", "label": "Missile test", "score": 0.7,
	              "evidence": [{"start": 43, "end": 59, "surface": "fired a missile."}]}],
	  "enriched_at": "2024-06-24T08:01:02Z",
	  "enricher_version": "1.0.0"
	}`)
	a, err := events.DecodeEnriched(value)
	if err != nil {
		fmt.Println("dead-letter:", err)
		return
	}
	fmt.Println(a.Title)
	for _, c := range a.Countries {
		if c.Score >= 0.5 {
			fmt.Printf("about %s (%s), first said as %q\n", c.Code, c.Name, c.Mentions[0].Surface)
		}
	}
	for _, t := range a.Topics {
		fmt.Printf("topic %s %.1f: %q\n", t.ID, t.Score, t.Evidence[0].Surface)
	}
	// Output:
	// Seoul protests missile launch
	// about KR (South Korea), first said as "Seoul"
	// about KP (North Korea), first said as "North Korea"
	// topic missile_test 0.7: "fired a missile."
}
