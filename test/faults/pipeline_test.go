package faults

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/internal/bus"
)

// maxMessageBytes is the services' --max-message-bytes in the fault run:
// below the broker's 1 MiB limit, so that the suite can produce a message
// the services must dead-letter as too large.
const maxMessageBytes = 256 << 10

// TestPipelineFaults runs fetcher, enricher and sink as processes on real
// Kafka and PostgreSQL while a feed farm publishes articles, and kills the
// stages, restarts the broker, stops the database and sends poison messages.
// Every served article must be stored exactly once and every poison message
// must be in the dead-letter topic with its reason.
func TestPipelineFaults(t *testing.T) {
	requireFaults(t)
	brokers := strings.Split(requireEnv(t, "NEWSFLOW_TEST_KAFKA"), ",")
	pgURL := requireEnv(t, "NEWSFLOW_TEST_POSTGRES")
	p := loadParams(t, params{Articles: 10000, Feeds: 100, Publish: 180 * time.Second, Kills: 20, Restarts: 3, Outages: 3, Outage: 30 * time.Second, DrainWait: 5 * time.Minute})
	seed := uint64(time.Now().UnixNano())
	t.Logf("faults: %+v, seed %d", p, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	ctx := context.Background()

	run := fmt.Sprintf("%d", time.Now().Unix())
	dir := runDir(t, "pipeline")
	topics := bus.Topics{Raw: "newsflow.faults." + run + ".raw", Enriched: "newsflow.faults." + run + ".enriched", DeadLetter: "newsflow.faults." + run + ".dlq"}
	dbURL := createDatabase(t, pgURL, "newsflow_faults_"+run)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	f := newFarm(t, p.Feeds)
	list := filepath.Join(dir, "feeds.yaml")
	f.writeList(t, list)

	kafkaArgs := []string{"--brokers", strings.Join(brokers, ","), "--topic-raw", topics.Raw, "--topic-enriched", topics.Enriched,
		"--topic-dlq", topics.DeadLetter, "--partitions", "3", "--max-message-bytes", fmt.Sprint(maxMessageBytes),
		"--log-format", "text", "--shutdown-timeout", "20s"}
	env := serviceEnv()
	enricherGroup, sinkGroup := "newsflow-faults-"+run+"-enricher", "newsflow-faults-"+run+"-sink"
	fetcher := newProc(t, "fetcher", binary(t, "fetcher"), filepath.Join(dir, "fetcher.log"), env, append([]string{
		"--feeds", list, "--state", filepath.Join(dir, "fetcher-state.db"), "--allow-private",
		"--interval", "3s", "--min-interval", "1s", "--backoff-max", "5s", "--reload-check", "0",
		"--metrics-addr", freeAddr(t)}, kafkaArgs...)...)
	enricher := newProc(t, "enricher", binary(t, "enricher"), filepath.Join(dir, "enricher.log"), env, append([]string{
		"--group", enricherGroup, "--metrics-addr", freeAddr(t)}, kafkaArgs...)...)
	sink := newProc(t, "sink", binary(t, "sink"), filepath.Join(dir, "sink.log"), env, append([]string{
		"--group", sinkGroup, "--store", dbURL, "--retry-max", "2s", "--metrics-addr", freeAddr(t)}, kafkaArgs...)...)
	procs := []*proc{fetcher, enricher, sink}
	for _, pr := range procs {
		if err := pr.start(); err != nil {
			t.Fatal(err)
		}
	}

	// The faults, on a schedule relative to the start of publishing: broker
	// restarts and database outages never overlap; poison goes in while the
	// broker is up.
	var (
		mu        sync.Mutex
		restarts  int
		outages   int
		poisons   []poison
		faultErrs []error
	)
	fail := func(err error) {
		mu.Lock()
		faultErrs = append(faultErrs, err)
		mu.Unlock()
	}
	type event struct {
		at   time.Duration
		name string
		do   func(context.Context) error
	}
	var events []event
	for i := range p.Restarts {
		events = append(events, event{p.Publish * time.Duration(10+35*i) / 100, "broker restart", func(ctx context.Context) error {
			if err := testenv(ctx, t, "restart-kafka"); err != nil {
				return err
			}
			mu.Lock()
			restarts++
			mu.Unlock()
			return nil
		}})
	}
	for i := range p.Outages {
		events = append(events, event{p.Publish * time.Duration(22+34*i) / 100, "database outage", func(ctx context.Context) error {
			if err := testenv(ctx, t, "stop-postgres"); err != nil {
				return err
			}
			time.Sleep(p.Outage)
			if err := testenv(ctx, t, "start-postgres"); err != nil {
				return err
			}
			mu.Lock()
			outages++
			mu.Unlock()
			return nil
		}})
	}
	for i := range 3 {
		events = append(events, event{p.Publish * time.Duration(5+32*i) / 100, "poison", func(ctx context.Context) error {
			ps := poisonRound(i+1, topics, maxMessageBytes)
			pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			if err := sendPoison(pctx, brokers, ps); err != nil {
				return err
			}
			mu.Lock()
			poisons = append(poisons, ps...)
			mu.Unlock()
			t.Logf("poison: round %d: %d messages sent", i+1, len(ps))
			return nil
		}})
	}

	start := time.Now()
	runCtx, cancelRun := context.WithCancel(ctx) // cancelled when the run cannot go on
	defer cancelRun()
	var wg sync.WaitGroup
	var publishDone sync.WaitGroup
	publishDone.Add(1)
	published := 0
	go func() {
		defer publishDone.Done()
		published = f.publish(runCtx, p.Articles, p.Publish, rand.New(rand.NewPCG(seed+1, seed)))
	}()
	for _, ev := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Until(start.Add(ev.at))):
			case <-runCtx.Done():
				return
			}
			t.Logf("fault at %s: %s", time.Since(start).Round(time.Second), ev.name)
			if err := ev.do(ctx); err != nil {
				fail(fmt.Errorf("%s: %w", ev.name, err))
			}
		}()
	}
	c := &chaos{t: t, procs: procs, rng: rng, minGap: 3 * time.Second, maxGap: 9 * time.Second}
	faultsDone := make(chan struct{})
	go func() { wg.Wait(); close(faultsDone) }()
	c.run(runCtx, func() bool { return closed(faultsDone) && time.Since(start) >= p.Publish }, p.Kills)
	if c.fatal != "" {
		cancelRun()
	}
	publishDone.Wait()
	<-faultsDone
	if c.fatal != "" {
		t.Fatal(c.fatal)
	}
	for _, err := range faultErrs {
		t.Errorf("fault injection failed: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("faults injected in %s: %d kills, %d broker restarts, %d database outages, %d poison messages, %d stage exits by themselves",
		time.Since(start).Round(time.Second), c.kills, restarts, outages, len(poisons), len(c.selfExit))

	// Drain: every published item served, every served article stored, no
	// lag in either consumer group. Stages that exit are still restarted.
	supervise, stopSupervising := context.WithCancel(ctx)
	superDone := make(chan struct{})
	go func() {
		defer close(superDone)
		(&chaos{t: t, procs: procs, rng: rng}).supervise(supervise)
	}()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	served := map[string]farmItem{}
	drained := waitFor(t, "drain: farm", 3*time.Minute, time.Second, func() (bool, string) {
		pub, srv := f.counts()
		return srv >= pub && pub == published, fmt.Sprintf("%d published, %d served", pub, srv)
	}) && waitFor(t, "drain: pipeline", p.DrainWait, 3*time.Second, func() (bool, string) {
		served = f.servedItems()
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := countStored(qctx, db, served)
		if err != nil {
			return false, err.Error()
		}
		el, err1 := groupLag(qctx, client, enricherGroup, topics.Raw, 3)
		sl, err2 := groupLag(qctx, client, sinkGroup, topics.Enriched, 3)
		status := fmt.Sprintf("%d served, %d stored, enricher lag %d, sink lag %d", len(served), n, el, sl)
		return err1 == nil && err2 == nil && n == len(served) && el == 0 && sl == 0, status
	})
	stopSupervising()
	<-superDone
	for _, pr := range procs {
		if err := pr.stop(40 * time.Second); err != nil {
			t.Errorf("graceful stop of %s: %v; last lines:\n%s", pr.name, err, pr.tail(20))
		}
	}

	served = f.servedItems()
	check, err := checkStore(ctx, db, served)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := checkDeadLetters(ctx, brokers, client, topics.DeadLetter, poisons)
	if err != nil {
		t.Fatal(err)
	}
	summary := fmt.Sprintf("faults: %d served, %d stored, %d lost, %d duplicate, %d kills, %d broker restarts, %d db outages, %d dead-lettered",
		len(served), check.Stored, len(check.Lost), check.Duplicates(), c.kills, restarts, outages, dl.found)
	fmt.Println(summary)
	resp, notMod := f.stats()
	t.Logf("%s (poison sent %d, dead letters read %d, other dead letters %d, stage exits by themselves %d, rows the farm never served %d, farm responses %d, 304s %d)",
		summary, len(poisons), dl.read, len(dl.other), len(c.selfExit), check.Unexpected, resp, notMod)
	for _, why := range c.selfExit {
		t.Logf("stage exit by itself: %s", why)
	}
	report(t, drained, check, p, c.kills, restarts, outages)
	if dl.found != len(poisons) {
		t.Errorf("%d of %d poison messages are not in the dead-letter topic with the expected reason:\n%s", len(poisons)-dl.found, len(poisons), strings.Join(dl.missing, "\n"))
	}
	if len(dl.other) > 0 {
		t.Errorf("%d dead letters that are not poison (real articles dead-lettered):\n%s", len(dl.other), strings.Join(dl.other[:min(20, len(dl.other))], "\n"))
	}
	if !t.Failed() {
		dropDatabase(t, pgURL, "newsflow_faults_"+run)
	}
}

