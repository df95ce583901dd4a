package store

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// dialect is what differs between the engines' SQL for Query.
type dialect struct {
	// ph returns the placeholder of argument n (1-based).
	ph func(n int) string
	// timeArg converts a time for a comparison with a time column.
	timeArg func(time.Time) any
	// textMatch returns the full-text condition on articles "a" for the
	// placeholder p, and the argument for it.
	textMatch func(p, q string) (string, any)
}

// buildQuery returns the SQL and arguments selecting the article columns of
// the articles matching f, newest first.
func buildQuery(d dialect, f Filter) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.ph(len(args))
	}
	tag := func(table, col, val string) {
		where = append(where, fmt.Sprintf("EXISTS (SELECT 1 FROM %s t WHERE t.article_id = a.id AND t.%s = %s AND t.score >= %s)",
			table, col, arg(val), arg(f.MinScore)))
	}
	if f.Country != "" {
		tag("article_countries", "code", strings.ToUpper(f.Country))
	}
	if f.Person != "" {
		tag("article_people", "name", f.Person)
	}
	if f.Organization != "" {
		tag("article_organizations", "name", f.Organization)
	}
	if f.Topic != "" {
		tag("article_topics", "topic", f.Topic)
	}
	if !f.Since.IsZero() {
		where = append(where, "a.article_time >= "+arg(d.timeArg(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "a.article_time < "+arg(d.timeArg(f.Until)))
	}
	if strings.TrimSpace(f.Text) != "" {
		args = append(args, nil)
		cond, v := d.textMatch(d.ph(len(args)), f.Text)
		if v == nil {
			return "", nil, fmt.Errorf("query: text %q has no words to search for", f.Text)
		}
		args[len(args)-1] = v
		where = append(where, cond)
	}
	q := `SELECT a.id, a.url, a.title, a.feed_url, a.feed_title, a.language, a.enricher_version,
		a.published_at, a.updated_at, a.fetched_at, a.enriched_at, a.article_time FROM articles a`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY a.article_time DESC, a.id LIMIT " + arg(f.limit())
	return q, args, nil
}

// ftsWords splits a user's text query into words (letters and digits).
func ftsWords(q string) []string {
	return strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// tagQuery loads one tag table's rows for the articles of a Query.
type tagQuery struct {
	// sql returns the query, given the condition on article_id ("IN (...)"
	// or "= ANY($1)").
	sql func(idCond string) string
	// scan reads one row with the given Scan and appends it to its article.
	scan func(scan func(...any) error) error
}

// tagQueries returns the queries that fill in the tags of the articles in
// byID, strongest tags first.
func tagQueries(byID map[string]*Article) []tagQuery {
	q := func(cols, table, order string) func(string) string {
		return func(cond string) string {
			return "SELECT article_id, " + cols + " FROM " + table + " WHERE article_id " + cond + " ORDER BY score DESC, " + order
		}
	}
	return []tagQuery{
		{q("code, name, score, mention_count", "article_countries", "code"), func(scan func(...any) error) error {
			var id string
			var c CountryTag
			if err := scan(&id, &c.Code, &c.Name, &c.Score, &c.MentionCount); err != nil {
				return err
			}
			if a := byID[id]; a != nil {
				a.Countries = append(a.Countries, c)
			}
			return nil
		}},
		{q("name, score, mention_count, wikidata_id", "article_people", "name"), func(scan func(...any) error) error {
			var id string
			var e EntityTag
			if err := scan(&id, &e.Name, &e.Score, &e.MentionCount, &e.WikidataID); err != nil {
				return err
			}
			if a := byID[id]; a != nil {
				a.People = append(a.People, e)
			}
			return nil
		}},
		{q("name, score, mention_count, wikidata_id", "article_organizations", "name"), func(scan func(...any) error) error {
			var id string
			var e EntityTag
			if err := scan(&id, &e.Name, &e.Score, &e.MentionCount, &e.WikidataID); err != nil {
				return err
			}
			if a := byID[id]; a != nil {
				a.Organizations = append(a.Organizations, e)
			}
			return nil
		}},
		{q("topic, label, score, evidence_count", "article_topics", "topic"), func(scan func(...any) error) error {
			var id string
			var t TopicTag
			if err := scan(&id, &t.ID, &t.Label, &t.Score, &t.EvidenceCount); err != nil {
				return err
			}
			if a := byID[id]; a != nil {
				a.Topics = append(a.Topics, t)
			}
			return nil
		}},
	}
}
