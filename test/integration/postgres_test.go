package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// newDatabase creates an empty database newsflow_it_<random> on the server
// of serverURL (NEWSFLOW_TEST_POSTGRES) and returns its URL and a pool
// connected to it; t.Cleanup closes the pool and drops the database.
func newDatabase(t *testing.T, serverURL string) (string, *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("random database name: %v", err)
	}
	name := "newsflow_it_" + hex.EncodeToString(rnd[:])
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connect to PostgreSQL %s: %v", serverURL, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Logf("drop database %s: connect: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("parse %s: %v", envPostgres, err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", name, err)
	}
	// Registered after the drop, so it runs before it.
	t.Cleanup(pool.Close)
	return dbURL, pool
}

// storedArticle is one row of articles with its tag counts.
type storedArticle struct {
	ID         string
	FeedURL    string
	Title      string
	StoredAt   time.Time
	EnrichedAt time.Time
	Countries  int
	Topics     int
}

// storedArticles reads every row of articles. It returns an error (not a
// test failure) so that it can be polled while the tables do not exist yet.
func storedArticles(ctx context.Context, pool *pgxpool.Pool) (map[string]storedArticle, error) {
	rows, err := pool.Query(ctx, `SELECT a.id, a.feed_url, a.title, a.stored_at, coalesce(a.enriched_at, 'epoch'),
		(SELECT count(*) FROM article_countries c WHERE c.article_id = a.id),
		(SELECT count(*) FROM article_topics p WHERE p.article_id = a.id)
		FROM articles a`)
	if err != nil {
		return nil, fmt.Errorf("query articles: %w", err)
	}
	got := map[string]storedArticle{}
	for rows.Next() {
		var a storedArticle
		if err := rows.Scan(&a.ID, &a.FeedURL, &a.Title, &a.StoredAt, &a.EnrichedAt, &a.Countries, &a.Topics); err != nil {
			return nil, fmt.Errorf("scan articles: %w", err)
		}
		if _, dup := got[a.ID]; dup {
			return nil, fmt.Errorf("article %s stored twice", a.ID)
		}
		got[a.ID] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read articles: %w", err)
	}
	return got, nil
}

// tableCounts returns the number of rows in each storage table.
func tableCounts(ctx context.Context, pool *pgxpool.Pool) (map[string]int, error) {
	counts := map[string]int{}
	for _, table := range []string{"articles", "article_countries", "article_people", "article_organizations", "article_topics"} {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", table, err)
		}
		counts[table] = n
	}
	return counts, nil
}

// countryScores returns the country codes stored for an article with their
// scores.
func countryScores(ctx context.Context, pool *pgxpool.Pool, id string) (map[string]float64, error) {
	rows, err := pool.Query(ctx, `SELECT code, score FROM article_countries WHERE article_id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("query countries of %s: %w", id, err)
	}
	codes := map[string]float64{}
	for rows.Next() {
		var code string
		var score float64
		if err := rows.Scan(&code, &score); err != nil {
			return nil, fmt.Errorf("scan countries of %s: %w", id, err)
		}
		codes[code] = score
	}
	return codes, rows.Err()
}