// report fails the test on loss, duplicates, too few faults or no drain.
func report(t *testing.T, drained bool, c storeCheck, p params, kills, restarts, outages int) {
	t.Helper()
	if len(c.Lost) > 0 {
		t.Errorf("%d served articles are not stored (%d of them are stored under another id):\n%s", len(c.Lost), c.LostByURL, describeLost(c.Lost))
	}
	if c.Duplicates() > 0 {
		t.Errorf("duplicate rows: %d extra rows per id, %d extra rows per article URL, %d extra tag rows", c.DupIDs, c.DupURLs, c.DupTags)
	}
	if c.Unexpected > 0 {
		t.Errorf("%d stored articles were never served by the farm", c.Unexpected)
	}
	if !drained {
		t.Errorf("the pipeline did not drain within %s after publishing ended", p.DrainWait)
	}
	if kills < p.Kills || restarts < p.Restarts || outages < p.Outages {
		t.Errorf("too few faults: %d kills (want %d), %d broker restarts (want %d), %d database outages (want %d)", kills, p.Kills, restarts, p.Restarts, outages, p.Outages)
	}
}

// supervise restarts stages that exit by themselves until ctx ends.
func (c *chaos) supervise(ctx context.Context) {
	for ctx.Err() == nil {
		for _, p := range c.procs {
			if why, usage, ok := p.exitedByItself(); ok {
				if usage {
					c.t.Errorf("supervisor: %s (status 2: refused flags; not restarted); last lines of its log:\n%s", why, p.tail(4))
					continue
				}
				c.t.Logf("supervisor: %s; restarting; last lines of its log:\n%s", why, p.tail(4))
				if err := p.start(); err != nil {
					c.t.Errorf("supervisor: %v", err)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// deadLetters is what the dead-letter topic holds.
type deadLetters struct {
	read    int      // messages read
	found   int      // poison messages found with the expected reason
	missing []string // poison messages not found, or with another reason
	other   []string // dead letters that are not poison
}

func checkDeadLetters(ctx context.Context, brokers []string, client *kafka.Client, topic string, sent []poison) (deadLetters, error) {
	var d deadLetters
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	msgs, err := readTopic(rctx, brokers, client, topic, 3)
	if err != nil {
		return d, err
	}
	d.read = len(msgs)
	reasons := map[string][]string{}
	for _, m := range msgs {
		id := header(m, headerPoison)
		reason := header(m, bus.HeaderDLQReason)
		if id == "" {
			d.other = append(d.other, fmt.Sprintf("  key %q reason %q stage %q error %q", m.Key, reason, header(m, bus.HeaderDLQStage), header(m, bus.HeaderDLQError)))
			continue
		}
		reasons[id] = append(reasons[id], reason)
	}
	for _, p := range sent {
		ok := false
		for _, r := range reasons[p.ID] {
			ok = ok || r == p.Reason
		}
		if ok {
			d.found++
		} else {
			d.missing = append(d.missing, fmt.Sprintf("  %s: want reason %q, dead letters have %q", p.ID, p.Reason, reasons[p.ID]))
		}
	}
	return d, nil
}

// createDatabase creates database name on the server of pgURL and returns
// its URL.
func createDatabase(t *testing.T, pgURL, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", pgURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func dropDatabase(t *testing.T, pgURL, name string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Logf("drop database %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Logf("drop database %s: %v", name, err)
	}
}
