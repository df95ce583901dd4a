package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/pkg/events"
)

// benchWords make the synthetic article text (written for this benchmark).
var benchWords = strings.Fields(`government minister talks sanctions weapons shipment missile defence treaty
	alliance troops border ceasefire negotiations officials said statement agreement security council
	vote resolution economy trade exports imports oil gas pipeline embassy ambassador foreign ministry
	president prime parliament election opposition protest police capital region province village
	attack drone artillery navy air force army exercise nuclear programme inspectors report week month
	year spokesman according people familiar matter confirmed denied warned announced plans deal signed
	contract billion dollars aid package military support partners summit leaders meeting visit talks
	pressure response measures restrictions banks companies assets frozen export controls technology`)

// benchText returns about n bytes of varied synthetic news text.
func benchText(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		for w := 0; w < 8+r.IntN(12); w++ {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(benchWords[r.IntN(len(benchWords))])
		}
		b.WriteString(". ")
	}
	return b.String()
}

// benchArticles returns n valid enriched articles with 10 tag rows each (3
// countries, 3 people, 2 organizations, 2 topics) and about textBytes of
// text, like the enricher's output.
func benchArticles(n, textBytes int, seed uint64) []events.EnrichedArticle {
	r := rand.New(rand.NewPCG(seed, 1))
	codes := []string{"KP", "RU", "US", "CN", "IR", "UA", "FR", "DE", "GB", "IL", "IN", "JP", "KR", "TR", "SY"}
	people := []string{"Kim Jong Un", "Vladimir Putin", "Xi Jinping", "Joe Biden", "Volodymyr Zelensky", "Emmanuel Macron",
		"Olaf Scholz", "Recep Tayyip Erdogan", "Narendra Modi", "Ali Khamenei", "Antonio Guterres", "Mark Rutte"}
	orgs := []string{"United Nations", "NATO", "European Union", "IAEA", "Rosoboronexport", "Lockheed Martin", "OPEC", "African Union"}
	topics := []string{"arms_trade", "mutual_defence", "military_aid", "sanctions", "nuclear", "diplomacy", "ceasefire"}
	out := make([]events.EnrichedArticle, n)
	base := time.Now().Add(-time.Hour).UTC()
	pick := func(from []string, k int) []string {
		idx := r.Perm(len(from))[:k]
		s := make([]string, k)
		for i, j := range idx {
			s[i] = from[j]
		}
		return s
	}
	for i := range out {
		id := fmt.Sprintf("%016x%016x", seed, i)
		title := fmt.Sprintf("Story %d: talks on arms and sanctions", i)
		ps, os, cs, ts := pick(people, 3), pick(orgs, 2), pick(codes, 3), pick(topics, 2)
		body := strings.Join(ps, ", ") + " and " + strings.Join(os, ", ") + " met. "
		body += benchText(r, textBytes-len(title)-len(body))
		text := title + "\n\n" + body
		a := events.NewEnriched(events.RawArticle{
			SchemaVersion: events.SchemaVersion, ID: id, Title: title, Language: "en",
			URL:         "https://news.example.org/" + id,
			Source:      events.Source{FeedURL: fmt.Sprintf("https://feed%d.example.org/rss", i%200), FeedTitle: "Example"},
			PublishedAt: base.Add(time.Duration(i) * time.Millisecond), FetchedAt: base.Add(time.Duration(i)*time.Millisecond + time.Second),
		})
		a.Text = text
		for _, c := range cs {
			a.Countries = append(a.Countries, events.Country{Code: c, Name: c, Score: r.Float64(), Mentions: []events.Mention{}})
		}
		for _, p := range ps {
			at := strings.Index(text, p)
			a.People = append(a.People, events.Entity{Name: p, Score: r.Float64(), WikidataID: "Q" + strconv.Itoa(len(p)),
				Mentions: []events.Mention{{Start: at, End: at + len(p), Surface: p, Kind: "name"}}})
		}
		for _, o := range os {
			at := strings.Index(text, o)
			a.Organizations = append(a.Organizations, events.Entity{Name: o, Score: r.Float64(),
				Mentions: []events.Mention{{Start: at, End: at + len(o), Surface: o, Kind: "name"}}})
		}
		for _, t := range ts {
			a.Topics = append(a.Topics, events.Topic{ID: t, Label: t, Score: r.Float64(),
				Evidence: []events.Evidence{{Start: 0, End: 5, Surface: text[:5]}}})
		}
		a.EnricherVersion = "bench"
		a.EnrichedAt = a.FetchedAt.Add(100 * time.Millisecond)
		out[i] = a
	}
	return out
}

