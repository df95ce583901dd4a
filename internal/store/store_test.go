package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/events"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m) // pgx's pool and database/sql keep no goroutines after Close; the
	// SQLite driver none at all. Nothing to ignore.

}

// engine is one database the suite runs against.
type engine struct {
	name string
	// opts are the engine's options for every Open.
	opts Options
	// newURL returns the URL of a fresh, empty database for t.
	newURL func(t *testing.T) string
}

func engines() []engine {
	return []engine{
		{"sqlite", Options{}, func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "db", "newsflow.db") }},
		{"postgres", Options{PGWriteMethod: PGWriteCopy}, newPostgresDB},
		{"postgres_upsert", Options{PGWriteMethod: PGWriteUpsert}, newPostgresDB},
	}
}

// forEngines runs f as a subtest per engine.
func forEngines(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// open opens the store at url with the engine's options plus opts.
func (e engine) open(t *testing.T, url string, opts Options) (Store, *prometheus.Registry) {
	t.Helper()
	if opts.PGWriteMethod == "" {
		opts.PGWriteMethod = e.opts.PGWriteMethod
	}
	reg := prometheus.NewRegistry()
	if opts.Registerer == nil {
		opts.Registerer = reg
	}
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", Redact(url), err)
	}
	t.Cleanup(func() { s.Close() })
	return s, reg
}

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// article returns a valid enriched article about country code with the given
// people and topic, fetched at t0+i minutes.
func article(i int, code string, person string, topic string) events.EnrichedArticle {
	title := fmt.Sprintf("Report %d on %s", i, code)
	body := fmt.Sprintf("%s met officials; the arms shipment was discussed. Sanctions followed.", person)
	raw := events.RawArticle{
		SchemaVersion: events.SchemaVersion,
		ID:            fmt.Sprintf("id-%04d", i),
		Source:        events.Source{FeedURL: "https://example.org/feed.xml", FeedTitle: "Example"},
		URL:           fmt.Sprintf("https://example.org/a/%d", i),
		Title:         title,
		Language:      "en",
		PublishedAt:   t0.Add(time.Duration(i) * time.Minute).Add(-time.Minute),
		FetchedAt:     t0.Add(time.Duration(i) * time.Minute),
	}
	a := events.NewEnriched(raw)
	a.Text = title + "\n\n" + body
	off := len(title) + 2
	a.Countries = []events.Country{{Code: code, Name: code + "-land", Score: 0.8,
		Mentions: []events.Mention{{Start: len("Report 0 on ") + len(fmt.Sprint(i)) - 1, End: len(title), Surface: code}}}}
	a.People = []events.Entity{{Name: person, Score: 0.6, WikidataID: "Q1",
		Mentions: []events.Mention{{Start: off, End: off + len(person), Surface: person}}}}
	a.Organizations = []events.Entity{}
	a.Topics = []events.Topic{{ID: topic, Label: topic + " label", Score: 0.9}}
	a.EnrichedAt = raw.FetchedAt.Add(time.Second)
	a.EnricherVersion = "test-1"
	return a
}

func mustValid(t *testing.T, as ...events.EnrichedArticle) {
	t.Helper()
	for _, a := range as {
		if err := a.Validate(); err != nil {
			t.Fatalf("test article %s invalid: %v", a.ID, err)
		}
	}
}

func write(t *testing.T, s Store, batch ...events.EnrichedArticle) WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), batch)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

func query(t *testing.T, s Store, f Filter) []Article {
	t.Helper()
	as, err := s.Query(context.Background(), f)
	if err != nil {
		t.Fatalf("Query(%+v): %v", f, err)
	}
	return as
}

