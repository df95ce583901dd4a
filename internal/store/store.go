// Package store persists enriched articles in PostgreSQL or SQLite behind one
// small interface, in a shape that Grafana dashboards and the `newsflow
// articles` command query directly.
//
// Storage is idempotent: an article is keyed by its id, a redelivered event
// never makes a duplicate row, and an older version of an article never
// overwrites a newer one. The schema is created and upgraded by embedded,
// versioned migrations (one set per engine) recorded in schema_migrations.
//
// Timestamps are timestamptz in PostgreSQL. In SQLite they are TEXT in one
// fixed-width UTC form, 2006-01-02T15:04:05.000000Z (RFC 3339, microseconds),
// so that text order is time order and SQLite's date functions and Grafana's
// SQLite data source read them as they are.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/events"
)

// Store persists enriched articles. Its methods are safe for concurrent use
// (several sink consumers may write at once: PostgreSQL runs their
// transactions side by side, SQLite one after the other).
type Store interface {
	// Write stores a batch in ONE transaction: idempotent upsert by article
	// id; a newer version (later updated_at, then later enriched_at) replaces
	// the article and its tag rows; an older or equal version never
	// overwrites a newer one (it is counted as skipped). When the batch holds
	// the same id more than once, the newest version wins.
	//
	// Write returns nil only when the transaction committed (durable). On any
	// error nothing of the batch is stored. The error wraps ErrUnavailable
	// when the database cannot be reached or the failure is transient (retry
	// the same batch later), or ErrRejected, as a *RejectedError naming every
	// article that can never be stored: the caller dead-letters those and
	// writes the rest again. Any other error is a bug or a broken schema.
	Write(ctx context.Context, batch []events.EnrichedArticle) (WriteResult, error)
	// Query returns the articles matching f with their tags, newest first.
	Query(ctx context.Context, f Filter) ([]Article, error)
	// Ping reports whether the database answers; the error wraps
	// ErrUnavailable when it does not.
	Ping(ctx context.Context) error
	// Migrate applies the embedded migrations the database does not have
	// yet. It is safe to call concurrently from several processes (in
	// PostgreSQL) and again on an up-to-date database.
	Migrate(ctx context.Context) error
	// Close stops the background retention job, if any, and closes the
	// database. The Store must not be used afterwards.
	Close() error
}

// WriteResult counts what one Write did.
type WriteResult struct {
	// Inserted counts articles stored for the first time, Updated articles
	// replaced by a newer version, Skipped articles whose stored version was
	// the same or newer (redeliveries, out-of-order versions, duplicates
	// inside the batch).
	Inserted, Updated, Skipped int
	// Rows counts rows written by table (articles, article_countries,
	// article_people, article_organizations, article_topics).
	Rows map[string]int
}

// Tables returns the tables Write writes (the keys of WriteResult.Rows and
// the table label of newsflow_sink_rows_written_total): articles, then the
// tag tables.
func Tables() []string { return append([]string{"articles"}, tagTables()...) }

// tagTables returns the tag tables.
func tagTables() []string {
	return []string{"article_countries", "article_people", "article_organizations", "article_topics"}
}

// Errors callers test with errors.Is.
var (
	// ErrUnavailable: the database cannot be reached or the failure is
	// transient; the same batch may succeed later.
	ErrUnavailable = errors.New("store unavailable")
	// ErrRejected: an article can never be stored. The error is a
	// *RejectedError that names the articles.
	ErrRejected = errors.New("article rejected")
)

// Rejection names one article Write will never store, and why.
type Rejection struct {
	ID     string
	Reason string
	// Index is the article's position in the batch given to Write.
	Index int
}

// RejectedError is returned by Write when articles of the batch can never be
// stored. Nothing of the batch was stored; the caller dead-letters the
// rejected articles and writes the others again. It matches ErrRejected.
type RejectedError struct {
	Rejected []Rejection
}