// TestSinkThroughput measures Write into PostgreSQL with both write methods,
// beside the raw limit (plain COPY of the same rows into the same tables, in
// the same transaction sizes), and SQLite. It runs only with
// NEWSFLOW_BENCH_SINK=1. Knobs: NEWSFLOW_BENCH_SINK_N (articles, default
// 50000), NEWSFLOW_BENCH_SINK_BATCH (articles per Write, default 1000),
// NEWSFLOW_BENCH_SINK_TEXT (bytes of text per article, default 1000),
// NEWSFLOW_BENCH_SINK_WRITERS (concurrent writers, like sink consumers on
// different partitions, default 2), NEWSFLOW_BENCH_SINK_METHOD (copy,
// upsert or raw: only that run), NEWSFLOW_BENCH_SINK_SQL (SQL run on each
// fresh database first). Results are logged as a Markdown table (go test -v).
func TestSinkThroughput(t *testing.T) {
	if os.Getenv("NEWSFLOW_BENCH_SINK") == "" {
		t.Skip("sink benchmark: set NEWSFLOW_BENCH_SINK=1 (and NEWSFLOW_TEST_POSTGRES); see docs/benchmarks.md")
	}
	n := envInt(t, "NEWSFLOW_BENCH_SINK_N", 50000)
	size := envInt(t, "NEWSFLOW_BENCH_SINK_BATCH", 1000)
	textBytes := envInt(t, "NEWSFLOW_BENCH_SINK_TEXT", 1000)
	writers := envInt(t, "NEWSFLOW_BENCH_SINK_WRITERS", 2)
	arts := benchArticles(n, textBytes, 7)
	rows, _, err := prepare(arts)
	if err != nil {
		t.Fatal(err)
	}
	tagRows := 0
	for i := range rows {
		m := newRowCounts()
		rows[i].addRows(m)
		tagRows += m["article_countries"] + m["article_people"] + m["article_organizations"] + m["article_topics"]
	}
	t.Logf("%d articles, %.1f tag rows per article, %d bytes of text, batches of %d, %d writers",
		n, float64(tagRows)/float64(n), textBytes, size, writers)
	ctx := context.Background()
	postmaster := 0
	if os.Getenv("NEWSFLOW_TEST_POSTGRES") != "" {
		postmaster = postmasterPID(t)
	}
	type result struct {
		name    string
		elapsed time.Duration
		cpu     time.Duration // client and server CPU time
		client  time.Duration // this process's share
	}
	var results []result
	// measure times f in wall-clock and in CPU (this process plus every
	// PostgreSQL process): the CPU figure does not depend on what else the
	// shared machine runs, and 2 cores / CPU per article is the rate an idle
	// machine reaches.
	measure := func(name string, f func()) {
		pm := postmaster
		if strings.HasPrefix(name, "SQLite") {
			pm = 0 // no server
		}
		if os.Getenv("NEWSFLOW_TEST_POSTGRES") != "" {
			checkpoint(t) // every run starts with no dirty pages of the one before
		}
		client0, server0 := cpuTime(t, pm)
		wall0 := time.Now()
		f()
		wall := time.Since(wall0)
		client1, server1 := cpuTime(t, pm)
		r := result{name, wall, client1 - client0 + server1 - server0, client1 - client0}
		results = append(results, r)
		t.Logf("%-55s %6.0f articles/s  %7.0f rows/s  %5.0f µs CPU/article (client %3.0f)  (%v)", name, float64(n)/wall.Seconds(),
			float64(n+tagRows)/wall.Seconds(), float64(r.cpu.Microseconds())/float64(n), float64(r.client.Microseconds())/float64(n),
			wall.Round(time.Millisecond))
	}
	// writeAll writes the batches with writers goroutines, each taking the
	// next batch: like sink consumers, each on its own partitions.
	writeAll := func(name string, s Store, arts []events.EnrichedArticle) {
		measure(name, func() {
			defer flushPendingGIN(t, s)
			var next atomic.Int64
			var g errgroup.Group
			for range writers {
				g.Go(func() error {
					for {
						lo := int(next.Add(int64(size))) - size
						if lo >= len(arts) {
							return nil
						}
						if _, err := s.Write(ctx, arts[lo:min(lo+size, len(arts))]); err != nil {
							return err
						}
					}
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
		})
	}

	// NEWSFLOW_BENCH_SINK_SQL runs on each fresh PostgreSQL database before
	// the run: for measuring what a schema element costs (e.g. DROP INDEX ...).
	pgDB := func(opts Options) Store {
		s, _ := engine{name: "postgres"}.open(t, newPostgresDB(t), opts)
		if q := os.Getenv("NEWSFLOW_BENCH_SINK_SQL"); q != "" {
			execSQL(t, s, q)
		}
		return s
	}
	if os.Getenv("NEWSFLOW_TEST_POSTGRES") != "" {
		// Raw limit: plain COPY of the same rows, no version check, no
		// staging, no merge; run first and again last, so that the order
		// of the runs cannot favour Write.
		rawCopy := func(name string) {
			st := pgDB(Options{})
			pool := st.(*pgStore).pool
			measure(name, func() {
				defer flushPendingGIN(t, st)
				for lo := 0; lo < len(rows); lo += size {
					chunk := rows[lo:min(lo+size, len(rows))]
					err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
						if _, err := tx.CopyFrom(ctx, pgx.Identifier{"articles"}, articleCols, pgx.CopyFromSlice(len(chunk), func(i int) ([]any, error) {
							r := &chunk[i]
							return []any{r.id, r.url, r.title, r.feedURL, r.feedTitle, r.language, ts(r.publishedAt),
								ts(r.updatedAt), ts(r.fetchedAt), ts(r.enrichedAt), ts(r.articleTime), r.enricherVersion, r.text, r.event}, nil
						})); err != nil {
							return err
						}
						all := map[string]bool{}
						for i := range chunk {
							all[chunk[i].id] = true
						}
						for table, trs := range tagRowsOf(chunk, all) {
							if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, tagCols[table], pgx.CopyFromRows(trs)); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
				}
			})
		}
		rawCopy("PostgreSQL raw COPY (limit)")
		methods := []string{PGWriteCopy, PGWriteUpsert}
		switch m := os.Getenv("NEWSFLOW_BENCH_SINK_METHOD"); m {
		case "":
		case "raw":
			methods = nil
		default:
			methods = []string{m}
		}
		for _, method := range methods {
			s := pgDB(Options{PGWriteMethod: method})
			writeAll("PostgreSQL Write, "+method+", new articles", s, arts)
			writeAll("PostgreSQL Write, "+method+", redelivered (all skipped)", s, arts)
			newer := make([]events.EnrichedArticle, len(arts))
			for i, a := range arts {
				a.EnrichedAt = a.EnrichedAt.Add(time.Minute)
				newer[i] = a
			}
			writeAll("PostgreSQL Write, "+method+", newer versions (all replaced)", s, newer)
		}
		if len(methods) > 0 {
			rawCopy("PostgreSQL raw COPY (limit), again after the Write runs")
		}
	}
	s, _ := engine{name: "sqlite"}.open(t, "sqlite:"+t.TempDir()+"/bench.db", Options{})
	writeAll("SQLite Write, new articles", s, arts)

	var b strings.Builder
	fmt.Fprintf(&b, "\n| Run (%d articles, %.1f tag rows and %d bytes of text each, batches of %d, %d writers) | articles/s | rows/s | CPU µs/article (client + server) | articles/s at 2 idle cores |\n|---|---:|---:|---:|---:|\n",
		n, float64(tagRows)/float64(n), textBytes, size, writers)
	for _, r := range results {
		perArticle := r.cpu.Seconds() / float64(n)
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f (%.0f + %.0f) | %.0f |\n", r.name, float64(n)/r.elapsed.Seconds(),
			float64(n+tagRows)/r.elapsed.Seconds(), perArticle*1e6, r.client.Seconds()/float64(n)*1e6,
			(r.cpu-r.client).Seconds()/float64(n)*1e6, 2/perArticle)
	}
	t.Log(b.String())
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// cpuTime returns the CPU time used so far by this process (client) and by
// the test PostgreSQL server's processes (server: the postmaster whose pid is
// postmaster, and its children; on a shared server the figure includes other
// clients' work). postmaster 0: no server.
func cpuTime(t *testing.T, postmaster int) (client, server time.Duration) {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid ... utime(14) stime(15), counted after ")".
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || postmaster == 0 {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 15 {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
		if ppid, _ := strconv.Atoi(f[1]); pid != postmaster && ppid != postmaster {
			continue
		}
		ticks := int64(0)
		fields := []int{11, 12} // utime, stime
		if pid == postmaster {
			// cutime, cstime: the children that exited (backends,
			// autovacuum workers), so the sum never goes down.
			fields = append(fields, 13, 14)
		}
		for _, i := range fields {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
		server += time.Duration(ticks) * (time.Second / 100) // USER_HZ
	}
	return client, server
}

// postmasterPID returns the pid of the test server's postmaster, read from
// postmaster.pid in its data directory (the server must be local), or 0.
func postmasterPID(t *testing.T) int {
	c, err := pgx.Connect(context.Background(), postgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var dir string
	if err := c.QueryRow(context.Background(), "SHOW data_directory").Scan(&dir); err != nil {
		t.Logf("server CPU not measured: %v", err)
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Logf("server CPU not measured: %v", err)
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// BenchmarkWrite measures Write of batches of 100 articles (10 tag rows,
// 1,000 bytes of text each; new articles, then newer versions of them once
// all 10,000 are stored) into SQLite and, with NEWSFLOW_TEST_POSTGRES, into
// PostgreSQL. ns/op is per batch. TestSinkThroughput is the benchmark of
// record (docs/benchmarks.md).
func BenchmarkWrite(b *testing.B) {
	arts := benchArticles(10000, 1000, 11)
	for _, e := range engines()[:2] {
		b.Run(e.name, func(b *testing.B) {
			var url string
			if e.name == "sqlite" {
				url = "sqlite:" + b.TempDir() + "/bench.db"
			} else {
				if os.Getenv("NEWSFLOW_TEST_POSTGRES") == "" {
					b.Skip("set NEWSFLOW_TEST_POSTGRES")
				}
				url = newPostgresDBFor(b)
			}
			s, err := Open(context.Background(), url, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			i := 0
			for b.Loop() {
				lo := (i * 100) % len(arts)
				// Later rounds over the same ids are newer versions.
				batch := make([]events.EnrichedArticle, 100)
				for j := range batch {
					batch[j] = arts[lo+j]
					batch[j].EnrichedAt = batch[j].EnrichedAt.Add(time.Duration(i*100/len(arts)) * time.Second)
				}
				if _, err := s.Write(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i*100), "µs/article")
		})
	}
}

// checkpoint runs CHECKPOINT on the test server (a superuser may; others
// skip it).
func checkpoint(t *testing.T) {
	c, err := pgx.Connect(context.Background(), postgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "CHECKPOINT"); err != nil {
		t.Logf("no checkpoint before the run: %v", err)
	}
}

// flushPendingGIN merges the pending lists of the GIN indexes of s's schema
// into the indexes (PostgreSQL; a no-op for SQLite). Measured runs end with
// it: with fastupdate, GIN defers part of each insert's work to the pending
// list, and a run must pay for the work it defers.
func flushPendingGIN(t *testing.T, s Store) {
	t.Helper()
	if _, ok := s.(*pgStore); !ok {
		return
	}
	execSQL(t, s, `SELECT gin_clean_pending_list(i.indexrelid::regclass) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
		WHERE am.amname = 'gin' AND c.relnamespace = current_schema()::regnamespace`)
}
