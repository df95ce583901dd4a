package deploytest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/pkg/events"
)

// postgresDB creates an empty database on the server of
// $NEWSFLOW_TEST_POSTGRES for t, dropped when t ends, and returns its URL.
func postgresDB(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("NEWSFLOW_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("NEWSFLOW_TEST_REQUIRE_SERVICES") != "" {
			t.Fatal("NEWSFLOW_TEST_POSTGRES is not set but the services are required")
		}
		t.Skip("the News monitor SQL runs on PostgreSQL: set NEWSFLOW_TEST_POSTGRES, or run `make test`, which starts a server and sets it")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to NEWSFLOW_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("newsflow_deploytest_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse NEWSFLOW_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// tag is a tag of a seeded article: its name or code, score, and the text
// it was found by (a span of the article text).
type tag struct {
	name    string
	score   float64
	surface string
}

// seedArticle builds a valid enriched article whose mentions and evidence
// point at real spans of its text.
func seedArticle(t *testing.T, id, title, body string, published, fetched time.Time, countries, people, orgs, topics []tag) events.EnrichedArticle {
	t.Helper()
	raw := events.RawArticle{
		SchemaVersion: events.SchemaVersion,
		ID:            id,
		Source:        events.Source{FeedURL: "https://news.example.org/world/rss.xml", FeedTitle: "Example World News"},
		URL:           "https://news.example.org/world/" + id,
		Title:         title,
		Content:       body,
		Language:      "en",
		PublishedAt:   published,
		FetchedAt:     fetched,
	}
	a := events.NewEnriched(raw)
	a.Text = title + "\n\n" + body
	a.EnrichedAt = fetched
	a.EnricherVersion = "deploytest"
	span := func(s string) (int, int) {
		i := strings.Index(a.Text, s)
		if i < 0 {
			t.Fatalf("article %s: %q is not in its text", id, s)
		}
		return i, i + len(s)
	}
	mention := func(s string) []events.Mention {
		start, end := span(s)
		return []events.Mention{{Start: start, End: end, Surface: s, Kind: "name"}}
	}
	for _, c := range countries {
		a.Countries = append(a.Countries, events.Country{Code: c.name, Name: c.surface, Score: c.score, Mentions: mention(c.surface)})
	}
	for _, p := range people {
		a.People = append(a.People, events.Entity{Name: p.name, Score: p.score, Mentions: mention(p.surface)})
	}
	for _, o := range orgs {
		a.Organizations = append(a.Organizations, events.Entity{Name: o.name, Score: o.score, Mentions: mention(o.surface)})
	}
	for _, tp := range topics {
		start, end := span(tp.surface)
		a.Topics = append(a.Topics, events.Topic{ID: tp.name, Label: strings.ReplaceAll(tp.name, "_", " "), Score: tp.score,
			Evidence: []events.Evidence{{Start: start, End: end, Surface: tp.surface}}})
	}
	if err := a.Validate(); err != nil {
		t.Fatalf("seed article %s: %v", id, err)
	}
	return a
}

// seed stores articles through the project's store (which creates the
// schema): three tagged articles in the last hours, one without tags, and
// one from last week, outside the dashboards' time range.
func seed(t *testing.T, dbURL string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	h := func(n int) time.Time { return now.Add(-time.Duration(n) * time.Hour) }
	batch := []events.EnrichedArticle{
		seedArticle(t, "kp-arms", "North Korea ships artillery shells to Russia",
			"Kim Jong Un and Vladimir Putin met in Pyongyang, KCNA said. Analysts call it an arms trade that breaks sanctions.",
			h(2), now,
			[]tag{{"KP", 0.92, "North Korea"}, {"RU", 0.71, "Russia"}},
			[]tag{{"Kim Jong Un", 0.8, "Kim Jong Un"}, {"Vladimir Putin", 0.6, "Vladimir Putin"}},
			[]tag{{"Korean Central News Agency", 0.4, "KCNA"}},
			[]tag{{"arms_trade", 0.9, "arms trade"}, {"sanctions", 0.45, "sanctions"}}),
		seedArticle(t, "ua-aid", "United States announces military aid to Ukraine",
			"The Pentagon said the package includes air defence. Vladimir Putin condemned it.",
			h(5), now,
			[]tag{{"UA", 0.9, "Ukraine"}, {"US", 0.6, "United States"}},
			[]tag{{"Vladimir Putin", 0.3, "Vladimir Putin"}},
			[]tag{{"United States Department of Defense", 0.7, "Pentagon"}},
			[]tag{{"military_aid", 0.85, "military aid"}}),
		seedArticle(t, "ir-sanctions", "European Union adopts sanctions on Iran",
			"Ministers met in Brussels and agreed the new sanctions package.",
			h(7), now,
			[]tag{{"IR", 0.88, "Iran"}, {"BE", 0.2, "Brussels"}},
			nil,
			[]tag{{"European Union", 0.75, "European Union"}},
			[]tag{{"sanctions", 0.95, "sanctions"}}),
		seedArticle(t, "weather", "Mild weather expected this weekend", "Forecasters expect sunshine.", h(3), now, nil, nil, nil, nil),
		seedArticle(t, "old-kp", "North Korea tests a missile", "Last week's launch: an arms trade signal, Kim Jong Un said.",
			now.Add(-7*24*time.Hour), now.Add(-7*24*time.Hour),
			[]tag{{"KP", 0.9, "North Korea"}}, []tag{{"Kim Jong Un", 0.7, "Kim Jong Un"}}, nil,
			[]tag{{"arms_trade", 0.6, "arms trade"}}),
	}
	res, err := st.Write(ctx, batch)
	if err != nil {
		t.Fatalf("store seed articles: %v", err)
	}
	if res.Inserted != len(batch) {
		t.Fatalf("stored %d of %d seed articles: %+v", res.Inserted, len(batch), res)
	}
}

// grafanaSQL expands Grafana's macros and template variables in a SQL query
// the way Grafana's PostgreSQL data source does, for the time range
// [from, to], a group interval, and the variables' values (a nil value list
// is the "All" option, whose value is the variable's allValue).
type grafanaSQL struct {
	from, to time.Time
	interval time.Duration
	vars     map[string][]string
	allValue map[string]string
}

var (
	timeFilterRe      = regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`)
	timeGroupAliasRe  = regexp.MustCompile(`\$__timeGroupAlias\(([^,]+),\s*([^)]+)\)`)
	timeGroupRe       = regexp.MustCompile(`\$__timeGroup\(([^,]+),\s*([^)]+)\)`)
	variableRe        = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)\}|\$([a-zA-Z0-9_]+)`)
	leftoverMacroRe   = regexp.MustCompile(`\$__[a-zA-Z]+`)
	leftoverVariables = regexp.MustCompile(`\$[a-zA-Z{]`)
)

