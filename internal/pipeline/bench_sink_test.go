package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/internal/bus"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/internal/telemetry"
	"github.com/newsflow/newsflow/pkg/events"
)

// TestSinkEndToEndBenchmark measures the sink stage end to end on Apache
// Kafka and PostgreSQL (docs/benchmarks.md, "Sink: Kafka to committed rows"):
//
//   - throughput: N enriched articles (10 tag rows, ~1 KB of text each) are
//     produced to a fresh topic first; then the real sink (one or two
//     instances in one consumer group) consumes them into a fresh schema,
//     timed until newsflow_sink_articles_stored_total reaches N. Beside it, a
//     plain COPY of the same rows into the same tables (the raw limit), run
//     first and last.
//   - freshness: raw articles produced at a steady rate (fetched_at = now)
//     through the real enricher and sink; the age of each article when its
//     write committed (now - fetched_at, taken right after Write returns),
//     beside the newsflow_sink_event_age_seconds histogram.
//
// It runs only with NEWSFLOW_BENCH_SINK_E2E=1, NEWSFLOW_TEST_KAFKA and
// NEWSFLOW_TEST_POSTGRES (a superuser: it creates and drops a database).
// Knobs: NEWSFLOW_BENCH_SINK_E2E_N (50000), _BATCHES ("500,1000,2000"),
// _INSTANCES ("1,2"), _PARTITIONS (6), _RATE (1000 articles/s), _SECONDS (60),
// _ONLY ("throughput" or "freshness"), _PROFILE (a CPU profile of the
// throughput run with batch 1000 and one instance is written to this path).
func TestSinkEndToEndBenchmark(t *testing.T) {
	if os.Getenv("NEWSFLOW_BENCH_SINK_E2E") == "" {
		t.Skip("sink end-to-end benchmark: set NEWSFLOW_BENCH_SINK_E2E=1, NEWSFLOW_TEST_KAFKA and NEWSFLOW_TEST_POSTGRES")
	}
	broker, admin := os.Getenv("NEWSFLOW_TEST_KAFKA"), os.Getenv("NEWSFLOW_TEST_POSTGRES")
	if broker == "" || admin == "" {
		t.Fatal("NEWSFLOW_TEST_KAFKA and NEWSFLOW_TEST_POSTGRES must both be set")
	}
	b := &sinkBench{t: t, broker: broker, db: benchDatabase(t, admin)}
	b.postmaster = benchPostmaster(t, b.db)
	b.kafkaPID = benchKafkaPID()
	only := os.Getenv("NEWSFLOW_BENCH_SINK_E2E_ONLY")
	if only == "" || only == "throughput" {
		b.throughput()
	}
	if only == "" || only == "freshness" {
		b.freshness()
	}
}

type sinkBench struct {
	t          *testing.T
	broker     string
	db         string // URL of the benchmark's own database
	postmaster int    // 0: server CPU not measured
	kafkaPID   int    // 0: broker CPU not measured
	schemas    atomic.Int64
	consumers  int // consumers per sink instance (SinkConfig.Consumers)
}

// cpu is the CPU time used so far by this process, the PostgreSQL server and
// the Kafka broker.
type cpu struct{ client, server, broker time.Duration }

func (c cpu) sub(d cpu) cpu {
	return cpu{c.client - d.client, c.server - d.server, c.broker - d.broker}
}

func (b *sinkBench) cpu() cpu {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.t.Fatal(err)
	}
	c := cpu{client: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	if b.postmaster != 0 {
		c.server = procCPU(b.postmaster, true)
	}
	if b.kafkaPID != 0 {
		c.broker = procCPU(b.kafkaPID, false)
	}
	return c
}

func loadavg() string {
	s, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(s))
	if len(f) == 0 {
		return "?"
	}
	return f[0] // the 1-minute average
}

