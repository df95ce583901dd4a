package integration

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// settleTimeout bounds the wait for every served article to reach PostgreSQL.
const settleTimeout = 90 * time.Second

// TestPipelineApacheKafka runs fetcher, enricher and sink as three processes
// against Apache Kafka and PostgreSQL, with their metrics on the ports
// Prometheus scrapes: every served article is stored once with its tags, the
// seed article with its countries; Prometheus reports each stage's key
// metric; kcat reads and writes the topics; and a restart of all three stores
// nothing twice.
func TestPipelineApacheKafka(t *testing.T) {
	env := services(t)
	runPipeline(t, env, env[envKafka], env[envPrometheus])
}

// TestPipelineEmbeddedBroker runs the same test against the embedded
// Kafka-protocol broker of `newsflow broker`, started as its own process with
// its log on disk, and PostgreSQL (no Prometheus: its fixed ports belong to
// TestPipelineApacheKafka).
func TestPipelineEmbeddedBroker(t *testing.T) {
	env := services(t)
	t.Parallel()
	broker := startBroker(t)
	runPipeline(t, env, broker, "")
}

// startBroker starts `newsflow broker` on a free port with its data in a
// temporary folder and returns the address it prints as NEWSFLOW_BROKERS.
func startBroker(t *testing.T) string {
	t.Helper()
	port := freeAddr(t)
	_, p, _ := strings.Cut(port, ":")
	b := startProc(t, "newsflow broker", bin.newsflow, "", nil,
		"broker", "--broker-port", p, "--data", filepath.Join(t.TempDir(), "broker"))
	var addr string
	eventually(t, 30*time.Second, "newsflow broker prints NEWSFLOW_BROKERS=", func() error {
		if b.exited() {
			t.Fatalf("newsflow broker exited: %v", b.err)
		}
		sc := bufio.NewScanner(strings.NewReader(b.stdout.String()))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "NEWSFLOW_BROKERS="); ok {
				addr = strings.TrimSpace(v)
				return nil
			}
		}
		return fmt.Errorf("stdout so far: %q", b.stdout.String())
	})
	if addr != "127.0.0.1:"+p {
		t.Errorf("newsflow broker --broker-port %s printed NEWSFLOW_BROKERS=%s, want 127.0.0.1:%s", p, addr, p)
	}
	// The stages stop first (their cleanups run before this one); then the
	// broker must stop cleanly too.
	t.Cleanup(func() {
		if !b.exited() {
			b.stop(stopTimeout)
		}
	})
	return addr
}

// runPipeline is the three-process test against one broker. prometheus is
// the Prometheus base URL, or "" to skip the Prometheus checks (and use free
// metrics ports).
func runPipeline(t *testing.T, env map[string]string, broker, prometheus string) {
	ctx := t.Context()
	kcat := env[envKcat]
	dbURL, pool := newDatabase(t, env[envPostgres])
	feeds := newFeedServer(t)
	want := feeds.expectedArticles(t)
	seed := seedID(t, want)
	st := newStages(t, broker, dbURL, feeds.writeFeedList(t, t.TempDir()), prometheus != "")
	t.Logf("broker %s, database %s, topics %s|%s|%s, %d distinct articles in %d feeds",
		broker, strings.TrimPrefix(dbURL, "postgres://"), st.raw, st.enr, st.dlq, len(want), len(feeds.feeds))

	begin := time.Now()
	st.start()
	stored := waitStored(t, pool, want)
	t.Logf("all %d served articles stored in %v after the start", len(want), time.Since(begin).Round(time.Millisecond))

	checkStored(t, ctx, pool, want, stored, seed)
	checkStageMetrics(t, ctx, st, pool, len(want))
	if prometheus != "" {
		checkPrometheus(t, ctx, prometheus, st, len(want))
	}
	checkEnrichedTopic(t, ctx, kcat, st, want)
	handMade := produceRawWithKcat(t, ctx, kcat, st, pool)
	checkDeadLetters(t, ctx, kcat, st)
	if prometheus != "" {
		t.Run("deploy queries name exported metrics", func(t *testing.T) {
			checkDeployedMetrics(t, ctx, st)
		})
	}

	// A graceful stop of all three, then a restart with the same state file,
	// groups and database: the fetcher's conditional GETs find nothing new,
	// the groups resume after their committed offsets, nothing is stored
	// again.
	before, err := storedArticles(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before[handMade]; !ok || len(before) != len(want)+1 {
		t.Fatalf("before the restart %d articles, want the %d served and the hand-made one", len(before), len(want))
	}
	st.stop()
	reqBefore, nmBefore := feeds.counts()
	st.start()
	checkRestart(t, ctx, kcat, st, feeds, reqBefore, nmBefore, pool, before)
	st.stop()
}

// waitStored polls articles until it holds exactly the wanted ids, failing
// on an unexpected id at once and on missing ids after settleTimeout.
func waitStored(t *testing.T, pool *pgxpool.Pool, want map[string]servedArticle) map[string]storedArticle {
	t.Helper()
	var got map[string]storedArticle
	eventually(t, settleTimeout, "every served article in PostgreSQL", func() error {
		var err error
		got, err = storedArticles(t.Context(), pool)
		if err != nil {
			return err // the sink may not have created the tables yet
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				t.Fatalf("articles holds %s (%q), which no served feed contains", id, got[id].Title)
			}
		}
		if len(got) < len(want) {
			var missing []string
			for id, a := range want {
				if _, ok := got[id]; !ok {
					missing = append(missing, a.Title)
				}
			}
			slices.Sort(missing)
			return fmt.Errorf("%d of %d stored; missing %q", len(got), len(want), missing)
		}
		return nil
	})
	return got
}