func (g grafanaSQL) expand(t *testing.T, sql string) string {
	t.Helper()
	ts := func(x time.Time) string { return "'" + x.UTC().Format(time.RFC3339) + "'" }
	sql = timeFilterRe.ReplaceAllString(sql, "$1 BETWEEN "+ts(g.from)+" AND "+ts(g.to))
	group := func(re *regexp.Regexp, alias string) {
		sql = re.ReplaceAllStringFunc(sql, func(m string) string {
			parts := re.FindStringSubmatch(m)
			secs := int(g.interval.Seconds())
			if arg := strings.TrimSpace(parts[2]); arg != "$__interval" && arg != "${__interval}" {
				d, err := time.ParseDuration(strings.Trim(arg, "'"))
				if err != nil {
					t.Fatalf("group interval %q: %v", arg, err)
				}
				secs = int(d.Seconds())
			}
			return fmt.Sprintf("floor(extract(epoch from %s)/%d)*%d%s", strings.TrimSpace(parts[1]), secs, secs, alias)
		})
	}
	group(timeGroupAliasRe, ` AS "time"`)
	group(timeGroupRe, "")
	sql = strings.NewReplacer("$__timeFrom()", ts(g.from), "$__timeTo()", ts(g.to)).Replace(sql)
	if m := leftoverMacroRe.FindString(sql); m != "" {
		t.Fatalf("the test does not expand Grafana macro %s yet (add it to grafanaSQL):\n%s", m, sql)
	}
	sql = variableRe.ReplaceAllStringFunc(sql, func(m string) string {
		p := variableRe.FindStringSubmatch(m)
		name := p[1] + p[2]
		vals, ok := g.vars[name]
		if !ok {
			t.Fatalf("query uses variable $%s, which the test gives no value", name)
		}
		if vals == nil {
			return g.allValue[name]
		}
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		return strings.Join(q, ",")
	})
	if leftoverVariables.MatchString(sql) {
		t.Fatalf("unexpanded variable left in:\n%s", sql)
	}
	return sql
}

