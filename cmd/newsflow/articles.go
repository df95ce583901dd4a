package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/store"
)

// defaultStore is where `newsflow run` stores articles by default.
const defaultStore = "sqlite:newsflow-data/newsflow.db"

// runArticles lists stored articles matching the flags, newest first, with
// their tags: a table for people, or one JSON object per line with --json.
// It exits 0 (also when nothing matches), 1 when the store cannot be read,
// and 2 on a bad flag.
func runArticles(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("newsflow articles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		url, since, until string
		f                 store.Filter
		asJSON            bool
	)
	flagenv.String(fs, &url, "store", defaultStore, "where articles are stored: sqlite:PATH or postgres://...")
	fs.StringVar(&f.Country, "country", "", "only articles tagged with this country (ISO 3166-1 alpha-2 code, e.g. KP)")
	fs.StringVar(&f.Person, "person", "", "only articles tagged with this person (canonical name, e.g. \"Kim Jong Un\")")
	fs.StringVar(&f.Organization, "org", "", "only articles tagged with this organization (canonical name)")
	fs.StringVar(&f.Topic, "topic", "", "only articles tagged with this topic id (e.g. arms_trade)")
	fs.Float64Var(&f.MinScore, "min-score", 0, "with --country/--person/--org/--topic: only tags scored at least this (0.5: the article is about it)")
	fs.StringVar(&since, "since", "", "only articles newer than this: a duration back from now (24h, 7d, 2w) or a date (2026-11-20, RFC 3339)")
	fs.StringVar(&until, "until", "", "only articles older than this (same forms as --since)")
	fs.StringVar(&f.Text, "q", "", "full-text search in title and text")
	fs.IntVar(&f.Limit, "limit", 20, "at most this many articles (1 to 10000)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per article and line")
	if err := flagenv.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "newsflow articles:", err)
		return 2
	}
	now := time.Now()
	var err error
	if f.Since, err = parseWhen(since, now); err != nil {
		err = flagenv.Invalid("since", since, "want a duration such as 24h or 7d, or a date such as 2026-11-20")
	} else if f.Until, err = parseWhen(until, now); err != nil {
		err = flagenv.Invalid("until", until, "want a duration such as 24h or 7d, or a date such as 2026-11-20")
	}
	switch {
	case err != nil:
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case f.Limit < 1 || f.Limit > 10000:
		err = flagenv.Invalid("limit", f.Limit, "want 1 to 10000")
	case f.MinScore < 0 || f.MinScore > 1:
		err = flagenv.Invalid("min-score", f.MinScore, "want 0 to 1")
	case f.Country != "" && len(f.Country) != 2:
		err = flagenv.Invalid("country", f.Country, "want a two-letter ISO 3166-1 code such as KP")
	}
	if err != nil {
		fmt.Fprintln(stderr, "newsflow articles:", err)
		return 2
	}

	if path, ok := sqlitePath(url); ok {
		if _, err := os.Stat(path); err != nil {
			fmt.Fprintf(stderr, "newsflow articles: no database at %s (run `newsflow run` or `newsflow demo --db %s` first, or give --store): %v\n", path, path, err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, url, store.Options{NoMigrate: true, MaxConns: 2})
	if err != nil {
		fmt.Fprintln(stderr, "newsflow articles:", err)
		return 1
	}
	defer st.Close()
	as, err := st.Query(ctx, f)
	if err != nil {
		fmt.Fprintln(stderr, "newsflow articles:", err)
		return 1
	}
	if asJSON {
		if err := printArticlesJSON(stdout, as); err != nil {
			fmt.Fprintln(stderr, "newsflow articles:", err)
			return 1
		}
		return 0
	}
	printArticles(stdout, as)
	if len(as) == f.Limit {
		fmt.Fprintf(stderr, "(showing the newest %d; --limit shows more)\n", f.Limit)
	}
	return 0
}

// sqlitePath returns the file of a SQLite store URL.
func sqlitePath(url string) (string, bool) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return strings.TrimPrefix(url, "sqlite:"), true
	case strings.Contains(url, "://"):
		return "", false
	}
	return url, true
}