// schema creates a fresh schema in the benchmark database and returns a URL
// whose search_path is that schema.
func (b *sinkBench) schema() string {
	name := fmt.Sprintf("run%d", b.schemas.Add(1))
	execOn(b.t, b.db, "CREATE SCHEMA "+name)
	u, err := url.Parse(b.db)
	if err != nil {
		b.t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// topics returns a bus config for the broker with fresh topics, created.
func (b *sinkBench) topics(ctx context.Context, partitions int) bus.Config {
	bc := bus.DefaultConfig()
	bc.Brokers = []string{b.broker}
	bc.Partitions = partitions
	suffix := fmt.Sprintf(".bench%d.%d", os.Getpid(), time.Now().UnixNano())
	bc.Topics.Raw += suffix
	bc.Topics.Enriched += suffix
	bc.Topics.DeadLetter += suffix
	if err := bus.EnsureTopics(ctx, bc); err != nil {
		b.t.Fatal(err)
	}
	return bc
}

func (b *sinkBench) throughput() {
	t := b.t
	ctx := context.Background()
	n := benchEnvInt(t, "NEWSFLOW_BENCH_SINK_E2E_N", 100000)
	batches := benchEnvInts(t, "NEWSFLOW_BENCH_SINK_E2E_BATCHES", "500,1000,2000")
	instances := benchEnvInts(t, "NEWSFLOW_BENCH_SINK_E2E_INSTANCES", "1,2")
	partitions := benchEnvInt(t, "NEWSFLOW_BENCH_SINK_E2E_PARTITIONS", 6)
	b.consumers = benchEnvInt(t, "NEWSFLOW_BENCH_SINK_E2E_CONSUMERS", 1)
	arts := benchEnrichedArticles(n, 1000, 7)
	msgs := make([]kafka.Message, n)
	bytes, tags := 0, 0
	for i := range arts {
		v, err := json.Marshal(arts[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(arts[i].ID), Value: v, Headers: bus.Headers(events.EnrichedHeaders(arts[i]))}
		bytes += len(v)
		tags += len(arts[i].Countries) + len(arts[i].People) + len(arts[i].Organizations) + len(arts[i].Topics)
	}
	t.Logf("%d enriched articles, %.1f tag rows and %.0f bytes of JSON each, %d partitions", n, float64(tags)/float64(n), float64(bytes)/float64(n), partitions)

	bc := b.topics(ctx, partitions)
	w, err := bc.NewWriter(bc.Topics.Enriched, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Chunks like the enricher's batches (the broker takes record batches
	// of 1 MB at most), several at once.
	var pg errgroup.Group
	pg.SetLimit(8)
	for lo := 0; lo < n; lo += 200 {
		pg.Go(func() error { return w.Write(ctx, msgs[lo:min(lo+200, n)]...) })
	}
	if err := pg.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("produced %d messages to %s in %v", n, bc.Topics.Enriched, time.Since(start).Round(time.Millisecond))

	type result struct {
		name          string
		wall, steady  time.Duration
		cpu           cpu
		load0, load1  string
		retries, dlqd float64
	}
	var results []result
	row := func(r result) string {
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
		total := r.cpu.client + r.cpu.server
		steady := "-"
		if r.steady > 0 {
			steady = fmt.Sprintf("%.0f", float64(n)/r.steady.Seconds())
		}
		return fmt.Sprintf("| %s | %.0f | %s | %.0f (%.0f + %.0f) | %.0f | %.0f | %s → %s |", r.name, float64(n)/r.wall.Seconds(), steady,
			per(total), per(r.cpu.client), per(r.cpu.server), per(r.cpu.broker), 2/(total.Seconds()/float64(n)), r.load0, r.load1)
	}

	rawCopy := func(name string) {
		dbURL := b.schema()
		st, err := store.Open(ctx, dbURL, store.Options{}) // the schema only
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		pool, err := pgxpool.New(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		checkpointOn(t, b.db)
		l0, c0, w0 := loadavg(), b.cpu(), time.Now()
		var next atomic.Int64
		var g errgroup.Group
		const size = 1000
		for range 2 {
			g.Go(func() error {
				for {
					lo := int(next.Add(size)) - size
					if lo >= n {
						return nil
					}
					if err := rawCopyBatch(ctx, pool, arts[lo:min(lo+size, n)], msgs[lo:min(lo+size, n)]); err != nil {
						return err
					}
				}
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		r := result{name: name, wall: time.Since(w0), cpu: b.cpu().sub(c0), load0: l0, load1: loadavg()}
		results = append(results, r)
		t.Log(row(r))
	}

	rawCopy("raw COPY of the same rows (limit), batches of 1,000, 2 writers, first")
	for _, size := range batches {
		for _, k := range instances {
			name := fmt.Sprintf("sink, batches of %d, %d instance(s)", size, k)
			if b.consumers > 1 {
				name += fmt.Sprintf(" of %d consumers", b.consumers)
			}
			profile := ""
			if size == 1000 && k == 1 {
				profile = os.Getenv("NEWSFLOW_BENCH_SINK_E2E_PROFILE")
			}
			for attempt := 1; ; attempt++ {
				r, ok := b.sinkRun(ctx, bc, n, size, k, profile)
				if ok || attempt == 3 {
					results = append(results, result{name: name, wall: r.wall, steady: r.steady, cpu: r.cpu, load0: r.load0, load1: r.load1, retries: r.retries, dlqd: r.dlq})
					t.Log(row(results[len(results)-1]))
					break
				}
				t.Logf("%s disturbed (retries %v, dead-lettered %v): running it again", name, r.retries, r.dlq)
			}
		}
	}
	rawCopy("raw COPY (limit) again, last")

	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| Run (%d articles, %d partitions) | articles/s (wall, from start) | articles/s (first to last commit) | CPU µs/article client + PostgreSQL (client + server) | Kafka broker CPU µs/article | articles/s at 2 idle cores (client + PostgreSQL) | load average before → after |\n|---|---:|---:|---:|---:|---:|---|\n", n, partitions)
	for _, r := range results {
		sb.WriteString(row(r) + "\n")
	}
	t.Log(sb.String())
}

type sinkRunResult struct {
	wall, steady time.Duration
	cpu          cpu
	load0, load1 string
	retries, dlq float64
}

// sinkRun consumes the whole enriched topic with k sink instances (each
// with its own store and registry, like k processes) in a fresh consumer
// group into a fresh schema. ok is false when the run was disturbed
// (write retries or dead letters).
func (b *sinkBench) sinkRun(ctx context.Context, bc bus.Config, n, size, k int, profile string) (sinkRunResult, bool) {
	t := b.t
	dbURL := b.schema()
	sc := pipeline.DefaultSinkConfig()
	sc.Bus = bc
	sc.BatchSize = size
	sc.Consumers = b.consumers
	sc.GroupID = fmt.Sprintf("newsflow-sink-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	var regs []*prometheus.Registry
	var sinks []*pipeline.Sink
	for range k {
		reg := prometheus.NewRegistry()
		st, err := pipeline.StoreFlags{URL: dbURL}.Open(ctx, quiet, reg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s, err := pipeline.NewSink(sc, st, quiet, reg)
		if err != nil {
			t.Fatal(err)
		}
		regs, sinks = append(regs, reg), append(sinks, s)
	}
	stored := func() float64 {
		sum := 0.0
		for _, r := range regs {
			sum += telemetry.Sum(r, "newsflow_sink_articles_stored_total")
		}
		return sum
	}
	checkpointOn(t, b.db)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	rctx, stop := context.WithCancel(ctx)
	errc := make(chan error, k)
	l0, c0, w0 := loadavg(), b.cpu(), time.Now()
	for _, s := range sinks {
		go func() { errc <- s.Run(rctx) }()
	}
	var first time.Time
	deadline := time.Now().Add(5 * time.Minute)
	for stored() < float64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("only %.0f of %d stored after 5 minutes", stored(), n)
		}
		if first.IsZero() && stored() > 0 {
			first = time.Now()
		}
		time.Sleep(50 * time.Millisecond) // often enough (±0.3% of a run), rarely enough not to cost CPU
	}
	r := sinkRunResult{wall: time.Since(w0), cpu: b.cpu().sub(c0), load0: l0, load1: loadavg()}
	if !first.IsZero() {
		r.steady = time.Since(first)
	}
	if profile != "" {
		pprof.StopCPUProfile()
	}
	stop()
	for range k {
		if err := <-errc; err != nil {
			t.Errorf("sink returned %v", err)
		}
	}
	for _, reg := range regs {
		r.retries += telemetry.Sum(reg, "newsflow_sink_write_retries_total")
		r.dlq += telemetry.Sum(reg, "newsflow_sink_dead_lettered_total")
	}
	var rows int
	if err := queryOn(t, dbURL, "SELECT count(*) FROM articles").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("%d rows in articles, want %d", rows, n)
	}
	return r, r.retries == 0 && r.dlq == 0
}

// timedWriter records, for every article of a successful Write, its age
// (now - fetched_at) right after the write committed, and the parts of it:
// fetched to enriched (raw topic and enricher), enriched to the start of
// the Write (enriched topic and the sink's batching), and the Write.
type timedWriter struct {
	st                      store.Store
	mu                      sync.Mutex
	ages, enrich, wait, put []time.Duration
}

func (w *timedWriter) Write(ctx context.Context, batch []events.EnrichedArticle) (store.WriteResult, error) {
	start := time.Now()
	res, err := w.st.Write(ctx, batch)
	if err != nil {
		return res, err
	}
	now := time.Now()
	w.mu.Lock()
	for _, a := range batch {
		w.ages = append(w.ages, now.Sub(a.FetchedAt))
		w.enrich = append(w.enrich, a.EnrichedAt.Sub(a.FetchedAt))
		w.wait = append(w.wait, start.Sub(a.EnrichedAt))
		w.put = append(w.put, now.Sub(start))
	}
	w.mu.Unlock()
	return res, nil
}

func (w *timedWriter) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ages, w.enrich, w.wait, w.put = nil, nil, nil, nil
}

// quantiles returns p50, p90, p99 and the maximum of ds.
func quantiles(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[int(math.Ceil(p*float64(len(s))))-1].Round(time.Millisecond) }
	return fmt.Sprintf("p50 %v  p90 %v  p99 %v  max %v", q(.5), q(.9), q(.99), s[len(s)-1].Round(time.Millisecond))
}

func (b *sinkBench) freshness() {
	t := b.t
	ctx := context.Background()
	rate := benchEnvInt(t, "NEWSFLOW_BENCH_SINK_E2E_RATE", 1000)
	seconds := benchEnvInt(t, "NEWSFLOW_BENCH_SINK_E2E_SECONDS", 60)
	bc := b.topics(ctx, benchEnvInt(t, "NEWSFLOW_BENCH_SINK_E2E_PARTITIONS", 6))
	reg := prometheus.NewRegistry()
	dbURL := b.schema()
	st, err := pipeline.StoreFlags{URL: dbURL}.Open(ctx, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tw := &timedWriter{st: st}
	tagger, err := (&pipeline.TaggerFlags{TopicThreshold: -1}).Build()
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	ec := pipeline.DefaultEnricherConfig()
	ec.Bus, ec.GroupID = bc, ec.GroupID+suffix
	enr, err := pipeline.NewEnricher(ec, tagger, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	sc := pipeline.DefaultSinkConfig()
	sc.Bus, sc.GroupID = bc, sc.GroupID+suffix
	sink, err := pipeline.NewSink(sc, tw, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := bc.NewWriter(bc.Topics.Raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	raws := benchRawArticles(rate*seconds+100, 11)
	produce := func(batch []events.RawArticle) {
		now := time.Now().UTC()
		msgs := make([]kafka.Message, len(batch))
		for i := range batch {
			batch[i].FetchedAt = now
			v, err := json.Marshal(batch[i])
			if err != nil {
				t.Fatal(err)
			}
			msgs[i] = kafka.Message{Key: []byte(batch[i].ID), Value: v, Headers: bus.Headers(events.RawHeaders(batch[i]))}
		}
		if err := w.Write(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	errc := make(chan error, 2)
	go func() { errc <- enr.Run(rctx) }()
	go func() { errc <- sink.Run(rctx) }()
	defer func() {
		stop()
		for range 2 {
			if err := <-errc; err != nil {
				t.Errorf("stage returned %v", err)
			}
		}
	}()
	storedTotal := func() float64 { return telemetry.Sum(reg, "newsflow_sink_articles_stored_total") }
	// Warm up: both consumer groups joined and one article through.
	produce(raws[:100])
	for storedTotal() < 100 {
		time.Sleep(10 * time.Millisecond)
	}
	tw.reset()
	hist0 := histogram(t, reg, "newsflow_sink_event_age_seconds")
	raws = raws[100:]

	l0, c0, w0 := loadavg(), b.cpu(), time.Now()
	sent, late := 0, time.Duration(0)
	tick := time.NewTicker(5 * time.Millisecond)
	for sent < len(raws) {
		<-tick.C
		due := min(int(float64(rate)*time.Since(w0).Seconds()), len(raws))
		if due > sent {
			if lag := time.Since(w0) - time.Duration(float64(sent)/float64(rate)*float64(time.Second)); lag > late {
				late = lag
			}
			produce(raws[sent:due])
			sent = due
		}
	}
	tick.Stop()
	produced := time.Since(w0)
	for storedTotal() < float64(100+len(raws)) {
		if time.Since(w0) > time.Duration(seconds)*time.Second+2*time.Minute {
			t.Fatalf("only %.0f of %d stored", storedTotal(), 100+len(raws))
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := b.cpu().sub(c0)
	l1 := loadavg()
	tw.mu.Lock()
	defer tw.mu.Unlock()
	t.Logf("freshness: %d articles at %d/s over %v (producer at most %v behind schedule), load %s → %s", len(raws), rate, produced.Round(time.Millisecond), late.Round(time.Millisecond), l0, l1)
	t.Logf("age at commit (exact, %d articles): %s", len(tw.ages), quantiles(tw.ages))
	t.Logf("  fetched_at to enriched_at (raw topic, enricher batching and tagging): %s", quantiles(tw.enrich))
	t.Logf("  enriched_at to Write start (enriched topic, sink fetch and batching): %s", quantiles(tw.wait))
	t.Logf("  Write (one transaction per batch, per article): %s", quantiles(tw.put))
	hist := histogram(t, reg, "newsflow_sink_event_age_seconds").minus(hist0)
	t.Logf("newsflow_sink_event_age_seconds (bucket interpolation, %d observations): p50 %.3fs  p90 %.3fs  p99 %.3fs",
		hist.count, hist.quantile(.5), hist.quantile(.9), hist.quantile(.99))
	var p50, p90, p99 float64
	if err := queryOn(t, dbURL, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.9) WITHIN GROUP (ORDER BY x),
		percentile_cont(0.99) WITHIN GROUP (ORDER BY x) FROM (SELECT extract(epoch FROM stored_at - fetched_at)::float8 AS x FROM articles
		WHERE fetched_at >= $1) s`, w0.Add(-time.Second)).Scan(&p50, &p90, &p99); err != nil {
		t.Fatal(err)
	}
	t.Logf("stored_at - fetched_at in the database (stored_at = transaction start): p50 %.3fs  p90 %.3fs  p99 %.3fs", p50, p90, p99)
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(len(raws)) }
	t.Logf("CPU per article: client (producer + enricher + sink) %.0f µs, PostgreSQL %.0f µs, Kafka broker %.0f µs; %.2f of 2 cores busy with this run",
		per(c.client), per(c.server), per(c.broker), (c.client+c.server+c.broker).Seconds()/time.Since(w0).Seconds())
}

// rawCopyBatch writes a batch as a plain COPY into articles and the tag
// tables in one transaction: no version check, no staging, no merge. The
// rows are what the store writes (docs/benchmarks.md, "## Sink").
func rawCopyBatch(ctx context.Context, pool *pgxpool.Pool, arts []events.EnrichedArticle, msgs []kafka.Message) error {
	cols := []string{"id", "url", "title", "feed_url", "feed_title", "language", "published_at", "updated_at", "fetched_at",
		"enriched_at", "article_time", "enricher_version", "text", "event"}
	opt := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"articles"}, cols, pgx.CopyFromSlice(len(arts), func(i int) ([]any, error) {
			a := &arts[i]
			at := a.PublishedAt
			if at.IsZero() || at.After(a.FetchedAt) {
				at = a.FetchedAt
			}
			return []any{a.ID, a.URL, a.Title, a.Source.FeedURL, a.Source.FeedTitle, a.Language, opt(a.PublishedAt), opt(a.UpdatedAt),
				a.FetchedAt, opt(a.EnrichedAt), at, a.EnricherVersion, a.Text, string(msgs[i].Value)}, nil
		})); err != nil {
			return fmt.Errorf("copy articles: %w", err)
		}
		tables := map[string][]string{
			"article_countries":     {"article_id", "code", "name", "score", "mention_count", "article_time"},
			"article_people":        {"article_id", "name", "score", "mention_count", "wikidata_id", "article_time"},
			"article_organizations": {"article_id", "name", "score", "mention_count", "wikidata_id", "article_time"},
			"article_topics":        {"article_id", "topic", "label", "score", "evidence_count", "article_time"},
		}
		rows := map[string][][]any{}
		for _, a := range arts {
			at := a.PublishedAt
			if at.IsZero() || at.After(a.FetchedAt) {
				at = a.FetchedAt
			}
			for _, c := range a.Countries {
				rows["article_countries"] = append(rows["article_countries"], []any{a.ID, c.Code, c.Name, c.Score, int32(len(c.Mentions)), at})
			}
			for _, e := range a.People {
				rows["article_people"] = append(rows["article_people"], []any{a.ID, e.Name, e.Score, int32(len(e.Mentions)), e.WikidataID, at})
			}
			for _, e := range a.Organizations {
				rows["article_organizations"] = append(rows["article_organizations"], []any{a.ID, e.Name, e.Score, int32(len(e.Mentions)), e.WikidataID, at})
			}
			for _, tp := range a.Topics {
				rows["article_topics"] = append(rows["article_topics"], []any{a.ID, tp.ID, tp.Label, tp.Score, int32(len(tp.Evidence)), at})
			}
		}
		for table, rs := range rows {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, tables[table], pgx.CopyFromRows(rs)); err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
		}
		return nil
	})
}

// benchWordList makes the synthetic article text.
var benchWordList = strings.Fields(`officials said the talks on the weapons deal would resume next week after the
	ministry confirmed new sanctions on banks and energy companies while the army held an exercise near the
	border and the envoy warned that the ceasefire agreement was fragile as leaders met at the summit to
	discuss aid trade and security guarantees for the region according to a statement released on Monday`)

func benchSentences(r *rand.Rand, n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		for w := range 8 + r.IntN(12) {
			if w > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(benchWordList[r.IntN(len(benchWordList))])
		}
		sb.WriteString(". ")
	}
	return sb.String()
}

// benchEnrichedArticles returns n valid enriched articles like the
// enricher's output: 3 countries, 3 people, 2 organizations and 2 topics
// (10 tag rows) with mention spans, and about textBytes of text.
func benchEnrichedArticles(n, textBytes int, seed uint64) []events.EnrichedArticle {
	r := rand.New(rand.NewPCG(seed, 2))
	codes := []string{"KP", "RU", "US", "CN", "IR", "UA", "FR", "DE", "GB", "IL", "IN", "JP", "KR", "TR", "SY"}
	people := []string{"Kim Jong Un", "Vladimir Putin", "Xi Jinping", "Emmanuel Macron", "Olaf Scholz", "Narendra Modi", "Antonio Guterres", "Mark Rutte"}
	orgs := []string{"United Nations", "NATO", "European Union", "IAEA", "OPEC", "African Union"}
	topics := []string{"arms_trade", "mutual_defence", "military_aid", "sanctions", "nuclear", "diplomacy"}
	pick := func(from []string, k int) []string {
		out := make([]string, k)
		for i, j := range r.Perm(len(from))[:k] {
			out[i] = from[j]
		}
		return out
	}
	base := time.Now().Add(-time.Hour).UTC()
	out := make([]events.EnrichedArticle, n)
	for i := range out {
		id := fmt.Sprintf("%016x%016x", seed, i)
		title := fmt.Sprintf("Report %d: envoys discuss arms and sanctions", i)
		ps, og, cs, ts := pick(people, 3), pick(orgs, 2), pick(codes, 3), pick(topics, 2)
		body := strings.Join(ps, ", ") + " and " + strings.Join(og, ", ") + " met. "
		text := title + "\n\n" + body + benchSentences(r, textBytes-len(title)-len(body))
		a := events.NewEnriched(events.RawArticle{
			SchemaVersion: events.SchemaVersion, ID: id, Title: title, Language: "en", URL: "https://news.example.org/" + id,
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
		for _, o := range og {
			at := strings.Index(text, o)
			a.Organizations = append(a.Organizations, events.Entity{Name: o, Score: r.Float64(),
				Mentions: []events.Mention{{Start: at, End: at + len(o), Surface: o, Kind: "name"}}})
		}
		for _, tp := range ts {
			a.Topics = append(a.Topics, events.Topic{ID: tp, Label: tp, Score: r.Float64(), Evidence: []events.Evidence{{Start: 0, End: 6, Surface: text[:6]}}})
		}
		a.EnricherVersion = "bench"
		a.EnrichedAt = a.FetchedAt.Add(100 * time.Millisecond)
		out[i] = a
	}
	return out
}

// benchRawArticles returns n raw articles (about 1 KB of content naming
// countries, people and organizations) for the enricher.
func benchRawArticles(n int, seed uint64) []events.RawArticle {
	r := rand.New(rand.NewPCG(seed, 3))
	places := []string{"North Korea", "Russia", "the United States", "China", "Iran", "Ukraine", "France", "Germany", "Britain", "Israel", "India", "Japan", "South Korea", "Turkey", "Syria"}
	people := []string{"Kim Jong Un", "Vladimir Putin", "Xi Jinping", "Emmanuel Macron", "Narendra Modi", "Antonio Guterres"}
	orgs := []string{"the United Nations", "NATO", "the European Union", "the IAEA"}
	base := time.Now().UTC()
	out := make([]events.RawArticle, n)
	for i := range out {
		p := r.Perm(len(places))
		title := fmt.Sprintf("%s and %s discuss weapons deal (%d)", strings.TrimPrefix(places[p[0]], "the "), strings.TrimPrefix(places[p[1]], "the "), i)
		content := fmt.Sprintf("%s met officials from %s and %s. %s said %s would monitor the deal. ", people[r.IntN(len(people))],
			places[p[0]], places[p[1]], people[r.IntN(len(people))], orgs[r.IntN(len(orgs))]) +
			benchSentences(r, 700) + fmt.Sprintf(" %s responded with sanctions. ", places[p[2]])
		id := fmt.Sprintf("%016x%016x", seed, i)
		out[i] = events.RawArticle{SchemaVersion: events.SchemaVersion, ID: id, Title: title, Content: content, Language: "en",
			URL: "https://news.example.org/" + id, Source: events.Source{FeedURL: fmt.Sprintf("https://feed%d.example.org/rss", i%200), FeedTitle: "Example"},
			Authors: []string{}, Categories: []string{}, PublishedAt: base}
	}
	return out
}

// benchHist is a snapshot of a Prometheus histogram.
type benchHist struct {
	count  uint64
	bounds []float64
	counts []uint64 // cumulative
}

func histogram(t *testing.T, g prometheus.Gatherer, name string) benchHist {
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		var h *dto.Histogram = mf.GetMetric()[0].GetHistogram()
		out := benchHist{count: h.GetSampleCount()}
		for _, bk := range h.GetBucket() {
			out.bounds = append(out.bounds, bk.GetUpperBound())
			out.counts = append(out.counts, bk.GetCumulativeCount())
		}
		return out
	}
	t.Fatalf("metric %s not found", name)
	return benchHist{}
}

func (h benchHist) minus(o benchHist) benchHist {
	out := benchHist{count: h.count - o.count, bounds: h.bounds, counts: slices.Clone(h.counts)}
	for i := range o.counts {
		out.counts[i] -= o.counts[i]
	}
	return out
}

// quantile interpolates linearly inside the bucket, like PromQL's
// histogram_quantile.
func (h benchHist) quantile(q float64) float64 {
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, c := range h.counts {
		if float64(c) >= rank {
			return lower + (h.bounds[i]-lower)*(rank-float64(below))/float64(c-below)
		}
		lower, below = h.bounds[i], c
	}
	return math.Inf(1)
}

func benchEnvInt(t *testing.T, name string, def int) int {
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

func benchEnvInts(t *testing.T, name, def string) []int {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want positive integers separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

// benchDatabase creates a fresh database on the server of admin (dropped
// when t ends) and returns its URL.
func benchDatabase(t *testing.T, admin string) string {
	name := fmt.Sprintf("newsflow_bench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	execOn(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func execOn(t *testing.T, dbURL, stmt string) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// queryOn runs one query on a fresh connection, closed when the test ends.
func queryOn(t *testing.T, dbURL, q string, args ...any) pgx.Row {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c.QueryRow(context.Background(), q, args...)
}

// checkpointOn readies the server for a measured run: it waits (up to a
// minute) for running autovacuum workers, which would charge the run for the
// runs before it, then writes a checkpoint, so that no dirty pages of those
// runs are written during this one.
func checkpointOn(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'").Scan(&n); err != nil || n == 0 {
			break
		}
	}
	if _, err := c.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatalf("CHECKPOINT: %v", err)
	}
}

// benchPostmaster returns the pid of the local PostgreSQL server's
// postmaster (from postmaster.pid in its data directory), or 0.
func benchPostmaster(t *testing.T, dbURL string) int {
	var dir string
	if err := queryOn(t, dbURL, "SHOW data_directory").Scan(&dir); err != nil {
		t.Logf("PostgreSQL CPU not measured: %v", err)
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Logf("PostgreSQL CPU not measured: %v", err)
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// benchKafkaPID returns the pid of the test broker started by
// scripts/testenv.sh (.testenv/kafka/pid at the repository root), or 0.
func benchKafkaPID() int {
	b, err := os.ReadFile("../../.testenv/kafka/pid")
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// procCPU returns the CPU time of process pid and, with children, of its
// live children and of the exited children it waited for (the postmaster's
// backends).
func procCPU(pid int, children bool) time.Duration {
	stat := func(p string) []string {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			return nil
		}
		return strings.Fields(s[end+1:]) // state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
	}
	ticks := func(f []string, idx ...int) int64 {
		var sum int64
		for _, i := range idx {
			if i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				sum += v
			}
		}
		return sum
	}
	f := stat(fmt.Sprintf("/proc/%d/stat", pid))
	if f == nil {
		return 0
	}
	total := ticks(f, 11, 12)
	if children {
		total += ticks(f, 13, 14)
		procs, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range procs {
			c := stat(p)
			if len(c) > 1 && c[1] == strconv.Itoa(pid) {
				total += ticks(c, 11, 12)
			}
		}
	}
	return time.Duration(total) * (time.Second / 100) // USER_HZ
}
