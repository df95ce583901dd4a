package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/events"
)

// execSQL runs statements on the store's database, outside the store.
func execSQL(t *testing.T, s Store, stmt string) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch s := s.(type) {
	case *sqliteStore:
		_, err = s.db.ExecContext(ctx, stmt)
	case *pgStore:
		_, err = s.pool.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	}
	if err != nil {
		t.Fatalf("exec %q: %v", stmt, err)
	}
}

// A constraint only the database knows (here one an operator added) makes
// Write name the article at fault; its neighbours are then stored.
func TestDatabaseRefusalNamesTheArticle(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		s, _ := e.open(t, e.newURL(t), Options{})
		if e.name == "sqlite" {
			execSQL(t, s, `CREATE TRIGGER no_forbidden BEFORE INSERT ON articles WHEN new.title LIKE '%forbidden%'
				BEGIN SELECT RAISE(ABORT, 'forbidden title'); END`)
		} else {
			execSQL(t, s, `ALTER TABLE articles ADD CONSTRAINT no_forbidden CHECK (title NOT LIKE '%forbidden%')`)
		}
		batch := []events.EnrichedArticle{article(1, "KP", "Kim Jong Un", "arms_trade"), article(2, "RU", "Vladimir Putin", "sanctions"),
			article(3, "US", "Joe Biden", "military_aid")}
		batch[1].Title = "forbidden"
		mustValid(t, batch...)
		_, err := s.Write(context.Background(), batch)
		var rej *RejectedError
		if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].ID != "id-0002" || rej.Rejected[0].Index != 1 {
			t.Fatalf("Write = %v, want id-0002 at index 1 rejected", err)
		}
		if as := query(t, s, Filter{}); len(as) != 0 {
			t.Fatalf("stored %v after a rejected batch", ids(as))
		}
		if res := write(t, s, batch[0], batch[2]); res.Inserted != 2 {
			t.Errorf("neighbours: %+v", res)
		}
	})
}

// restart interrupts the database under a running stream: SQLite by closing
// and reopening the store (a process restart), PostgreSQL by running
// NEWSFLOW_TEST_POSTGRES_RESTART (a shell command that restarts the server,
// e.g. pg_ctl restart) while the stream goes on, else by terminating every
// server connection of the store (found by its application_name). done is
// closed when the restart is over.
func restart(t *testing.T, e engine, s Store, url string) (_ Store, done chan struct{}) {
	t.Helper()
	done = make(chan struct{})
	if e.name == "sqlite" {
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		s2, _ := e.open(t, url, Options{})
		close(done)
		return s2, done
	}
	if cmd := os.Getenv("NEWSFLOW_TEST_POSTGRES_RESTART"); cmd != "" {
		go func() {
			defer close(done)
			if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
				t.Errorf("restart postgres (%s): %v\n%s", cmd, err, out)
			}
		}()
		return s, done
	}
	c, err := pgx.Connect(context.Background(), postgresURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, s.(*pgStore).pool.Config().ConnConfig.RuntimeParams["application_name"]).Scan(&n); err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	if n == 0 {
		t.Fatalf("no connection to terminate")
	}
	close(done)
	return s, done
}

// A database restart in the middle of a stream loses nothing and duplicates
// nothing: the writer retries each batch that fails with ErrUnavailable, as
// the sink does, and every article ends up stored exactly once.
func TestRestartMidStreamLosesNothing(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		url := e.newURL(t)
		s, _ := e.open(t, url, Options{})
		const batches, size = 40, 25
		unavailable := 0
		var restarted chan struct{}
		for b := range batches {
			batch := make([]events.EnrichedArticle, size)
			for i := range batch {
				batch[i] = article(b*size+i, "KP", "Kim Jong Un", "arms_trade")
			}
			if b == batches/2 {
				s, restarted = restart(t, e, s, url)
			}
			if restarted != nil {
				select {
				case <-restarted:
				default: // the server is restarting: keep the stream going, slowly
					time.Sleep(50 * time.Millisecond)
				}
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				_, err := s.Write(context.Background(), batch)
				if err == nil {
					break
				}
				if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
					t.Fatalf("batch %d: %v", b, err)
				}
				unavailable++
				time.Sleep(100 * time.Millisecond)
			}
		}
		<-restarted
		t.Logf("%d writes failed with ErrUnavailable and were retried", unavailable)
		got := query(t, s, Filter{Limit: 10000})
		seen := map[string]bool{}
		for _, a := range got {
			if seen[a.ID] {
				t.Errorf("duplicate %s", a.ID)
			}
			seen[a.ID] = true
		}
		if len(seen) != batches*size {
			t.Errorf("%d articles stored, want %d", len(seen), batches*size)
		}
		for i := range batches * size {
			if id := fmt.Sprintf("id-%04d", i); !seen[id] {
				t.Errorf("%s lost", id)
			}
		}
	})
}

