// Package state is the fetcher's local state store: per-feed HTTP validators,
// schedule and health, and the set of items already published.
//
// It is one SQLite file (pure-Go driver, no server) in WAL mode with
// synchronous=NORMAL: a committed transaction survives the process being
// killed (kill -9), because WAL frames are written before COMMIT returns; only
// an operating-system crash or power loss can lose the last transactions, and
// then the fetcher republishes a few items (at-least-once; the sink is
// idempotent) rather than missing any. Writes go through one connection and
// one goroutine that commits concurrent Saves together (group commit). The
// seen-set is bounded: ids of items that left their feed are forgotten after a
// retention period, and at most a fixed number of ids are kept per feed.
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Feed is the persisted state of one feed, keyed by its listed URL.
type Feed struct {
	// URL is the feed's URL in the feed list (its identity).
	URL string
	// CurrentURL is where the feed now lives after permanent redirects; empty
	// means URL.
	CurrentURL   string
	ETag         string
	LastModified string
	// NextPoll is when the feed is due.
	NextPoll time.Time
	// LastPoll is the last poll attempt; LastSuccess the last poll that
	// ended ok or not_modified.
	LastPoll, LastSuccess time.Time
	// LastNewItem is when the last new or updated item was published.
	LastNewItem time.Time
	// FailingSince is the first failure of the current run of failures;
	// zero when the last poll succeeded.
	FailingSince time.Time
	// LastError is the error class of the last failure, LastErrorText its
	// message.
	LastError, LastErrorText string
	// ConsecutiveFailures counts failures since the last success.
	ConsecutiveFailures int
	// Interval is the adaptive interval in force (0: the configured one).
	Interval time.Duration
	// Title and SiteURL are the feed's own, from its last parsed document.
	Title, SiteURL string
}

// Seen is one item already published: its id, content hash and updated date.
type Seen struct {
	ID      string
	Hash    string
	Updated time.Time
}

// Store is the state store. Its methods are safe for concurrent use.
type Store struct {
	db *sql.DB // reads
	w  *sql.DB // writes: one connection, statements prepared once

	upsertFeed, insertSeen, refreshSeen, pruneSeen, capSeen *sql.Stmt

	reqs       chan saveReq  // to the writer goroutine
	quit       chan struct{} // closed by Close
	writerDone chan struct{}
	closeOnce  sync.Once
	// wmu serialises write transactions in the process: SQLite allows one
	// writer, and waiting on a Go mutex is far cheaper than SQLite's
	// busy-retry sleeps when many polls commit at once.
	wmu sync.Mutex
}

const schema = `
CREATE TABLE IF NOT EXISTS feeds (
	id INTEGER PRIMARY KEY,
	url TEXT NOT NULL UNIQUE,
	current_url TEXT NOT NULL DEFAULT '',
	etag TEXT NOT NULL DEFAULT '',
	last_modified TEXT NOT NULL DEFAULT '',
	next_poll INTEGER NOT NULL DEFAULT 0,
	last_poll INTEGER NOT NULL DEFAULT 0,
	last_success INTEGER NOT NULL DEFAULT 0,
	last_new_item INTEGER NOT NULL DEFAULT 0,
	failing_since INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	last_error_text TEXT NOT NULL DEFAULT '',
	failures INTEGER NOT NULL DEFAULT 0,
	interval_ns INTEGER NOT NULL DEFAULT 0,
	title TEXT NOT NULL DEFAULT '',
	site_url TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS seen (
	feed_id INTEGER NOT NULL,
	item_id TEXT NOT NULL,
	hash TEXT NOT NULL,
	updated INTEGER NOT NULL,
	last_present INTEGER NOT NULL,
	PRIMARY KEY (feed_id, item_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_present ON seen (feed_id, last_present);
`

