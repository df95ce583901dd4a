package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/newsflow/newsflow/pkg/events"
)

// sqliteStore is the embedded store: one database file in WAL mode (readers
// never block the writer), a busy timeout, foreign keys on, and every write
// transaction BEGIN IMMEDIATE so that concurrent writers queue instead of
// failing on lock upgrades. synchronous stays FULL: a committed Write survives
// power loss.
type sqliteStore struct {
	db      *sql.DB
	path    string
	log     *slog.Logger
	m       *metrics
	ms      []migration
	stopRet func()
	closeMu sync.Once
}

func openSQLite(ctx context.Context, path string, opts Options) (*sqliteStore, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	if path != ":memory:" {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("open sqlite %s: %w", path, err)
			}
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	conns := opts.MaxConns
	switch {
	case path == ":memory:":
		conns = 1 // every connection would have its own database
	case conns <= 0:
		conns = 4
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	ms, err := loadMigrations("sqlite")
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &sqliteStore{db: db, path: path, log: opts.Logger, ms: ms, stopRet: func() {}}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if !opts.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	// Metrics are registered only once the database answered, so that a
	// caller retrying Open on the same registry can register them then.
	if s.m, err = newMetrics(opts.Registerer, collectors.NewDBStatsCollector(db, "sqlite")); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: register metrics: %w", path, err)
	}
	if opts.Retention > 0 {
		s.stopRet = startRetention(s.log, s.m, opts.Retention, opts.RetentionInterval, s.deleteOlder)
	}
	return s, nil
}

// sqliteErr classifies a SQLite error: locks held too long, I/O errors, a
// full disk and the like are transient (ErrUnavailable); a file that cannot be
// opened or written at all is a configuration error, and constraint
// violations are reported as they are, for Write to find the article at fault.
func sqliteErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOMEM:
			return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isSQLiteConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// Ping implements Store.
func (s *sqliteStore) Ping(ctx context.Context) error {
	return sqliteErr("ping sqlite", s.db.PingContext(ctx))
}

// Close implements Store.
func (s *sqliteStore) Close() error {
	var err error
	s.closeMu.Do(func() {
		s.stopRet()
		err = s.db.Close()
	})
	return err
}

// Migrate implements Store.
func (s *sqliteStore) Migrate(ctx context.Context) error {
	return s.migrateTo(ctx, len(s.ms))
}

// version returns the highest applied migration, 0 on an empty database.
func (s *sqliteStore) version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return 0, nil
	}
	if err != nil {
		return 0, sqliteErr("read schema version", err)
	}
	return int(v.Int64), nil
}

// migrateTo applies the migrations up to version target, each in its own
// transaction with its schema_migrations row.
func (s *sqliteStore) migrateTo(ctx context.Context, target int) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return sqliteErr("migrate sqlite", err)
	}
	for _, m := range s.ms[:target] {
		applied := false
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, fmtTime(time.Now()))
			applied = err == nil
			return err
		})
		if err != nil {
			return sqliteErr(fmt.Sprintf("migrate sqlite to version %d (%s)", m.version, m.name), err)
		}
		if applied {
			s.log.Info("applied schema migration", slog.String("engine", "sqlite"), slog.Int("version", m.version), slog.String("name", m.name))
		}
	}
	return nil
}

// SchemaVersion returns the schema version of the database and the latest
// version this build knows.
func (s *sqliteStore) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	current, err = s.version(ctx)
	return current, len(s.ms), err
}

func (s *sqliteStore) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback() // the error that made us roll back is the one to report
		return err
	}
	return tx.Commit()
}

// fmtTime formats t for SQLite: nil for the zero time, else the fixed-width
// UTC text form.
func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s.String)
}

// Write implements Store.
func (s *sqliteStore) Write(ctx context.Context, batch []events.EnrichedArticle) (WriteResult, error) {
	start := time.Now()
	res := WriteResult{Rows: newRowCounts()}
	rows, dropped, err := prepare(batch)
	if err == nil && len(rows) > 0 {
		res, err = s.write(ctx, rows, false)
		if err != nil && isSQLiteConstraint(err) {
			err = s.findRejected(ctx, rows, err)
		}
	}
	res.Skipped += dropped
	if err != nil {
		res = WriteResult{Rows: newRowCounts()}
	}
	s.m.observeWrite(start, len(batch), rows, res, err)
	return res, err
}