// countRows returns the number of rows of table, outside the store.
func countRows(t *testing.T, s Store, table string) int {
	t.Helper()
	var n int
	var err error
	switch s := s.(type) {
	case *sqliteStore:
		err = s.db.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
	case *pgStore:
		err = s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
	}
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// Retention deletes old articles with their tag rows, in the background, and
// keeps the recent ones.
func TestRetentionDeletesOldArticlesAndTheirTags(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		url := e.newURL(t)
		s, _ := e.open(t, url, Options{})
		old := article(1, "KP", "Kim Jong Un", "arms_trade") // published in November 2026 (t0)
		old.Organizations = []events.Entity{{Name: "NATO", Score: 0.5, Mentions: []events.Mention{}}}
		recent := article(2, "RU", "Vladimir Putin", "sanctions")
		recent.PublishedAt = time.Now().Add(-time.Hour)
		recent.FetchedAt = time.Now().Add(-time.Minute)
		recent.EnrichedAt = recent.FetchedAt
		write(t, s, old, recent)
		s.Close()

		s, reg := e.open(t, url, Options{Retention: 24 * time.Hour, RetentionInterval: 50 * time.Millisecond})
		deadline := time.Now().Add(10 * time.Second)
		for countRows(t, s, "articles") != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("retention did not delete the old article: %d articles", countRows(t, s, "articles"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := ids(query(t, s, Filter{})); fmt.Sprint(got) != "[id-0002]" {
			t.Errorf("kept %v, want [id-0002]", got)
		}
		for table, want := range map[string]int{"article_countries": 1, "article_people": 1, "article_organizations": 0, "article_topics": 1} {
			if n := countRows(t, s, table); n != want {
				t.Errorf("%s: %d rows, want %d (the old article's tags must go)", table, n, want)
			}
		}
		if err := testutil.GatherAndCompare(reg, stringsReader(`
# HELP newsflow_sink_retention_deleted_articles_total Articles deleted by the retention job (their tag rows go with them).
# TYPE newsflow_sink_retention_deleted_articles_total counter
newsflow_sink_retention_deleted_articles_total 1
`), "newsflow_sink_retention_deleted_articles_total"); err != nil {
			t.Error(err)
		}
	})
}

// The metrics tell what was written: rows by table, articles by result, and
// the age of each stored event.
func TestWriteMetrics(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		s, reg := e.open(t, e.newURL(t), Options{})
		a := article(1, "KP", "Kim Jong Un", "arms_trade")
		a.FetchedAt = time.Now().Add(-1500 * time.Millisecond) // 1.5 s old when stored
		write(t, s, a)
		write(t, s, a) // skipped: no age observed
		want := `
# HELP newsflow_sink_articles_stored_total Articles committed to storage (inserted or updated).
# TYPE newsflow_sink_articles_stored_total counter
newsflow_sink_articles_stored_total 1
# HELP newsflow_sink_articles_total Articles in committed writes, by result: inserted, updated (newer version), skipped (same or older version).
# TYPE newsflow_sink_articles_total counter
newsflow_sink_articles_total{result="inserted"} 1
newsflow_sink_articles_total{result="skipped"} 1
newsflow_sink_articles_total{result="updated"} 0
# HELP newsflow_sink_rows_written_total Rows written to storage in committed transactions, by table.
# TYPE newsflow_sink_rows_written_total counter
newsflow_sink_rows_written_total{table="article_countries"} 1
newsflow_sink_rows_written_total{table="article_organizations"} 0
newsflow_sink_rows_written_total{table="article_people"} 1
newsflow_sink_rows_written_total{table="article_topics"} 1
newsflow_sink_rows_written_total{table="articles"} 1
`
		if err := testutil.GatherAndCompare(reg, stringsReader(want), "newsflow_sink_articles_stored_total",
			"newsflow_sink_articles_total", "newsflow_sink_rows_written_total"); err != nil {
			t.Error(err)
		}
		m := s.(metricsHolder).metricsForTest()
		if n := testutil.CollectAndCount(m.eventAge); n != 1 {
			t.Fatalf("event age series: %d", n)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "newsflow_sink_event_age_seconds":
				h := mf.GetMetric()[0].GetHistogram()
				if h.GetSampleCount() != 1 || h.GetSampleSum() < 1.5 || h.GetSampleSum() > 30 {
					t.Errorf("event age: %d samples, sum %v; want 1 sample of about 1.5 s", h.GetSampleCount(), h.GetSampleSum())
				}
			case "newsflow_sink_batch_size_articles":
				if h := mf.GetMetric()[0].GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() != 2 {
					t.Errorf("batch size: %d samples, sum %v", h.GetSampleCount(), h.GetSampleSum())
				}
			}
		}
		names := map[string]bool{}
		for _, mf := range mfs {
			names[mf.GetName()] = true
		}
		for _, n := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_wait_count_total",
			"newsflow_sink_write_duration_seconds", "newsflow_sink_write_errors_total"} {
			if !names[n] {
				t.Errorf("metric %s not exported", n)
			}
		}
	})
}

