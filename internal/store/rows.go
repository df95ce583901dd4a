package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/events"
)

// timeLayout is how SQLite stores timestamps: fixed width, so that text order
// is time order, and microseconds, the precision of PostgreSQL's timestamptz.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// futureSkew is how far published_at may be ahead of fetched_at before the
// article time falls back to fetched_at (feeds do publish bogus future dates).
const futureSkew = time.Hour

// articleRow is one article prepared for writing. Times are truncated to
// microseconds and in UTC, so both engines compare versions alike.
type articleRow struct {
	index                                         int // position in the batch
	id, url, title, feedURL, feedTitle, language  string
	text, enricherVersion                         string
	publishedAt, updatedAt, fetchedAt, enrichedAt time.Time
	articleTime                                   time.Time
	event                                         []byte
	countries                                     []countryRow
	people, organizations                         []entityRow
	topics                                        []topicRow
	written                                       bool // inserted or updated by the last Write
}

type countryRow struct {
	code, name   string
	score        float64
	mentionCount int
}

type entityRow struct {
	name, wikidataID string
	score            float64
	mentionCount     int
}

type topicRow struct {
	id, label     string
	score         float64
	evidenceCount int
}

func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// articleTime is the time dashboards bucket an article by: published_at, or
// fetched_at when published_at is missing or implausibly in the future.
func articleTime(published, fetched time.Time) time.Time {
	if published.IsZero() || published.After(fetched.Add(futureSkew)) {
		return fetched
	}
	return published
}

// newer reports whether row a is a strictly newer version than b: later
// updated_at, then (equal updated_at) later enriched_at. A zero time is older
// than any other.
func newer(aUpdated, aEnriched, bUpdated, bEnriched time.Time) bool {
	if !aUpdated.Equal(bUpdated) {
		return aUpdated.After(bUpdated)
	}
	return aEnriched.After(bEnriched)
}

// checkText reports why s cannot be stored as text in both engines, or "".
func checkText(field, s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return field + " contains a NUL byte"
	case !utf8.ValidString(s):
		return field + " is not valid UTF-8"
	}
	return ""
}

// prepare validates the batch and turns it into rows, keeping only the newest
// version of each id. It returns a *RejectedError naming every article that can
// never be stored, and the number of in-batch duplicates dropped.
func prepare(batch []events.EnrichedArticle) ([]articleRow, int, error) {
	rows := make([]articleRow, 0, len(batch))
	at := make(map[string]int, len(batch))
	var rejected []Rejection
	dropped := 0
	for i := range batch {
		r, reason := toRow(i, &batch[i])
		if reason != "" {
			rejected = append(rejected, Rejection{ID: batch[i].ID, Reason: reason, Index: i})
			continue
		}
		if j, ok := at[r.id]; ok {
			dropped++
			if newer(r.updatedAt, r.enrichedAt, rows[j].updatedAt, rows[j].enrichedAt) {
				rows[j] = r
			}
			continue
		}
		at[r.id] = len(rows)
		rows = append(rows, r)
	}
	if len(rejected) > 0 {
		return nil, 0, &RejectedError{Rejected: rejected}
	}
	return rows, dropped, nil
}

func toRow(i int, a *events.EnrichedArticle) (articleRow, string) {
	// The event's own rules first (they bound scores and spans), forcing
	// the schema version: a decoded event always has it, a built one may not.
	v := *a
	v.SchemaVersion = events.SchemaVersion
	if err := v.Validate(); err != nil {
		return articleRow{}, err.Error()
	}
	for _, f := range [][2]string{
		{"id", a.ID}, {"url", a.URL}, {"title", a.Title}, {"source.feed_url", a.Source.FeedURL},
		{"source.feed_title", a.Source.FeedTitle}, {"language", a.Language}, {"text", a.Text},
		{"enricher_version", a.EnricherVersion},
	} {
		if reason := checkText(f[0], f[1]); reason != "" {
			return articleRow{}, reason
		}
	}
	ev, err := a.MarshalJSON() // not json.Marshal: it would compact the output again
	if err != nil {
		return articleRow{}, fmt.Sprintf("encode event: %v", err)
	}
	if strings.Contains(string(ev), `\u0000`) {
		return articleRow{}, "event contains a NUL character"
	}
	r := articleRow{
		index: i, id: a.ID, url: a.URL, title: a.Title, feedURL: a.Source.FeedURL,
		feedTitle: a.Source.FeedTitle, language: a.Language, text: a.Text,
		enricherVersion: a.EnricherVersion,
		publishedAt:     normTime(a.PublishedAt), updatedAt: normTime(a.UpdatedAt),
		fetchedAt: normTime(a.FetchedAt), enrichedAt: normTime(a.EnrichedAt),
		event: ev,
	}
	r.articleTime = articleTime(r.publishedAt, r.fetchedAt)

	seen := map[string]bool{}
	for _, c := range a.Countries {
		if seen[c.Code] {
			return articleRow{}, fmt.Sprintf("country %s tagged twice", c.Code)
		}
		seen[c.Code] = true
		if reason := checkText("country name", c.Name); reason != "" {
			return articleRow{}, reason
		}
		r.countries = append(r.countries, countryRow{code: c.Code, name: c.Name, score: c.Score, mentionCount: len(c.Mentions)})
	}
	var reason string
	if r.people, reason = entityRows("person", a.People); reason != "" {
		return articleRow{}, reason
	}
	if r.organizations, reason = entityRows("organization", a.Organizations); reason != "" {
		return articleRow{}, reason
	}
	clear(seen)
	for _, t := range a.Topics {
		if seen[t.ID] {
			return articleRow{}, fmt.Sprintf("topic %s tagged twice", t.ID)
		}
		seen[t.ID] = true
		for _, f := range [][2]string{{"topic id", t.ID}, {"topic label", t.Label}} {
			if reason := checkText(f[0], f[1]); reason != "" {
				return articleRow{}, reason
			}
		}
		r.topics = append(r.topics, topicRow{id: t.ID, label: t.Label, score: t.Score, evidenceCount: len(t.Evidence)})
	}
	return r, ""
}

func entityRows(kind string, es []events.Entity) ([]entityRow, string) {
	rows := make([]entityRow, 0, len(es))
	seen := make(map[string]bool, len(es))
	for _, e := range es {
		switch {
		case e.Name == "":
			return nil, kind + " with an empty name"
		case seen[e.Name]:
			return nil, fmt.Sprintf("%s %q tagged twice", kind, e.Name)
		}
		seen[e.Name] = true
		for _, f := range [][2]string{{kind + " name", e.Name}, {kind + " wikidata_id", e.WikidataID}} {
			if reason := checkText(f[0], f[1]); reason != "" {
				return nil, reason
			}
		}
		rows = append(rows, entityRow{name: e.Name, wikidataID: e.WikidataID, score: e.Score, mentionCount: len(e.Mentions)})
	}
	return rows, ""
}

// tagRows counts the tag rows of r by table.
func (r *articleRow) addRows(m map[string]int) {
	m["articles"]++
	m["article_countries"] += len(r.countries)
	m["article_people"] += len(r.people)
	m["article_organizations"] += len(r.organizations)
	m["article_topics"] += len(r.topics)
}

func newRowCounts() map[string]int {
	m := make(map[string]int, 5)
	for _, t := range Tables() {
		m[t] = 0
	}
	return m
}

// limit returns f.Limit bounded to [1, 10000], 50 when unset.
func (f Filter) limit() int {
	switch {
	case f.Limit <= 0:
		return 50
	case f.Limit > 10000:
		return 10000
	}
	return f.Limit
}