// findRejected writes each article alone, in a transaction it rolls back, to
// name the articles the database refuses. cause is the batch's error.
func (s *sqliteStore) findRejected(ctx context.Context, rows []articleRow, cause error) error {
	var rej []Rejection
	for i := range rows {
		_, err := s.write(ctx, rows[i:i+1], true)
		switch {
		case err == nil:
		case isSQLiteConstraint(err):
			rej = append(rej, Rejection{ID: rows[i].id, Reason: err.Error(), Index: rows[i].index})
		default:
			return err
		}
	}
	if len(rej) == 0 {
		return sqliteErr("write batch", cause)
	}
	return &RejectedError{Rejected: rej}
}

// write stores rows in one transaction; dryRun rolls it back.
func (s *sqliteStore) write(ctx context.Context, rows []articleRow, dryRun bool) (WriteResult, error) {
	res := WriteResult{Rows: newRowCounts()}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, sqliteErr("write batch: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	// Stored versions of the batch's ids.
	type version struct{ updated, enriched time.Time }
	stored := make(map[string]version, len(rows))
	const chunk = 500
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, rows[i].id)
		}
		q := `SELECT id, updated_at, enriched_at FROM articles WHERE id IN (?` + strings.Repeat(",?", hi-lo-1) + `)`
		rs, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return res, sqliteErr("write batch: read versions", err)
		}
		for rs.Next() {
			var id string
			var u, e sql.NullString
			if err := rs.Scan(&id, &u, &e); err != nil {
				rs.Close()
				return res, sqliteErr("write batch: read versions", err)
			}
			ut, err1 := parseTime(u)
			et, err2 := parseTime(e)
			if err := errors.Join(err1, err2); err != nil {
				rs.Close()
				return res, fmt.Errorf("write batch: stored version of %s: %w", id, err)
			}
			stored[id] = version{ut, et}
		}
		if err := rs.Err(); err != nil {
			return res, sqliteErr("write batch: read versions", err)
		}
		rs.Close()
	}

	stmts := map[string]string{
		"insert": `INSERT INTO articles (id, url, title, feed_url, feed_title, language, published_at, updated_at,
			fetched_at, enriched_at, article_time, enricher_version, text, event, stored_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)`,
		"update": `UPDATE articles SET url = ?2, title = ?3, feed_url = ?4, feed_title = ?5, language = ?6,
			published_at = ?7, updated_at = ?8, fetched_at = ?9, enriched_at = ?10, article_time = ?11,
			enricher_version = ?12, text = ?13, event = ?14, stored_at = ?15 WHERE id = ?1`,
		"del_countries":     `DELETE FROM article_countries WHERE article_id = ?`,
		"del_people":        `DELETE FROM article_people WHERE article_id = ?`,
		"del_organizations": `DELETE FROM article_organizations WHERE article_id = ?`,
		"del_topics":        `DELETE FROM article_topics WHERE article_id = ?`,
		"countries": `INSERT INTO article_countries (article_id, code, name, score, mention_count, article_time)
			VALUES (?, ?, ?, ?, ?, ?)`,
		"people": `INSERT INTO article_people (article_id, name, score, mention_count, wikidata_id, article_time)
			VALUES (?, ?, ?, ?, ?, ?)`,
		"organizations": `INSERT INTO article_organizations (article_id, name, score, mention_count, wikidata_id, article_time)
			VALUES (?, ?, ?, ?, ?, ?)`,
		"topics": `INSERT INTO article_topics (article_id, topic, label, score, evidence_count, article_time)
			VALUES (?, ?, ?, ?, ?, ?)`,
	}
	ps := make(map[string]*sql.Stmt, len(stmts))
	for k, q := range stmts {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return res, sqliteErr("write batch: prepare", err)
		}
		defer st.Close()
		ps[k] = st
	}

	now := fmtTime(time.Now())
	for i := range rows {
		r := &rows[i]
		r.written = false
		old, exists := stored[r.id]
		if exists && !newer(r.updatedAt, r.enrichedAt, old.updated, old.enriched) {
			res.Skipped++
			continue
		}
		op := "insert"
		if exists {
			op = "update"
			for _, k := range []string{"del_countries", "del_people", "del_organizations", "del_topics"} {
				if _, err := ps[k].ExecContext(ctx, r.id); err != nil {
					return res, sqliteErr("write article "+r.id+": delete old tags", err)
				}
			}
		}
		at := fmtTime(r.articleTime)
		if _, err := ps[op].ExecContext(ctx, r.id, r.url, r.title, r.feedURL, r.feedTitle, r.language,
			fmtTime(r.publishedAt), fmtTime(r.updatedAt), fmtTime(r.fetchedAt), fmtTime(r.enrichedAt), at,
			r.enricherVersion, r.text, string(r.event), now); err != nil {
			return res, sqliteErr("write article "+r.id, err)
		}
		for _, c := range r.countries {
			if _, err := ps["countries"].ExecContext(ctx, r.id, c.code, c.name, c.score, c.mentionCount, at); err != nil {
				return res, sqliteErr("write article "+r.id+": country "+c.code, err)
			}
		}
		for _, k := range []string{"people", "organizations"} {
			es := r.people
			if k == "organizations" {
				es = r.organizations
			}
			for _, e := range es {
				if _, err := ps[k].ExecContext(ctx, r.id, e.name, e.score, e.mentionCount, e.wikidataID, at); err != nil {
					return res, sqliteErr("write article "+r.id+": "+k, err)
				}
			}
		}
		for _, t := range r.topics {
			if _, err := ps["topics"].ExecContext(ctx, r.id, t.id, t.label, t.score, t.evidenceCount, at); err != nil {
				return res, sqliteErr("write article "+r.id+": topic "+t.id, err)
			}
		}
		if exists {
			res.Updated++
		} else {
			res.Inserted++
			stored[r.id] = version{r.updatedAt, r.enrichedAt}
		}
		r.addRows(res.Rows)
		r.written = true
	}
	if dryRun {
		return res, nil
	}
	if err := tx.Commit(); err != nil {
		return WriteResult{Rows: newRowCounts()}, sqliteErr("write batch: commit", err)
	}
	return res, nil
}

