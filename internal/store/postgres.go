package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/events"
)

// PostgreSQL write methods (Options.PGWriteMethod).
const (
	// PGWriteCopy COPYs the batch's articles into a session staging table,
	// merges them into articles with one INSERT ... SELECT ... ON CONFLICT,
	// then COPYs the tag rows of the articles that changed.
	PGWriteCopy = "copy"
	// PGWriteUpsert sends the batch as arrays: one multi-row INSERT ... FROM
	// unnest(...) ON CONFLICT for articles and one multi-row INSERT per tag
	// table, pipelined.
	PGWriteUpsert = "upsert"
)

// migrationLock is the advisory lock key that serialises migrations across
// processes ("newsflow" in ASCII).
const migrationLock = 0x6e657773666c6f77

// pgStore is the PostgreSQL store: a pgx pool whose statements are prepared
// and cached per connection (pgx's default mode).
type pgStore struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	m       *metrics
	ms      []migration
	method  string
	stopRet func()
	once    sync.Once
}

// stagingDDL creates the session's staging table for PGWriteCopy. Its rows go
// at each commit; its columns do not depend on the schema version.
const stagingDDL = `CREATE TEMP TABLE IF NOT EXISTS newsflow_stage_articles (
	id text, url text, title text, feed_url text, feed_title text, language text,
	published_at timestamptz, updated_at timestamptz, fetched_at timestamptz, enriched_at timestamptz,
	article_time timestamptz, enricher_version text, text text, event jsonb
) ON COMMIT DELETE ROWS`

var articleCols = []string{"id", "url", "title", "feed_url", "feed_title", "language", "published_at", "updated_at",
	"fetched_at", "enriched_at", "article_time", "enricher_version", "text", "event"}

func openPostgres(ctx context.Context, url string, opts Options) (*pgStore, error) {
	method := opts.PGWriteMethod
	switch method {
	case "":
		method = PGWriteCopy
	case PGWriteCopy, PGWriteUpsert:
	default:
		return nil, fmt.Errorf("open postgres: unknown write method %q (want %s or %s)", method, PGWriteCopy, PGWriteUpsert)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", Redact(url), err)
	}
	cfg.MaxConns = 4
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	if method == PGWriteCopy {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, stagingDDL)
			return err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", Redact(url), err)
	}
	ms, err := loadMigrations("postgres")
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &pgStore{pool: pool, log: opts.Logger, ms: ms, method: method, stopRet: func() {}}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", Redact(url), err)
	}
	if !opts.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	// Metrics are registered only once the database answered, so that a
	// caller retrying Open on the same registry can register them then.
	if s.m, err = newMetrics(opts.Registerer, &poolCollector{pool: pool}); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: register metrics: %w", err)
	}
	if opts.Retention > 0 {
		s.stopRet = startRetention(s.log, s.m, opts.Retention, opts.RetentionInterval, s.deleteOlder)
	}
	return s, nil
}

// pgErr classifies a PostgreSQL error. Connection failures, shutdowns,
// resource exhaustion, serialization failures and deadlocks are transient
// (ErrUnavailable), as is any error that is not from the server.
func pgErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	switch {
	case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57"),
		strings.HasPrefix(pe.Code, "58"), pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03":
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isPGDataError reports whether err is the server refusing the data (data
// exceptions and integrity violations): an article at fault, not the database.
func isPGDataError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23"))
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Ping implements Store.
func (s *pgStore) Ping(ctx context.Context) error {
	return pgErr("ping postgres", s.pool.Ping(ctx))
}

// Close implements Store.
func (s *pgStore) Close() error {
	s.once.Do(func() {
		s.stopRet()
		s.pool.Close()
	})
	return nil
}

// Migrate implements Store.
func (s *pgStore) Migrate(ctx context.Context) error {
	return s.migrateTo(ctx, len(s.ms))
}

func (s *pgStore) version(ctx context.Context) (int, error) {
	var v *int
	err := s.pool.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, pgErr("read schema version", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// migrateTo applies the migrations up to version target under an advisory
// lock, each in its own transaction with its schema_migrations row.
func (s *pgStore) migrateTo(ctx context.Context, target int) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return pgErr("migrate postgres", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return pgErr("migrate postgres: lock", err)
	}
	defer func() {
		// A failed unlock ends with the session; the connection is dropped then.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // already failing
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return pgErr("migrate postgres", err)
	}
	for _, m := range s.ms[:target] {
		applied := false
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			applied = err == nil
			return err
		})
		if err != nil {
			return pgErr(fmt.Sprintf("migrate postgres to version %d (%s)", m.version, m.name), err)
		}
		if applied {
			s.log.Info("applied schema migration", slog.String("engine", "postgres"), slog.Int("version", m.version), slog.String("name", m.name))
		}
	}
	return nil
}

// SchemaVersion returns the schema version of the database and the latest
// version this build knows.
func (s *pgStore) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	current, err = s.version(ctx)
	return current, len(s.ms), err
}