// parseWhen reads --since/--until: empty (no bound), a duration back from
// now (Go syntax, plus d for days and w for weeks), or a date or RFC 3339
// time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		if k, err := strconv.ParseFloat(s[:n-1], 64); err == nil && k >= 0 {
			day := 24 * time.Hour
			if s[n-1] == 'w' {
				day *= 7
			}
			return now.Add(-time.Duration(k * float64(day))), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

// printArticles writes articles as a table: time (UTC), title, feed, then the
// strongest tags of each kind.
func printArticles(w io.Writer, as []store.Article) {
	if len(as) == 0 {
		fmt.Fprintln(w, "No articles match.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tTITLE\tCOUNTRIES\tTOPICS\tPEOPLE\tORGANIZATIONS")
	for _, a := range as {
		countries := make([]string, len(a.Countries))
		for i, c := range a.Countries {
			countries[i] = c.Code
		}
		topics := make([]string, len(a.Topics))
		for i, t := range a.Topics {
			topics[i] = t.ID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Time.UTC().Format("2006-01-02 15:04"), cell(a.Title, 60),
			list(countries, 5), list(topics, 3), list(names(a.People), 3), list(names(a.Organizations), 3))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d articles\n", len(as))
}

func names(es []store.EntityTag) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

// list joins the first max items, saying how many more there are.
func list(items []string, max int) string {
	if len(items) == 0 {
		return "-"
	}
	if len(items) <= max {
		return strings.Join(items, ",")
	}
	return strings.Join(items[:max], ",") + fmt.Sprintf(" +%d", len(items)-max)
}

// cell makes s one table cell: one line, at most n runes.
func cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// articleJSON is the --json shape of an article: snake_case like the events.
type articleJSON struct {
	ID              string        `json:"id"`
	Time            time.Time     `json:"time"`
	Title           string        `json:"title"`
	URL             string        `json:"url"`
	FeedURL         string        `json:"feed_url"`
	FeedTitle       string        `json:"feed_title,omitempty"`
	Language        string        `json:"language,omitempty"`
	PublishedAt     *time.Time    `json:"published_at,omitempty"`
	UpdatedAt       *time.Time    `json:"updated_at,omitempty"`
	FetchedAt       time.Time     `json:"fetched_at"`
	EnrichedAt      *time.Time    `json:"enriched_at,omitempty"`
	EnricherVersion string        `json:"enricher_version,omitempty"`
	Countries       []countryJSON `json:"countries"`
	People          []entityJSON  `json:"people"`
	Organizations   []entityJSON  `json:"organizations"`
	Topics          []topicJSON   `json:"topics"`
}

type countryJSON struct {
	Code         string  `json:"code"`
	Name         string  `json:"name"`
	Score        float64 `json:"score"`
	MentionCount int     `json:"mention_count"`
}

type entityJSON struct {
	Name         string  `json:"name"`
	Score        float64 `json:"score"`
	MentionCount int     `json:"mention_count"`
	WikidataID   string  `json:"wikidata_id,omitempty"`
}

type topicJSON struct {
	ID            string  `json:"id"`
	Label         string  `json:"label"`
	Score         float64 `json:"score"`
	EvidenceCount int     `json:"evidence_count"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// printArticlesJSON writes one JSON object per article and line.
func printArticlesJSON(w io.Writer, as []store.Article) error {
	enc := json.NewEncoder(w)
	for _, a := range as {
		j := articleJSON{
			ID: a.ID, Time: a.Time, Title: a.Title, URL: a.URL, FeedURL: a.FeedURL, FeedTitle: a.FeedTitle,
			Language: a.Language, PublishedAt: optTime(a.PublishedAt), UpdatedAt: optTime(a.UpdatedAt),
			FetchedAt: a.FetchedAt, EnrichedAt: optTime(a.EnrichedAt), EnricherVersion: a.EnricherVersion,
			Countries: []countryJSON{}, People: []entityJSON{}, Organizations: []entityJSON{}, Topics: []topicJSON{},
		}
		for _, c := range a.Countries {
			j.Countries = append(j.Countries, countryJSON(c))
		}
		for _, e := range a.People {
			j.People = append(j.People, entityJSON(e))
		}
		for _, e := range a.Organizations {
			j.Organizations = append(j.Organizations, entityJSON(e))
		}
		for _, t := range a.Topics {
			j.Topics = append(j.Topics, topicJSON(t))
		}
		if err := enc.Encode(j); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
	}
	return nil
}