func ids(as []Article) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func TestWriteIsIdempotent(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		s, reg := e.open(t, e.newURL(t), Options{})
		batch := []events.EnrichedArticle{article(1, "KP", "Kim Jong Un", "arms_trade"), article(2, "RU", "Vladimir Putin", "sanctions")}
		mustValid(t, batch...)
		res := write(t, s, batch...)
		if res.Inserted != 2 || res.Updated != 0 || res.Skipped != 0 {
			t.Errorf("first write = %+v, want 2 inserted", res)
		}
		wantRows := map[string]int{"articles": 2, "article_countries": 2, "article_people": 2, "article_organizations": 0, "article_topics": 2}
		if fmt.Sprint(res.Rows) != fmt.Sprint(wantRows) {
			t.Errorf("rows = %v, want %v", res.Rows, wantRows)
		}
		for range 2 { // redelivery, twice
			res = write(t, s, batch...)
			if res.Inserted != 0 || res.Updated != 0 || res.Skipped != 2 {
				t.Errorf("redelivery = %+v, want 2 skipped", res)
			}
		}
		// The same article twice in one batch: stored once.
		res = write(t, s, article(3, "US", "Joe Biden", "military_aid"), article(3, "US", "Joe Biden", "military_aid"))
		if res.Inserted != 1 || res.Skipped != 1 {
			t.Errorf("in-batch duplicate = %+v, want 1 inserted 1 skipped", res)
		}
		got := query(t, s, Filter{})
		if fmt.Sprint(ids(got)) != "[id-0003 id-0002 id-0001]" {
			t.Fatalf("articles = %v, want each once, newest first", ids(got))
		}
		a := got[2]
		if len(a.Countries) != 1 || a.Countries[0] != (CountryTag{Code: "KP", Name: "KP-land", Score: 0.8, MentionCount: 1}) {
			t.Errorf("countries = %+v", a.Countries)
		}
		if len(a.People) != 1 || a.People[0] != (EntityTag{Name: "Kim Jong Un", Score: 0.6, MentionCount: 1, WikidataID: "Q1"}) {
			t.Errorf("people = %+v", a.People)
		}
		if len(a.Topics) != 1 || a.Topics[0] != (TopicTag{ID: "arms_trade", Label: "arms_trade label", Score: 0.9}) {
			t.Errorf("topics = %+v", a.Topics)
		}
		want := article(1, "KP", "Kim Jong Un", "arms_trade")
		if !a.FetchedAt.Equal(want.FetchedAt) || !a.Time.Equal(want.PublishedAt) || !a.PublishedAt.Equal(want.PublishedAt) ||
			!a.EnrichedAt.Equal(want.EnrichedAt) || !a.UpdatedAt.IsZero() || a.Title != want.Title || a.URL != want.URL ||
			a.FeedURL != want.Source.FeedURL || a.FeedTitle != "Example" || a.Language != "en" || a.EnricherVersion != "test-1" {
			t.Errorf("article = %+v, want the fields of %+v", a, want)
		}
		if got := testutil.ToFloat64(s.(metricsHolder).metricsForTest().stored); got != 3 {
			t.Errorf("newsflow_sink_articles_stored_total = %v, want 3", got)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("metric lint: %v %v", problems, err)
		}
	})
}

// metricsHolder gives tests the store's metrics.
type metricsHolder interface{ metricsForTest() *metrics }

func (s *sqliteStore) metricsForTest() *metrics { return s.m }

func TestNewerVersionReplacesOlderNeverOverwrites(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		s, _ := e.open(t, e.newURL(t), Options{})
		v1 := article(1, "KP", "Kim Jong Un", "arms_trade")
		v2 := article(1, "CN", "Xi Jinping", "sanctions") // re-enriched later
		v2.EnrichedAt = v1.EnrichedAt.Add(time.Minute)
		v3 := article(1, "IR", "Ali Khamenei", "military_aid") // republished: later updated_at, earlier enrichment
		v3.UpdatedAt = v1.FetchedAt.Add(time.Hour)
		v3.EnrichedAt = v1.EnrichedAt.Add(-time.Hour)
		mustValid(t, v1, v2, v3)
		tags := func() string {
			as := query(t, s, Filter{})
			if len(as) != 1 {
				t.Fatalf("%d articles, want 1", len(as))
			}
			return fmt.Sprintf("%s%s%s%d%d%d", as[0].Countries[0].Code, as[0].People[0].Name, as[0].Topics[0].ID, len(as[0].Countries), len(as[0].People), len(as[0].Topics))
		}
		steps := []struct {
			write events.EnrichedArticle
			want  string // inserted, updated or skipped
			tags  string
		}{
			{v2, "inserted", "CNXi Jinpingsanctions111"},
			{v1, "skipped", "CNXi Jinpingsanctions111"},
			{v2, "skipped", "CNXi Jinpingsanctions111"},
			{v3, "updated", "IRAli Khameneimilitary_aid111"},
			{v2, "skipped", "IRAli Khameneimilitary_aid111"},
		}
		for i, st := range steps {
			res := write(t, s, st.write)
			got := map[bool]string{res.Inserted == 1: "inserted", res.Updated == 1: "updated", res.Skipped == 1: "skipped"}[true]
			if got != st.want {
				t.Errorf("step %d: %+v, want %s", i, res, st.want)
			}
			if g := tags(); g != st.tags {
				t.Errorf("step %d: tags %s, want %s", i, g, st.tags)
			}
		}
		// Both orders inside one batch: the newest wins.
		for _, batch := range [][]events.EnrichedArticle{{v1, v2}, {v2, v1}} {
			s2, _ := e.open(t, e.newURL(t), Options{})
			if res := write(t, s2, batch...); res.Inserted != 1 || res.Skipped != 1 {
				t.Errorf("batch %v: %+v", batch[0].Countries[0].Code, res)
			}
			as := query(t, s2, Filter{})
			if len(as) != 1 || as[0].Countries[0].Code != "CN" {
				t.Errorf("batch starting %s: stored %+v, want the CN version", batch[0].Countries[0].Code, as)
			}
		}
	})
}