// TestNewsMonitorSQL runs every query of the News monitor dashboard (panels
// and variables) on a real PostgreSQL whose schema the project's store
// created and into which it stored real enriched articles, with the macros
// and variables expanded for "All" and for chosen values. Every query must
// run and return rows; the seeded data decides some of the values.
func TestNewsMonitorSQL(t *testing.T) {
	dbURL := postgresDB(t)
	now := time.Now().UTC().Truncate(time.Second)
	seed(t, dbURL, now)

	d := loadDashboards(t)["news-monitor.json"]
	qs := sqlQueries(d)
	if len(qs) < 8 {
		t.Fatalf("only %d SQL queries in the News monitor", len(qs))
	}
	allValue := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			if !v.IncludeAll || v.AllValue == "" {
				t.Errorf("variable %s: want includeAll with an allValue, so that All does not filter", v.Name)
			}
			allValue[v.Name] = v.AllValue
		}
	}
	for _, name := range []string{"topic", "country", "person"} {
		if _, ok := allValue[name]; !ok {
			t.Fatalf("the News monitor has no query variable %s", name)
		}
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	scenarios := []struct {
		name string
		vars map[string][]string
	}{
		{"all", map[string][]string{"topic": nil, "country": nil, "person": nil}},
		{"one value each", map[string][]string{"topic": {"arms_trade"}, "country": {"KP"}, "person": {"Kim Jong Un"}}},
		{"several values", map[string][]string{"topic": {"arms_trade", "military_aid"}, "country": {"KP", "UA"}, "person": nil}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			g := grafanaSQL{from: now.Add(-24 * time.Hour), to: now.Add(time.Minute), interval: time.Hour, vars: sc.vars, allValue: allValue}
			for _, q := range qs {
				sql := g.expand(t, q.Text)
				rows, err := runSQL(ctx, conn, sql)
				if err != nil {
					t.Errorf("%s: %v\n%s", q.Where, err, sql)
					continue
				}
				if len(rows.values) == 0 {
					t.Errorf("%s: no rows\n%s", q.Where, sql)
					continue
				}
				if q.Format == "time_series" && !rows.has("time") {
					t.Errorf("%s: a time series query without a time column (columns %v)", q.Where, rows.columns)
				}
				checkSeededAnswer(t, q.Where, sc.name, rows)
			}
		})
	}
}

// sqlRows is a query's result as text.
type sqlRows struct {
	columns []string
	values  [][]string
}

func (r sqlRows) has(col string) bool {
	for _, c := range r.columns {
		if c == col {
			return true
		}
	}
	return false
}

// column returns the values of a column.
func (r sqlRows) column(col string) []string {
	var out []string
	for i, c := range r.columns {
		if c == col {
			for _, row := range r.values {
				out = append(out, row[i])
			}
		}
	}
	return out
}

func runSQL(ctx context.Context, conn *pgx.Conn, sql string) (sqlRows, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return sqlRows{}, err
	}
	defer rows.Close()
	var out sqlRows
	for _, f := range rows.FieldDescriptions() {
		out.columns = append(out.columns, f.Name)
	}
	for rows.Next() {
		vs, err := rows.Values()
		if err != nil {
			return sqlRows{}, err
		}
		row := make([]string, len(vs))
		for i, v := range vs {
			row[i] = fmt.Sprint(v)
		}
		out.values = append(out.values, row)
	}
	return out, rows.Err()
}

// checkSeededAnswer checks results the seeded articles decide: the time
// filter keeps last week's article out, "about" means salience >= 0.5, and
// the filters keep only matching articles.
func checkSeededAnswer(t *testing.T, where, scenario string, r sqlRows) {
	t.Helper()
	switch {
	case strings.HasSuffix(where, "/ Latest articles (A)"):
		titles := strings.Join(r.column("title"), " | ")
		if strings.Contains(titles, "tests a missile") {
			t.Errorf("%s: last week's article is in the 24-hour range: %s", where, titles)
		}
		if scenario == "all" && len(r.values) != 4 {
			t.Errorf("%s: %d articles, want the 4 of the last 24 hours: %s", where, len(r.values), titles)
		}
		if scenario == "one value each" && (len(r.values) != 1 || !strings.Contains(titles, "North Korea ships")) {
			t.Errorf("%s: want only the North Korea article, got %s", where, titles)
		}
		if !r.has("url") || !r.has("topics") || !r.has("countries") {
			t.Errorf("%s: columns %v lack url, topics or countries", where, r.columns)
		}
	case strings.HasSuffix(where, "/ variable country"):
		codes := strings.Join(r.column("__value"), ",")
		if !strings.Contains(codes, "KP") || strings.Contains(codes, "BE") {
			t.Errorf("%s: codes %s, want KP and not BE (only mentioned, salience 0.2)", where, codes)
		}
	case strings.HasSuffix(where, "/ variable topic"):
		topics := strings.Join(r.column("topic"), ",")
		if topics != "arms_trade,military_aid,sanctions" {
			t.Errorf("%s: topics %s, want arms_trade,military_aid,sanctions", where, topics)
		}
	case strings.HasSuffix(where, "/ variable person"):
		if people := r.column("name"); people[0] != "Vladimir Putin" || len(people) != 2 {
			t.Errorf("%s: people %v, want Vladimir Putin (2 articles) first, then Kim Jong Un", where, people)
		}
	case strings.HasSuffix(where, "/ Articles (A)"):
		want := map[string]string{"all": "4", "one value each": "1", "several values": "2"}[scenario]
		if got := r.column("articles"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %v articles, want %s", where, got, want)
		}
	case strings.HasSuffix(where, "/ Countries by article count (A)"):
		codes := r.column("country")
		for _, c := range codes {
			if len(c) != 2 || strings.ToUpper(c) != c {
				t.Errorf("%s: %q is not an ISO 3166-1 alpha-2 code", where, c)
			}
		}
		if scenario == "all" && (len(codes) != 5 || slices.Contains(codes, "BE")) {
			t.Errorf("%s: countries %v, want the 5 the articles are about (not BE, only mentioned)", where, codes)
		}
	}
}