// Open opens (creating if needed) the store at path. A path that is a
// directory, or ends in a separator, gets the file fetcher.db inside it.
func Open(path string) (*Store, error) {
	if st, err := os.Stat(path); (err == nil && st.IsDir()) || strings.HasSuffix(path, string(os.PathSeparator)) {
		path = filepath.Join(path, "fetcher.db")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	// A small pool lets reads proceed beside the writer in WAL mode.
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: create schema: %w", path, err)
	}
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	// SQLite has one writer at a time: one connection, whose prepared
	// statements every transaction reuses.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	s := &Store{db: db, w: w, reqs: make(chan saveReq), quit: make(chan struct{}), writerDone: make(chan struct{})}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.upsertFeed, `INSERT INTO feeds (url, current_url, etag, last_modified, next_poll, last_poll, last_success,
			last_new_item, failing_since, last_error, last_error_text, failures, interval_ns, title, site_url)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (url) DO UPDATE SET current_url = excluded.current_url, etag = excluded.etag,
			last_modified = excluded.last_modified, next_poll = excluded.next_poll, last_poll = excluded.last_poll,
			last_success = excluded.last_success, last_new_item = excluded.last_new_item, failing_since = excluded.failing_since,
			last_error = excluded.last_error, last_error_text = excluded.last_error_text, failures = excluded.failures,
			interval_ns = excluded.interval_ns, title = excluded.title, site_url = excluded.site_url
			RETURNING id`},
		{&s.insertSeen, `INSERT INTO seen (feed_id, item_id, hash, updated, last_present) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (feed_id, item_id) DO UPDATE SET hash = excluded.hash, updated = excluded.updated, last_present = excluded.last_present`},
		{&s.refreshSeen, `UPDATE seen SET last_present = ? WHERE feed_id = ? AND item_id = ?`},
		{&s.pruneSeen, `DELETE FROM seen WHERE feed_id = ? AND last_present < ?`},
		{&s.capSeen, `DELETE FROM seen WHERE feed_id = ? AND item_id IN (
			SELECT item_id FROM seen WHERE feed_id = ? ORDER BY last_present DESC LIMIT -1 OFFSET ?)`},
	} {
		if *p.stmt, err = w.Prepare(p.sql); err != nil {
			close(s.writerDone)
			s.Close()
			return nil, fmt.Errorf("open state %s: prepare: %w", path, err)
		}
	}
	go s.writer()
	return s, nil
}

// ErrClosed is returned by Save after Close.
var ErrClosed = errors.New("state store closed")

// Close waits for the commit in progress, then closes the store. Saves after
// Close fail with ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.close() })
	return err
}

func (s *Store) close() error {
	close(s.quit)
	<-s.writerDone
	for _, st := range []*sql.Stmt{s.upsertFeed, s.insertSeen, s.refreshSeen, s.pruneSeen, s.capSeen} {
		if st != nil {
			st.Close()
		}
	}
	werr := s.w.Close()
	if err := errors.Join(s.db.Close(), werr); err != nil {
		return fmt.Errorf("close state: %w", err)
	}
	return nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Feeds returns the state of every feed the store knows, by listed URL.
func (s *Store) Feeds(ctx context.Context) (map[string]Feed, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT url, current_url, etag, last_modified, next_poll, last_poll, last_success,
		last_new_item, failing_since, last_error, last_error_text, failures, interval_ns, title, site_url FROM feeds`)
	if err != nil {
		return nil, fmt.Errorf("load feed states: %w", err)
	}
	defer rows.Close()
	out := make(map[string]Feed)
	for rows.Next() {
		var f Feed
		var next, last, succ, newItem, failing, interval int64
		if err := rows.Scan(&f.URL, &f.CurrentURL, &f.ETag, &f.LastModified, &next, &last, &succ, &newItem, &failing,
			&f.LastError, &f.LastErrorText, &f.ConsecutiveFailures, &interval, &f.Title, &f.SiteURL); err != nil {
			return nil, fmt.Errorf("load feed states: %w", err)
		}
		f.NextPoll, f.LastPoll, f.LastSuccess = fromUnix(next), fromUnix(last), fromUnix(succ)
		f.LastNewItem, f.FailingSince, f.Interval = fromUnix(newItem), fromUnix(failing), time.Duration(interval)
		out[f.URL] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load feed states: %w", err)
	}
	return out, nil
}