// checkStored asserts the tags in PostgreSQL: every article has countries,
// the tag tables have rows, and the seed article has its countries.
func checkStored(t *testing.T, ctx context.Context, pool *pgxpool.Pool, want map[string]servedArticle, got map[string]storedArticle, seed string) {
	t.Helper()
	for id, a := range got {
		if a.FeedURL != want[id].FeedURL {
			t.Errorf("article %s: feed_url %q, want %q", id, a.FeedURL, want[id].FeedURL)
		}
		if a.Title != want[id].Title {
			t.Errorf("article %s: title %q, want %q", id, a.Title, want[id].Title)
		}
		// Every served article names at least one country.
		if a.Countries == 0 {
			t.Errorf("article %q has no article_countries rows", a.Title)
		}
	}
	counts, err := tableCounts(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rows: %v", counts)
	for table, n := range counts {
		if n == 0 {
			t.Errorf("table %s is empty after %d articles", table, len(got))
		}
	}
	codes, err := countryScores(ctx, pool, seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"KP", "RU", "US", "UA", "KR"} {
		if _, ok := codes[c]; !ok {
			t.Errorf("seed article: country %s missing (stored: %v)", c, codes)
		}
	}
	if codes["KP"] < 0.5 {
		t.Errorf("seed article: KP score %.2f, want >= 0.5 (it is about North Korea)", codes["KP"])
	}
}

// checkStageMetrics asserts each stage's key counters on its own /metrics.
func checkStageMetrics(t *testing.T, ctx context.Context, st *stages, pool *pgxpool.Pool, n int) {
	t.Helper()
	counts, err := tableCounts(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		p      *proc
		metric string
		match  []string
		want   float64
	}{
		{st.fetcher(), "newsflow_fetcher_articles_published_total", nil, float64(n)},
		{st.fetcher(), "newsflow_fetcher_items_total", []string{"outcome", "published"}, float64(n)},
		{st.fetcher(), "newsflow_fetcher_items_total", []string{"outcome", "updated"}, 0},
		{st.fetcher(), "newsflow_fetcher_publish_errors_total", nil, 0},
		{st.enricher(), "newsflow_enricher_messages_received_total", nil, float64(n)},
		{st.enricher(), "newsflow_enricher_articles_enriched_total", nil, float64(n)},
		{st.enricher(), "newsflow_enricher_dead_lettered_total", nil, 0},
		{st.sink(), "newsflow_sink_messages_received_total", nil, float64(n)},
		{st.sink(), "newsflow_sink_articles_stored_total", nil, float64(n)},
		{st.sink(), "newsflow_sink_rows_written_total", []string{"table", "articles"}, float64(n)},
		{st.sink(), "newsflow_sink_rows_written_total", []string{"table", "article_countries"}, float64(counts["article_countries"])},
		{st.sink(), "newsflow_sink_rows_written_total", []string{"table", "article_topics"}, float64(counts["article_topics"])},
		{st.sink(), "newsflow_sink_dead_lettered_total", nil, 0},
	}
	// The sink's counters move after its commit, the moment the rows become
	// visible; allow them a moment.
	eventually(t, 10*time.Second, "stage metrics", func() error {
		var bad []string
		for _, c := range checks {
			got, err := c.p.metric(ctx, c.metric, c.match...)
			if err != nil {
				return err
			}
			if got != c.want {
				bad = append(bad, fmt.Sprintf("%s %s%v = %v, want %v", c.p.name, c.metric, c.match, got, c.want))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s", strings.Join(bad, "; "))
		}
		return nil
	})
}

// checkPrometheus waits until Prometheus has scraped the settled stages of
// this run (their process start times match) and asserts each stage's key
// metric.
func checkPrometheus(t *testing.T, ctx context.Context, base string, st *stages, n int) {
	t.Helper()
	start := time.Now()
	jobs := map[string]*proc{"fetcher": st.fetcher(), "enricher": st.enricher(), "sink": st.sink()}
	// Prometheus must be looking at these processes, not at an earlier run's:
	// process_start_time_seconds tells them apart.
	startTimes := map[string]float64{}
	for job, p := range jobs {
		v, err := p.metric(ctx, "process_start_time_seconds")
		if err != nil {
			t.Fatal(err)
		}
		startTimes[job] = v
	}
	queries := []struct {
		query string
		want  map[string]float64
	}{
		{`up{job=~"fetcher|enricher|sink"}`, map[string]float64{"fetcher": 1, "enricher": 1, "sink": 1}},
		{`process_start_time_seconds{job=~"fetcher|enricher|sink"}`, startTimes},
		{`newsflow_fetcher_articles_published_total{job="fetcher"}`, map[string]float64{"fetcher": float64(n)}},
		{`sum by (job) (newsflow_fetcher_items_total{job="fetcher",outcome="published"})`, map[string]float64{"fetcher": float64(n)}},
		{`newsflow_enricher_articles_enriched_total{job="enricher"}`, map[string]float64{"enricher": float64(n)}},
		{`newsflow_sink_articles_stored_total{job="sink"}`, map[string]float64{"sink": float64(n)}},
		{`sum by (job) (newsflow_sink_rows_written_total{job="sink",table="articles"})`, map[string]float64{"sink": float64(n)}},
	}
	eventually(t, 30*time.Second, "Prometheus has scraped the settled stages", func() error {
		for _, q := range queries {
			got, err := promQuery(ctx, base, q.query)
			if err != nil {
				return err
			}
			for job, w := range q.want {
				if g, ok := got[job]; !ok || math.Abs(g-w) > 1e-3 {
					return fmt.Errorf("%s: job %s = %v (present %v), want %v", q.query, job, g, ok, w)
				}
			}
		}
		return nil
	})
	t.Logf("Prometheus reported the stages' key metrics %v after the pipeline settled", time.Since(start).Round(time.Millisecond))
}

// checkRestart asserts that after a restart with the same state, groups and
// database, the fetcher publishes nothing (its conditional GETs get 304),
// the enricher and sink receive nothing already committed, and the stored
// articles are untouched; then it proves the restarted stages still work by
// storing one new article produced with kcat.
func checkRestart(t *testing.T, ctx context.Context, kcat string, st *stages, feeds *feedServer, reqBefore, nmBefore map[string]int, pool *pgxpool.Pool, before map[string]storedArticle) {
	t.Helper()
	// Every feed polled again after the restart with the validators kept in
	// the state file, and answered 304.
	eventually(t, 30*time.Second, "the restarted fetcher polls every feed", func() error {
		req, nm := feeds.counts()
		for path := range reqBefore {
			if req[path] <= reqBefore[path] {
				return fmt.Errorf("%s not requested since the restart", path)
			}
			if nm[path] <= nmBefore[path] {
				return fmt.Errorf("%s: no conditional request answered 304 since the restart", path)
			}
		}
		v, err := st.fetcher().metric(ctx, "newsflow_fetcher_polls_total", "result", "not_modified")
		if err != nil {
			return err
		}
		if v < float64(len(reqBefore)) {
			return fmt.Errorf("%v polls not_modified, want %d", v, len(reqBefore))
		}
		return nil
	})
	// One new article through the restarted stages: once it is stored, the
	// groups have joined and read everything after their committed offsets.
	id := produceRaw(t, ctx, kcat, st, "after-restart", "Norway and Finland agree to link their Arctic power grids",
		"OSLO — Norway and Finland agreed on Thursday to build a new power line across the Arctic, linking the two countries' grids near the Russian border.")
	eventually(t, settleTimeout, "the article produced after the restart is stored", func() error {
		got, err := storedArticles(ctx, pool)
		if err != nil {
			return err
		}
		if _, ok := got[id]; !ok {
			return fmt.Errorf("%s not stored yet", id)
		}
		return nil
	})
	t.Logf("restarted stages: every feed answered 304, the article produced after the restart is stored")
	after, err := storedArticles(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Errorf("after the restart %d articles, want %d (the %d before and the new one)", len(after), len(before)+1, len(before))
	}
	for id, a := range before {
		b, ok := after[id]
		switch {
		case !ok:
			t.Errorf("article %q disappeared after the restart", a.Title)
		case !b.StoredAt.Equal(a.StoredAt) || !b.EnrichedAt.Equal(a.EnrichedAt):
			t.Errorf("article %q stored again after the restart: stored_at %v -> %v, enriched_at %v -> %v",
				a.Title, a.StoredAt, b.StoredAt, a.EnrichedAt, b.EnrichedAt)
		}
	}
	checks := []struct {
		p      *proc
		metric string
		want   float64
	}{
		{st.fetcher(), "newsflow_fetcher_articles_published_total", 0},
		{st.enricher(), "newsflow_enricher_messages_received_total", 1},
		{st.enricher(), "newsflow_enricher_articles_enriched_total", 1},
		{st.sink(), "newsflow_sink_messages_received_total", 1},
		{st.sink(), "newsflow_sink_articles_stored_total", 1},
	}
	eventually(t, 10*time.Second, "metrics of the restarted stages", func() error {
		for _, c := range checks {
			got, err := c.p.metric(ctx, c.metric)
			if err != nil {
				return err
			}
			if got != c.want {
				return fmt.Errorf("restarted %s: %s = %v, want %v (only the one new article)", c.p.name, c.metric, got, c.want)
			}
		}
		return nil
	})
}