// deleteOlder deletes articles (their tags go by cascade) whose time is
// before cutoff, in chunks so that writers are never blocked for long.
func (s *sqliteStore) deleteOlder(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		r, err := s.db.ExecContext(ctx, `DELETE FROM articles WHERE seq IN (
			SELECT seq FROM articles WHERE article_time < ? LIMIT 1000)`, fmtTime(cutoff))
		if err != nil {
			return total, sqliteErr("retention: delete", err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return total, sqliteErr("retention: delete", err)
		}
		total += int(n)
		if n < 1000 {
			return total, nil
		}
	}
}

var sqliteDialect = dialect{
	ph:      func(n int) string { return fmt.Sprintf("?%d", n) },
	timeArg: func(t time.Time) any { return fmtTime(t) },
	textMatch: func(p, q string) (string, any) {
		words := ftsWords(q)
		if len(words) == 0 {
			return "", nil
		}
		// Every word, quoted: FTS5 syntax in the user's text is taken literally.
		return "a.seq IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH " + p + ")",
			`"` + strings.Join(words, `" "`) + `"`
	},
}

// Query implements Store.
func (s *sqliteStore) Query(ctx context.Context, f Filter) ([]Article, error) {
	q, args, err := buildQuery(sqliteDialect, f)
	if err != nil {
		return nil, err
	}
	rs, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, sqliteErr("query articles", err)
	}
	defer rs.Close()
	var out []Article
	for rs.Next() {
		var a Article
		var pub, upd, fet, enr, at sql.NullString
		if err := rs.Scan(&a.ID, &a.URL, &a.Title, &a.FeedURL, &a.FeedTitle, &a.Language, &a.EnricherVersion,
			&pub, &upd, &fet, &enr, &at); err != nil {
			return nil, sqliteErr("query articles", err)
		}
		for _, p := range []struct {
			dst *time.Time
			src sql.NullString
		}{{&a.PublishedAt, pub}, {&a.UpdatedAt, upd}, {&a.FetchedAt, fet}, {&a.EnrichedAt, enr}, {&a.Time, at}} {
			if *p.dst, err = parseTime(p.src); err != nil {
				return nil, fmt.Errorf("query articles: %s: %w", a.ID, err)
			}
		}
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, sqliteErr("query articles", err)
	}
	rs.Close()
	if len(out) == 0 {
		return out, nil
	}
	byID := make(map[string]*Article, len(out))
	ids := make([]any, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
		ids[i] = out[i].ID
	}
	in := "IN (?" + strings.Repeat(",?", len(ids)-1) + ")"
	for _, t := range tagQueries(byID) {
		if err := func() error {
			rs, err := s.db.QueryContext(ctx, t.sql(in), ids...)
			if err != nil {
				return sqliteErr("query tags", err)
			}
			defer rs.Close()
			for rs.Next() {
				if err := t.scan(rs.Scan); err != nil {
					return sqliteErr("query tags", err)
				}
			}
			return sqliteErr("query tags", rs.Err())
		}(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