func ts(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// Write implements Store.
func (s *pgStore) Write(ctx context.Context, batch []events.EnrichedArticle) (WriteResult, error) {
	start := time.Now()
	res := WriteResult{Rows: newRowCounts()}
	rows, dropped, err := prepare(batch)
	if err == nil && len(rows) > 0 {
		// One lock order for every writer: no deadlocks between sinks.
		slices.SortFunc(rows, func(a, b articleRow) int { return strings.Compare(a.id, b.id) })
		res, err = s.write(ctx, rows, false, false)
		if isUniqueViolation(err) {
			s.log.Info("another writer stored a new article of the batch meanwhile; writing the batch through the merge", slog.Any("error", err))
			res, err = s.write(ctx, rows, false, true)
		}
		if err != nil && isPGDataError(err) {
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
// name the articles the server refuses. cause is the batch's error.
func (s *pgStore) findRejected(ctx context.Context, rows []articleRow, cause error) error {
	var rej []Rejection
	for i := range rows {
		_, err := s.write(ctx, rows[i:i+1], true, true)
		switch {
		case err == nil:
		case isPGDataError(err):
			rej = append(rej, Rejection{ID: rows[i].id, Reason: err.Error(), Index: rows[i].index})
		default:
			return err
		}
	}
	if len(rej) == 0 {
		return pgErr("write batch", cause)
	}
	slices.SortFunc(rej, func(a, b Rejection) int { return a.Index - b.Index })
	return &RejectedError{Rejected: rej}
}

const mergeSet = ` ON CONFLICT (id) DO UPDATE SET url = excluded.url, title = excluded.title,
	feed_url = excluded.feed_url, feed_title = excluded.feed_title, language = excluded.language,
	published_at = excluded.published_at, updated_at = excluded.updated_at, fetched_at = excluded.fetched_at,
	enriched_at = excluded.enriched_at, article_time = excluded.article_time,
	enricher_version = excluded.enricher_version, text = excluded.text, event = excluded.event, stored_at = now()
	WHERE (coalesce(excluded.updated_at, '-infinity'), coalesce(excluded.enriched_at, '-infinity'))
	    > (coalesce(a.updated_at, '-infinity'), coalesce(a.enriched_at, '-infinity'))
	RETURNING a.id, a.xmax = 0`

// write stores rows (unique ids) in one transaction; dryRun rolls it back.
// mergeOnly sends every article through the merge (see merge).
func (s *pgStore) write(ctx context.Context, rows []articleRow, dryRun, mergeOnly bool) (WriteResult, error) {
	res := WriteResult{Rows: newRowCounts()}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, pgErr("write batch: begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	// 0. Leave out what is stored already in the same or a newer version
	// (redeliveries): an index lookup instead of a full row through the
	// merge. The merge's own version check stays the guard against a
	// concurrent writer.
	all := rows
	rows, stored, err := newerThanStored(ctx, tx, rows)
	if err != nil {
		return res, err
	}
	changed := map[string]bool{} // id -> inserted
	if len(rows) > 0 {
		if err := s.merge(ctx, tx, rows, stored, mergeOnly, changed); err != nil {
			return res, err
		}
	}
	for i := range all {
		r := &all[i]
		inserted, ok := changed[r.id]
		r.written = ok
		switch {
		case !ok:
			res.Skipped++
			continue
		case inserted:
			res.Inserted++
		default:
			res.Updated++
		}
		r.addRows(res.Rows)
	}
	if dryRun {
		return res, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return WriteResult{Rows: newRowCounts()}, pgErr("write batch: commit", err)
	}
	return res, nil
}

// newerThanStored returns the rows whose id is not stored, or stored in an
// older version, and the set of stored ids.
func newerThanStored(ctx context.Context, tx pgx.Tx, rows []articleRow) ([]articleRow, map[string]bool, error) {
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].id
	}
	rs, err := tx.Query(ctx, `SELECT id, updated_at, enriched_at FROM articles WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, nil, pgErr("write batch: read versions", err)
	}
	type version struct{ updated, enriched time.Time }
	stored := map[string]version{}
	storedIDs := map[string]bool{}
	for rs.Next() {
		var id string
		var u, e *time.Time
		if err := rs.Scan(&id, &u, &e); err != nil {
			rs.Close()
			return nil, nil, pgErr("write batch: read versions", err)
		}
		var v version
		if u != nil {
			v.updated = *u
		}
		if e != nil {
			v.enriched = *e
		}
		stored[id] = v
		storedIDs[id] = true
	}
	if err := rs.Err(); err != nil {
		return nil, nil, pgErr("write batch: read versions", err)
	}
	if len(stored) == 0 {
		return rows, storedIDs, nil
	}
	out := make([]articleRow, 0, len(rows))
	for i := range rows {
		if v, ok := stored[rows[i].id]; !ok || newer(rows[i].updatedAt, rows[i].enrichedAt, v.updated, v.enriched) {
			out = append(out, rows[i])
		}
	}
	return out, storedIDs, nil
}

// merge writes rows into articles (insert, or replace when newer), noting in
// changed each id written (true: inserted), then replaces their tag rows.
func (s *pgStore) merge(ctx context.Context, tx pgx.Tx, rows []articleRow, stored map[string]bool, mergeOnly bool, changed map[string]bool) error {
	values := func(r *articleRow) []any {
		return []any{r.id, r.url, r.title, r.feedURL, r.feedTitle, r.language, ts(r.publishedAt),
			ts(r.updatedAt), ts(r.fetchedAt), ts(r.enrichedAt), ts(r.articleTime), r.enricherVersion,
			r.text, r.event}
	}
	var merged pgx.Rows
	var err error
	if s.method == PGWriteCopy {
		// Articles not stored yet go straight into articles by COPY: a
		// concurrent writer storing one of them first makes the COPY fail
		// with a unique violation, and Write tries again with the merge
		// alone. Stored articles (older versions) go through the staging
		// table and the merge.
		var fresh, old []*articleRow
		for i := range rows {
			if stored[rows[i].id] {
				old = append(old, &rows[i])
			} else {
				fresh = append(fresh, &rows[i])
			}
		}
		if mergeOnly {
			fresh, old = nil, append(fresh, old...)
		}
		if len(fresh) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"articles"}, articleCols,
				pgx.CopyFromSlice(len(fresh), func(i int) ([]any, error) { return values(fresh[i]), nil })); err != nil {
				return pgErr("write batch: copy articles", err)
			}
			for _, r := range fresh {
				changed[r.id] = true
			}
		}
		if len(old) == 0 {
			return s.writeTags(ctx, tx, rows, changed, nil)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"newsflow_stage_articles"}, articleCols,
			pgx.CopyFromSlice(len(old), func(i int) ([]any, error) { return values(old[i]), nil })); err != nil {
			return pgErr("write batch: copy to staging", err)
		}
		merged, err = tx.Query(ctx, `INSERT INTO articles AS a (`+strings.Join(articleCols, ", ")+`)
			SELECT `+strings.Join(articleCols, ", ")+` FROM newsflow_stage_articles`+mergeSet)
	} else {
		cols := make([][]any, len(articleCols))
		for i := range rows {
			for c, v := range values(&rows[i]) {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				cols[c] = append(cols[c], v)
			}
		}
		merged, err = tx.Query(ctx, `INSERT INTO articles AS a (`+strings.Join(articleCols, ", ")+`)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
				$7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[],
				$12::text[], $13::text[], $14::text[]::jsonb[])`+mergeSet,
			texts(cols[0]), texts(cols[1]), texts(cols[2]), texts(cols[3]), texts(cols[4]), texts(cols[5]),
			times(cols[6]), times(cols[7]), times(cols[8]), times(cols[9]), times(cols[10]),
			texts(cols[11]), texts(cols[12]), texts(cols[13]))
	}
	if err != nil {
		return pgErr("write batch: merge articles", err)
	}
	var updated []string
	for merged.Next() {
		var id string
		var inserted bool
		if err := merged.Scan(&id, &inserted); err != nil {
			merged.Close()
			return pgErr("write batch: merge articles", err)
		}
		changed[id] = inserted
		if !inserted {
			updated = append(updated, id)
		}
	}
	if err := merged.Err(); err != nil {
		return pgErr("write batch: merge articles", err)
	}

	return s.writeTags(ctx, tx, rows, changed, updated)
}

// writeTags deletes the tag rows of the updated articles, then writes the tag
// rows of every changed one.
func (s *pgStore) writeTags(ctx context.Context, tx pgx.Tx, rows []articleRow, changed map[string]bool, updated []string) error {
	// 2. Tags of replaced articles go; 3. tags of changed articles come.
	if len(updated) > 0 {
		b := &pgx.Batch{}
		for _, t := range tagTables() {
			b.Queue(`DELETE FROM `+t+` WHERE article_id = ANY($1)`, updated)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return pgErr("write batch: delete replaced tags", err)
		}
	}
	tags := tagRowsOf(rows, changed)
	if s.method == PGWriteCopy {
		for _, t := range tagTables() {
			if len(tags[t]) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t}, tagCols[t], pgx.CopyFromRows(tags[t])); err != nil {
				return pgErr("write batch: copy "+t, err)
			}
		}
	} else {
		b := &pgx.Batch{}
		for _, t := range tagTables() {
			if len(tags[t]) == 0 {
				continue
			}
			b.Queue(tagInsert[t], columns(tags[t])...)
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return pgErr("write batch: insert tags", err)
			}
		}
	}

	return nil
}

var tagCols = map[string][]string{
	"article_countries":     {"article_id", "code", "name", "score", "mention_count", "article_time"},
	"article_people":        {"article_id", "name", "score", "mention_count", "wikidata_id", "article_time"},
	"article_organizations": {"article_id", "name", "score", "mention_count", "wikidata_id", "article_time"},
	"article_topics":        {"article_id", "topic", "label", "score", "evidence_count", "article_time"},
}

var tagInsert = map[string]string{
	"article_countries": `INSERT INTO article_countries (article_id, code, name, score, mention_count, article_time)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::int[], $6::timestamptz[])`,
	"article_people": `INSERT INTO article_people (article_id, name, score, mention_count, wikidata_id, article_time)
		SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::int[], $5::text[], $6::timestamptz[])`,
	"article_organizations": `INSERT INTO article_organizations (article_id, name, score, mention_count, wikidata_id, article_time)
		SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::int[], $5::text[], $6::timestamptz[])`,
	"article_topics": `INSERT INTO article_topics (article_id, topic, label, score, evidence_count, article_time)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::int[], $6::timestamptz[])`,
}

// tagRowsOf returns the tag rows, by table, of the rows whose id is in changed,
// in the column order of tagCols.
func tagRowsOf(rows []articleRow, changed map[string]bool) map[string][][]any {
	out := make(map[string][][]any, 4)
	for i := range rows {
		r := &rows[i]
		if _, ok := changed[r.id]; !ok {
			continue
		}
		at := r.articleTime
		for _, c := range r.countries {
			out["article_countries"] = append(out["article_countries"], []any{r.id, c.code, c.name, c.score, int32(c.mentionCount), at})
		}
		for _, e := range r.people {
			out["article_people"] = append(out["article_people"], []any{r.id, e.name, e.score, int32(e.mentionCount), e.wikidataID, at})
		}
		for _, e := range r.organizations {
			out["article_organizations"] = append(out["article_organizations"], []any{r.id, e.name, e.score, int32(e.mentionCount), e.wikidataID, at})
		}
		for _, t := range r.topics {
			out["article_topics"] = append(out["article_topics"], []any{r.id, t.id, t.label, t.score, int32(t.evidenceCount), at})
		}
	}
	return out
}

// columns turns rows of values into one typed slice per column, for unnest.
func columns(rows [][]any) []any {
	out := make([]any, len(rows[0]))
	for c := range rows[0] {
		col := make([]any, len(rows))
		for i, r := range rows {
			col[i] = r[c]
		}
		switch rows[0][c].(type) {
		case string:
			out[c] = texts(col)
		case float64:
			fs := make([]float64, len(col))
			for i, v := range col {
				fs[i] = v.(float64)
			}
			out[c] = fs
		case int32:
			is := make([]int32, len(col))
			for i, v := range col {
				is[i] = v.(int32)
			}
			out[c] = is
		case time.Time:
			ts := make([]time.Time, len(col))
			for i, v := range col {
				ts[i] = v.(time.Time)
			}
			out[c] = ts
		}
	}
	return out
}

func texts(col []any) []string {
	out := make([]string, len(col))
	for i, v := range col {
		out[i] = v.(string)
	}
	return out
}

func times(col []any) []pgtype.Timestamptz {
	out := make([]pgtype.Timestamptz, len(col))
	for i, v := range col {
		out[i] = v.(pgtype.Timestamptz)
	}
	return out
}

// deleteOlder deletes articles whose time is before cutoff and their tag
// rows, a few thousand articles per transaction so that writers never wait
// long. Articles go first, then their tags: the order Write locks them in.
func (s *pgStore) deleteOlder(ctx context.Context, cutoff time.Time) (int, error) {
	const chunk = 5000
	total := 0
	for {
		var n int
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rs, err := tx.Query(ctx, `DELETE FROM articles WHERE id IN (
				SELECT id FROM articles WHERE article_time < $1 LIMIT $2) RETURNING id`, cutoff, chunk)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rs, pgx.RowTo[string])
			if err != nil || len(ids) == 0 {
				return err
			}
			b := &pgx.Batch{}
			for _, t := range tagTables() {
				b.Queue(`DELETE FROM `+t+` WHERE article_id = ANY($1)`, ids)
			}
			n = len(ids)
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return total, pgErr("retention: delete", err)
		}
		total += n
		if n < chunk {
			return total, nil
		}
	}
}

var pgDialect = dialect{
	ph:      func(n int) string { return fmt.Sprintf("$%d", n) },
	timeArg: func(t time.Time) any { return t },
	textMatch: func(p, q string) (string, any) {
		if len(ftsWords(q)) == 0 {
			return "", nil
		}
		return "a.search @@ websearch_to_tsquery('english', " + p + ")", q
	},
}

// Query implements Store.
func (s *pgStore) Query(ctx context.Context, f Filter) ([]Article, error) {
	q, args, err := buildQuery(pgDialect, f)
	if err != nil {
		return nil, err
	}
	rs, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, pgErr("query articles", err)
	}
	var out []Article
	for rs.Next() {
		var a Article
		var pub, upd, enr *time.Time
		if err := rs.Scan(&a.ID, &a.URL, &a.Title, &a.FeedURL, &a.FeedTitle, &a.Language, &a.EnricherVersion,
			&pub, &upd, &a.FetchedAt, &enr, &a.Time); err != nil {
			rs.Close()
			return nil, pgErr("query articles", err)
		}
		for _, p := range []struct {
			dst *time.Time
			src *time.Time
		}{{&a.PublishedAt, pub}, {&a.UpdatedAt, upd}, {&a.EnrichedAt, enr}} {
			if p.src != nil {
				*p.dst = p.src.UTC()
			}
		}
		a.FetchedAt, a.Time = a.FetchedAt.UTC(), a.Time.UTC()
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, pgErr("query articles", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	byID := make(map[string]*Article, len(out))
	ids := make([]string, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
		ids[i] = out[i].ID
	}
	for _, t := range tagQueries(byID) {
		rs, err := s.pool.Query(ctx, t.sql("= ANY($1)"), ids)
		if err != nil {
			return nil, pgErr("query tags", err)
		}
		for rs.Next() {
			if err := t.scan(rs.Scan); err != nil {
				rs.Close()
				return nil, pgErr("query tags", err)
			}
		}
		if err := rs.Err(); err != nil {
			return nil, pgErr("query tags", err)
		}
	}
	return out, nil
}

// poolCollector exports the pgx pool's statistics under the names
// client_golang's DB stats collector uses for database/sql (go_sql_*,
// db_name="postgres"), so one dashboard serves both engines.
type poolCollector struct {
	pool *pgxpool.Pool
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("go_sql_"+name, help, nil, prometheus.Labels{"db_name": "postgres"})
}

var (
	descMaxOpen      = poolDesc("max_open_connections", "Maximum number of open connections to the database.")
	descOpen         = poolDesc("open_connections", "The number of established connections both in use and idle.")
	descInUse        = poolDesc("in_use_connections", "The number of connections currently in use.")
	descIdle         = poolDesc("idle_connections", "The number of idle connections.")
	descWaitCount    = poolDesc("wait_count_total", "The total number of connections waited for.")
	descWaitDuration = poolDesc("wait_duration_seconds_total", "The total time blocked waiting for a new connection.")
	descIdleClosed   = poolDesc("max_idle_time_closed_total", "The total number of connections closed due to SetConnMaxIdleTime.")
	descLifeClosed   = poolDesc("max_lifetime_closed_total", "The total number of connections closed due to SetConnMaxLifetime.")
)

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMaxOpen, descOpen, descInUse, descIdle, descWaitCount, descWaitDuration, descIdleClosed, descLifeClosed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(descMaxOpen, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(st.TotalConns()))
	ch <- prometheus.MustNewConstMetric(descInUse, prometheus.GaugeValue, float64(st.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(descIdle, prometheus.GaugeValue, float64(st.IdleConns()))
	ch <- prometheus.MustNewConstMetric(descWaitCount, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(descWaitDuration, prometheus.CounterValue, st.EmptyAcquireWaitTime().Seconds())
	ch <- prometheus.MustNewConstMetric(descIdleClosed, prometheus.CounterValue, float64(st.MaxIdleDestroyCount()))
	ch <- prometheus.MustNewConstMetric(descLifeClosed, prometheus.CounterValue, float64(st.MaxLifetimeDestroyCount()))
}
