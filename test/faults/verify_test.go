package faults

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// storeCheck compares what the farm served with what storage holds.
type storeCheck struct {
	Stored     int        // served articles found in articles, by id
	Lost       []farmItem // served articles not found
	LostByURL  int        // of Lost, how many are stored under another id
	DupIDs     int        // rows beyond the first per id
	DupURLs    int        // rows beyond the first per article URL
	DupTags    int        // tag rows beyond the first per (article_id, tag)
	Unexpected int        // rows of articles the farm never served
}

// Duplicates is every kind of duplicate row.
func (c storeCheck) Duplicates() int { return c.DupIDs + c.DupURLs + c.DupTags }

// tagTables are the tag tables and their key column beside article_id.
var tagTables = [][2]string{
	{"article_countries", "code"}, {"article_people", "name"},
	{"article_organizations", "name"}, {"article_topics", "topic"},
}

// storedIDs returns the article id → url of every row of articles.
func storedIDs(ctx context.Context, db *sql.DB) (map[string]string, int, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, url FROM articles`)
	if err != nil {
		return nil, 0, fmt.Errorf("read articles: %w", err)
	}
	defer rows.Close()
	ids := map[string]string{}
	n := 0
	for rows.Next() {
		var id, url string
		if err := rows.Scan(&id, &url); err != nil {
			return nil, 0, fmt.Errorf("read articles: %w", err)
		}
		ids[id] = url
		n++
	}
	return ids, n, rows.Err()
}

// countStored returns how many served articles are stored.
func countStored(ctx context.Context, db *sql.DB, served map[string]farmItem) (int, error) {
	ids, _, err := storedIDs(ctx, db)
	if err != nil {
		return 0, err
	}
	n := 0
	for id := range served {
		if _, ok := ids[id]; ok {
			n++
		}
	}
	return n, nil
}

func checkStore(ctx context.Context, db *sql.DB, served map[string]farmItem) (storeCheck, error) {
	var c storeCheck
	ids, rows, err := storedIDs(ctx, db)
	if err != nil {
		return c, err
	}
	c.DupIDs = rows - len(ids)
	urls := map[string]bool{}
	for _, u := range ids {
		urls[u] = true
	}
	for id, it := range served {
		if _, ok := ids[id]; ok {
			c.Stored++
			continue
		}
		c.Lost = append(c.Lost, it)
		if urls[it.Link] {
			c.LostByURL++
		}
	}
	sort.Slice(c.Lost, func(i, j int) bool {
		if c.Lost[i].GUID != c.Lost[j].GUID {
			return c.Lost[i].GUID < c.Lost[j].GUID
		}
		return c.Lost[i].ID < c.Lost[j].ID
	})
	for id := range ids {
		if _, ok := served[id]; !ok {
			c.Unexpected++
		}
	}
	q := `SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM articles WHERE url <> '' GROUP BY url HAVING count(*) > 1) d`
	if err := db.QueryRowContext(ctx, q).Scan(&c.DupURLs); err != nil {
		return c, fmt.Errorf("count duplicate urls: %w", err)
	}
	for _, tt := range tagTables {
		var n int
		q := fmt.Sprintf(`SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM %s GROUP BY article_id, %s HAVING count(*) > 1) d`, tt[0], tt[1])
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return c, fmt.Errorf("count duplicate rows of %s: %w", tt[0], err)
		}
		c.DupTags += n
	}
	return c, nil
}

// describeLost names up to 20 lost articles.
func describeLost(lost []farmItem) string {
	var b strings.Builder
	for i, it := range lost {
		if i == 20 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(lost)-20)
			break
		}
		fmt.Fprintf(&b, "  id %s guid %s feed %s\n", it.ID, it.GUID, it.FeedURL)
	}
	return b.String()
}
