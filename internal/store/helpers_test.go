package store

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func (s *pgStore) metricsForTest() *metrics { return s.m }
func (s *pgStore) migrations() []migration  { return s.ms }

var dbSeq atomic.Int64

// postgresURL returns NEWSFLOW_TEST_POSTGRES, or skips t.
func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("NEWSFLOW_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("NEWSFLOW_TEST_REQUIRE_SERVICES") != "" {
			t.Fatal("NEWSFLOW_TEST_POSTGRES is not set but the services are required")
		}
		t.Skip("PostgreSQL tests need NEWSFLOW_TEST_POSTGRES; `make test` starts a server and sets it")
	}
	return u
}

// newPostgresDB creates an empty schema on the test server for t, dropped
// when t ends, and returns a URL whose search_path is that schema: as good as
// a fresh database for the store, and much faster to make.
func newPostgresDB(t *testing.T) string {
	t.Helper()
	return newPostgresDBFor(t)
}

// newPostgresDBFor is newPostgresDB for tests and benchmarks.
func newPostgresDBFor(t testing.TB) string {
	t.Helper()
	admin := postgresURL(t)
	ctx := context.Background()
	name := fmt.Sprintf("newsflow_store_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	exec := func(stmt string) error {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("connect to NEWSFLOW_TEST_POSTGRES: %w", err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := exec("CREATE SCHEMA " + name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("NEWSFLOW_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	q.Set("application_name", name) // lets a test cut exactly its own connections
	u.RawQuery = q.Encode()
	return u.String()
}