// Error implements error.
func (e *RejectedError) Error() string {
	var b strings.Builder
	b.WriteString("store: ")
	for i, r := range e.Rejected {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "article %q rejected: %s", r.ID, r.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Options configure Open.
type Options struct {
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// NoMigrate leaves the schema as it is at Open; Migrate applies it.
	NoMigrate bool
	// Retention, when positive, starts a background job that deletes
	// articles (and their tags) whose time (published_at, or fetched_at when
	// missing) is older than Retention, every RetentionInterval.
	Retention time.Duration
	// RetentionInterval is how often the retention job runs (default 10m).
	RetentionInterval time.Duration
	// MaxConns caps the connection pool (default: 4 for PostgreSQL, 4 for
	// SQLite readers; SQLite always has one writer at a time).
	MaxConns int
	// PGWriteMethod chooses how PostgreSQL writes a batch: "copy" (COPY into
	// session staging tables, then one merge per table; the default) or
	// "upsert" (multi-row INSERT ... ON CONFLICT from arrays).
	PGWriteMethod string
}

// Filter selects articles in Query. Empty fields do not filter.
type Filter struct {
	// Country is an ISO 3166-1 alpha-2 code (case-insensitive).
	Country string
	// Person and Organization are canonical names, matched exactly.
	Person       string
	Organization string
	// Topic is a taxonomy topic id such as "arms_trade".
	Topic string
	// MinScore keeps only tags scored at least MinScore for the tag filters.
	MinScore float64
	// Since and Until bound the article time (published_at, or fetched_at
	// when missing): Since <= time < Until.
	Since, Until time.Time
	// Text is a full-text query on title and text (PostgreSQL: websearch
	// syntax, English stemming; SQLite: every word as a case-insensitive
	// substring).
	Text string
	// Limit caps the number of articles (default 50, at most 10,000).
	Limit int
}

// Article is a stored article with its tags, as Query returns it.
type Article struct {
	ID, URL, Title        string
	FeedURL, FeedTitle    string
	Language              string
	EnricherVersion       string
	PublishedAt           time.Time // zero when the feed gave none
	UpdatedAt             time.Time // zero when never republished
	FetchedAt             time.Time
	EnrichedAt            time.Time
	Time                  time.Time // published_at, or fetched_at when missing or in the future
	Countries             []CountryTag
	People, Organizations []EntityTag
	Topics                []TopicTag
}

// CountryTag is a country tag row.
type CountryTag struct {
	Code, Name   string
	Score        float64
	MentionCount int
}

// EntityTag is a person or organization tag row.
type EntityTag struct {
	Name         string
	Score        float64
	MentionCount int
	WikidataID   string
}

// TopicTag is a topic tag row.
type TopicTag struct {
	ID, Label     string
	Score         float64
	EvidenceCount int
}

// Open connects to the store at url and, unless opts.NoMigrate, applies the
// migrations. url is "sqlite:PATH" (or a bare path) for SQLite, or
// "postgres://..." / "postgresql://..." for PostgreSQL (sslmode and the other
// libpq parameters in the URL). Errors reaching the database wrap
// ErrUnavailable.
func Open(ctx context.Context, url string, opts Options) (Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RetentionInterval <= 0 {
		opts.RetentionInterval = 10 * time.Minute
	}
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url, opts)
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"), opts)
	case url == "":
		return nil, errors.New("open store: empty URL")
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("open store %q: unknown scheme (want sqlite:PATH or postgres://...)", Redact(url))
	default:
		return openSQLite(ctx, url, opts)
	}
}

// SchemaVersion returns the schema version of the database behind s (0 when
// empty) and the latest version this build's migrations reach.
func SchemaVersion(ctx context.Context, s Store) (current, latest int, err error) {
	v, ok := s.(interface {
		SchemaVersion(context.Context) (int, int, error)
	})
	if !ok {
		return 0, 0, fmt.Errorf("schema version: %T is not a database store", s)
	}
	return v.SchemaVersion(ctx)
}

// Redact returns url with any password (user:password@ or a password=
// parameter) replaced by "xxxxx", for logs and error messages.
func Redact(url string) string {
	for from := 0; ; {
		i := strings.Index(url[from:], "password=")
		if i < 0 {
			break
		}
		i += from + len("password=")
		end := strings.IndexAny(url[i:], "& ")
		if end < 0 {
			end = len(url) - i
		}
		url = url[:i] + "xxxxx" + url[i+end:]
		from = i + len("xxxxx")
	}
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	at := strings.LastIndex(rest, "@")
	slash := strings.Index(rest, "/")
	if at < 0 || (slash >= 0 && slash < at) {
		return url
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return url
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