func TestRejectedArticleNamedAndNothingStored(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		s, reg := e.open(t, e.newURL(t), Options{})
		good1, good2 := article(1, "KP", "Kim Jong Un", "arms_trade"), article(3, "RU", "Vladimir Putin", "sanctions")
		bad := article(2, "US", "Joe Biden", "military_aid")
		bad.Topics[0].Score = 1.5
		nul := article(4, "FR", "Emmanuel Macron", "sanctions")
		nul.Source.FeedTitle = "bad\x00title"
		_, err := s.Write(context.Background(), []events.EnrichedArticle{good1, bad, good2, nul})
		var rej *RejectedError
		if !errors.Is(err, ErrRejected) || !errors.As(err, &rej) {
			t.Fatalf("Write = %v, want a RejectedError", err)
		}
		if len(rej.Rejected) != 2 || rej.Rejected[0].ID != "id-0002" || rej.Rejected[0].Index != 1 ||
			rej.Rejected[1].ID != "id-0004" || rej.Rejected[1].Index != 3 {
			t.Errorf("rejected = %+v, want id-0002 at 1 and id-0004 at 3", rej.Rejected)
		}
		if as := query(t, s, Filter{}); len(as) != 0 {
			t.Errorf("stored %v after a rejected batch, want nothing", ids(as))
		}
		if res := write(t, s, good1, good2); res.Inserted != 2 {
			t.Errorf("rest of the batch: %+v", res)
		}
		if err := testutil.GatherAndCompare(reg, stringsReader(`
# HELP newsflow_sink_write_errors_total Failed batch writes, by class: unavailable (transient, retried), rejected (articles dead-lettered), other.
# TYPE newsflow_sink_write_errors_total counter
newsflow_sink_write_errors_total{class="other"} 0
newsflow_sink_write_errors_total{class="rejected"} 1
newsflow_sink_write_errors_total{class="unavailable"} 0
`), "newsflow_sink_write_errors_total"); err != nil {
			t.Error(err)
		}
	})
}

func TestQueryFilters(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		s, _ := e.open(t, e.newURL(t), Options{})
		a1 := article(1, "KP", "Kim Jong Un", "arms_trade")
		a2 := article(2, "RU", "Vladimir Putin", "sanctions")
		a3 := article(3, "KP", "Vladimir Putin", "military_aid")
		a3.Organizations = []events.Entity{{Name: "United Nations", Score: 0.4, Mentions: []events.Mention{}}}
		a3.Text += " Shipments of missiles resumed."
		a4 := article(4, "US", "Joe Biden", "arms_trade")
		a4.Countries[0].Score = 0.2
		mustValid(t, a1, a2, a3, a4)
		write(t, s, a1, a2, a3, a4)
		tests := []struct {
			f    Filter
			want string
		}{
			{Filter{}, "[id-0004 id-0003 id-0002 id-0001]"},
			{Filter{Country: "kp"}, "[id-0003 id-0001]"},
			{Filter{Country: "US", MinScore: 0.5}, "[]"},
			{Filter{Person: "Vladimir Putin"}, "[id-0003 id-0002]"},
			{Filter{Organization: "United Nations"}, "[id-0003]"},
			{Filter{Topic: "arms_trade"}, "[id-0004 id-0001]"},
			{Filter{Topic: "arms_trade", Country: "KP"}, "[id-0001]"},
			{Filter{Since: a3.PublishedAt}, "[id-0004 id-0003]"},
			{Filter{Since: a2.PublishedAt, Until: a4.PublishedAt}, "[id-0003 id-0002]"},
			{Filter{Text: "missile"}, "[id-0003]"}, // stemmed: missiles
			{Filter{Text: "Putin shipment"}, "[id-0003 id-0002]"},
			{Filter{Text: "Report 2"}, "[id-0002]"},
			{Filter{Text: `"; DROP TABLE articles; --`}, "[]"},
			{Filter{Limit: 2}, "[id-0004 id-0003]"},
		}
		for _, tt := range tests {
			if got := fmt.Sprint(ids(query(t, s, tt.f))); got != tt.want {
				t.Errorf("Query(%+v) = %s, want %s", tt.f, got, tt.want)
			}
		}
	})
}