// Another writer storing a new article between Write's version check and its
// COPY (a consumer group rebalance can do that) costs a retry through the
// merge, never an error or a lost version.
func TestConcurrentWriterOfTheSameNewArticle(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		if e.name == "sqlite" {
			t.Skip("SQLite writers are serialised by BEGIN IMMEDIATE: no race to test")
		}
		ctx := context.Background()
		url := e.newURL(t)
		var logs safeBuffer
		s, _ := e.open(t, url, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		other, _ := e.open(t, url, Options{})
		a := article(1, "KP", "Kim Jong Un", "arms_trade")
		newerA := a
		newerA.EnrichedAt = a.EnrichedAt.Add(time.Minute)
		newerA.Countries = []events.Country{{Code: "CN", Name: "China", Score: 0.9, Mentions: []events.Mention{}}}

		// The other writer has inserted the article (older version) and not
		// committed yet when Write starts: Write's COPY waits for it, fails
		// with a unique violation when it commits, and Write retries.
		tx, err := other.(*pgStore).pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		rows, _, err := prepare([]events.EnrichedArticle{a})
		if err != nil {
			t.Fatal(err)
		}
		changed := map[string]bool{}
		if err := other.(*pgStore).merge(ctx, tx, rows, nil, false, changed); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		var res WriteResult
		go func() {
			var err error
			res, err = s.Write(ctx, []events.EnrichedArticle{newerA, article(2, "RU", "Vladimir Putin", "sanctions")})
			done <- err
		}()
		time.Sleep(300 * time.Millisecond) // let Write reach the COPY and wait
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Write = %v", err)
		}
		if res.Updated != 1 || res.Inserted != 1 {
			t.Errorf("result %+v, want 1 updated (the newer version) and 1 inserted", res)
		}
		if e.opts.PGWriteMethod == PGWriteCopy && !strings.Contains(logs.String(), "another writer stored a new article") {
			t.Errorf("the race was not met (logs: %s)", logs.String())
		}
		got := query(t, s, Filter{Country: "CN"})
		if len(got) != 1 || got[0].ID != "id-0001" || len(got[0].Countries) != 1 {
			t.Errorf("stored %+v, want id-0001 with only the newer version's tags", got)
		}
	})
}

// safeBuffer is a bytes.Buffer for concurrent writers.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