// SeenItems returns the seen items of the feed listed as feedURL whose ids
// are among ids, by id.
func (s *Store) SeenItems(ctx context.Context, feedURL string, ids []string) (map[string]Seen, error) {
	out := make(map[string]Seen, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var feedID int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM feeds WHERE url = ?`, feedURL).Scan(&feedID)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load seen items of %s: %w", feedURL, err)
	}
	// Query in chunks to stay under SQLite's variable limit.
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, feedID)
		for _, id := range chunk {
			args = append(args, id)
		}
		q := `SELECT item_id, hash, updated FROM seen WHERE feed_id = ? AND item_id IN (?` + strings.Repeat(",?", len(chunk)-1) + `)`
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("load seen items of %s: %w", feedURL, err)
		}
		for rows.Next() {
			var it Seen
			var upd int64
			if err := rows.Scan(&it.ID, &it.Hash, &upd); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load seen items of %s: %w", feedURL, err)
			}
			it.Updated = fromUnix(upd)
			out[it.ID] = it
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("load seen items of %s: %w", feedURL, err)
		}
	}
	return out, nil
}

// Commit is the outcome of one poll, written in one transaction.
type Commit struct {
	Feed Feed
	// Published are items just acknowledged by the broker: they are marked
	// seen (inserted or updated).
	Published []Seen
	// Present are the ids in the feed document just parsed; they are kept
	// as long as they stay in the feed.
	Present []string
	// Now stamps Present; Retention and PerFeed bound what is kept of
	// items no longer present.
	Now       time.Time
	Retention time.Duration
	PerFeed   int
}

// Save writes c atomically and durably (see the package comment): the feed
// state, the newly seen items, and the pruning of items gone from the feed
// for longer than the retention. Concurrent Saves are committed together in
// one transaction (group commit); each returns once its own commit is done.
// If ctx ends first, Save returns ctx's error and the commit may or may not
// happen.
func (s *Store) Save(ctx context.Context, c Commit) error {
	req := saveReq{c: c, done: make(chan error, 1)}
	select {
	case s.reqs <- req:
	case <-s.quit:
		return fmt.Errorf("save state of %s: %w", c.Feed.URL, ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("save state of %s: %w", c.Feed.URL, ctx.Err())
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("save state of %s: %w", c.Feed.URL, ctx.Err())
	}
}

type saveReq struct {
	c    Commit
	done chan error
}

// maxBatch bounds the commits of one group transaction.
const maxBatch = 256

// writer commits the queued Saves until quit closes.
func (s *Store) writer() {
	defer close(s.writerDone)
	for {
		var req saveReq
		select {
		case req = <-s.reqs:
		case <-s.quit:
			return
		}
		batch := []saveReq{req}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := s.commit(batch)
		if err != nil && len(batch) > 1 {
			// One bad commit must not fail the others: retry each alone.
			for _, r := range batch {
				r.done <- s.commit([]saveReq{r})
			}
			continue
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// commit applies batch in one transaction.
func (s *Store) commit(batch []saveReq) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, r := range batch {
		if err := s.apply(ctx, tx, r.c); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// apply writes one Commit inside tx.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, c Commit) error {
	f := c.Feed
	var feedID int64
	err := tx.StmtContext(ctx, s.upsertFeed).QueryRowContext(ctx,
		f.URL, f.CurrentURL, f.ETag, f.LastModified, unix(f.NextPoll), unix(f.LastPoll), unix(f.LastSuccess),
		unix(f.LastNewItem), unix(f.FailingSince), f.LastError, f.LastErrorText, f.ConsecutiveFailures, int64(f.Interval),
		f.Title, f.SiteURL).Scan(&feedID)
	if err != nil {
		return fmt.Errorf("save state of %s: %w", f.URL, err)
	}
	now := unix(c.Now)
	if len(c.Published) > 0 {
		ins := tx.StmtContext(ctx, s.insertSeen)
		for _, it := range c.Published {
			if _, err := ins.ExecContext(ctx, feedID, it.ID, it.Hash, unix(it.Updated), now); err != nil {
				return fmt.Errorf("save seen items of %s: %w", f.URL, err)
			}
		}
	}
	if len(c.Present) > 0 {
		// Ids just inserted already carry now; refresh the others.
		fresh := make(map[string]bool, len(c.Published))
		for _, it := range c.Published {
			fresh[it.ID] = true
		}
		ref := tx.StmtContext(ctx, s.refreshSeen)
		for _, id := range c.Present {
			if fresh[id] {
				continue
			}
			if _, err := ref.ExecContext(ctx, now, feedID, id); err != nil {
				return fmt.Errorf("refresh seen items of %s: %w", f.URL, err)
			}
		}
		if c.Retention > 0 {
			if _, err := tx.StmtContext(ctx, s.pruneSeen).ExecContext(ctx, feedID, unix(c.Now.Add(-c.Retention))); err != nil {
				return fmt.Errorf("prune seen items of %s: %w", f.URL, err)
			}
		}
		// The cap can only be exceeded when ids were added.
		if c.PerFeed > 0 && len(c.Published) > 0 && len(c.Present) < c.PerFeed {
			if _, err := tx.StmtContext(ctx, s.capSeen).ExecContext(ctx, feedID, feedID, c.PerFeed); err != nil {
				return fmt.Errorf("cap seen items of %s: %w", f.URL, err)
			}
		}
	}
	return nil
}

// SaveFeed writes one feed's state alone (a poll with no parsed document).
func (s *Store) SaveFeed(ctx context.Context, f Feed) error {
	return s.Save(ctx, Commit{Feed: f})
}

// Forget deletes the state and seen items of feeds not in keep. It is not
// called on reload (a feed removed by mistake and put back keeps its
// history); callers may use it for maintenance.
func (s *Store) Forget(ctx context.Context, keep map[string]bool) (int, error) {
	all, err := s.Feeds(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for u := range all {
		if keep[u] {
			continue
		}
		s.wmu.Lock()
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			s.wmu.Unlock()
			return n, fmt.Errorf("forget %s: %w", u, err)
		}
		err = forget(ctx, tx, u)
		s.wmu.Unlock()
		if err != nil {
			return n, fmt.Errorf("forget %s: %w", u, err)
		}
		n++
	}
	return n, nil
}

func forget(ctx context.Context, tx *sql.Tx, u string) error {
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, `DELETE FROM seen WHERE feed_id = (SELECT id FROM feeds WHERE url = ?)`, u); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM feeds WHERE url = ?`, u); err != nil {
		return err
	}
	return tx.Commit()
}

// SeenCount returns the number of seen ids kept for the feed listed as
// feedURL.
func (s *Store) SeenCount(ctx context.Context, feedURL string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM seen WHERE feed_id = (SELECT id FROM feeds WHERE url = ?)`, feedURL).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count seen items of %s: %w", feedURL, err)
	}
	return n, nil
}