// migrator is what the migration test needs of a store.
type migrator interface {
	migrateTo(ctx context.Context, version int) error
	version(ctx context.Context) (int, error)
	migrations() []migration
}

func (s *sqliteStore) migrations() []migration { return s.ms }

func TestMigrateFromEveryVersion(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		probe, _ := e.open(t, e.newURL(t), Options{NoMigrate: true})
		last := len(probe.(migrator).migrations())
		if last < 2 {
			t.Fatalf("%d migrations", last)
		}
		for from := 0; from <= last; from++ {
			t.Run(fmt.Sprintf("from_%d", from), func(t *testing.T) {
				url := e.newURL(t)
				s, _ := e.open(t, url, Options{NoMigrate: true})
				m := s.(migrator)
				if err := m.migrateTo(ctx, from); err != nil {
					t.Fatalf("migrate to %d: %v", from, err)
				}
				if v, err := m.version(ctx); err != nil || v != from {
					t.Fatalf("version = %d, %v; want %d", v, err, from)
				}
				old := article(1, "KP", "Kim Jong Un", "arms_trade")
				if from >= 2 { // articles and tags exist: data written by that version must survive
					write(t, s, old)
				}
				s.Close()
				// Open migrates; opening again (and Migrate) is a no-op.
				s, _ = e.open(t, url, Options{})
				if err := s.Migrate(ctx); err != nil {
					t.Fatalf("second Migrate: %v", err)
				}
				if v, err := s.(migrator).version(ctx); err != nil || v != last {
					t.Fatalf("version after Open = %d, %v; want %d", v, err, last)
				}
				write(t, s, article(2, "RU", "Vladimir Putin", "sanctions"))
				want := "[id-0002]"
				if from >= 2 {
					want = "[id-0002 id-0001]"
				}
				if got := fmt.Sprint(ids(query(t, s, Filter{Text: "report"}))); got != want {
					t.Errorf("full-text query after migration = %s, want %s", got, want)
				}
				if got := fmt.Sprint(ids(query(t, s, Filter{Country: "KP"}))); from >= 2 && got != "[id-0001]" {
					t.Errorf("country query after migration = %s", got)
				}
			})
		}
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@db:5432/news?sslmode=require":     "postgres://u:xxxxx@db:5432/news?sslmode=require",
		"postgres://u@db/news?password=secret&sslmode=disable": "postgres://u@db/news?password=xxxxx&sslmode=disable",
		"postgresql://db/news":                                 "postgresql://db/news",
		"sqlite:newsflow-data/newsflow.db":                     "sqlite:newsflow-data/newsflow.db",
		"postgres://u:p@ss@db/x":                               "postgres://u:xxxxx@db/x",
		"postgres://u@db/x?sslpassword=one&password=two":       "postgres://u@db/x?sslpassword=xxxxx&password=xxxxx",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenRetrySameRegistry: a caller that retries Open while the database
// is down, on the same registry, keeps getting ErrUnavailable (metrics are
// registered only once the database answered).
func TestOpenRetrySameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for attempt := range 3 {
		_, err := Open(context.Background(), "postgres://u@127.0.0.1:1/x?connect_timeout=1", Options{Registerer: reg})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("attempt %d: %v, want ErrUnavailable", attempt, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		url         string
		unavailable bool
	}{
		{"", false},
		{"mysql://db/x", false},
		{"postgres://u@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", true}, // nothing listens on port 1
	} {
		s, err := Open(ctx, tt.url, Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tt.url)
			continue
		}
		if errors.Is(err, ErrUnavailable) != tt.unavailable {
			t.Errorf("Open(%q) = %v; unavailable %v, want %v", tt.url, err, errors.Is(err, ErrUnavailable), tt.unavailable)
		}
	}
	// A directory where the database file should be: a configuration error.
	dir := t.TempDir()
	if s, err := Open(ctx, "sqlite:"+dir, Options{}); err == nil || errors.Is(err, ErrUnavailable) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open(directory) = %v, want a non-transient error", err)
	}
}
