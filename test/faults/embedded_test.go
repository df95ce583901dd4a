package faults

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEmbeddedFaults runs the embedded default, `newsflow run` (all stages,
// the embedded broker with its log in --data, SQLite), as one process while
// a feed farm publishes articles, and kills it with SIGKILL at random moments.
// Every served article must be stored exactly once.
func TestEmbeddedFaults(t *testing.T) {
	requireFaults(t)
	p := loadParams(t, params{Articles: 10000, Feeds: 100, Publish: 100 * time.Second, Kills: 10, DrainWait: 4 * time.Minute})
	p.Restarts, p.Outages = 0, 0 // one process: no separate broker or database to take down
	if s := os.Getenv("NEWSFLOW_FAULTS_EMBEDDED_KILLS"); s != "" {
		if _, err := fmt.Sscan(s, &p.Kills); err != nil {
			t.Fatalf("NEWSFLOW_FAULTS_EMBEDDED_KILLS=%q: %v", s, err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("faults-embedded: %d articles over %s, %d kills at least, seed %d", p.Articles, p.Publish, p.Kills, seed)
	ctx := context.Background()
	dir := runDir(t, "embedded")
	data := filepath.Join(dir, "data")
	f := newFarm(t, p.Feeds)
	list := filepath.Join(dir, "feeds.yaml")
	f.writeList(t, list)

	nf := newProc(t, "newsflow", binary(t, "newsflow"), filepath.Join(dir, "newsflow.log"), serviceEnv(),
		"run", "--feeds", list, "--data", data, "--allow-private", "--interval", "3s", "--min-interval", "1s",
		"--backoff-max", "5s", "--reload-check", "0", "--progress", "10s", "--metrics-addr", freeAddr(t), "--shutdown-timeout", "20s")
	if err := nf.start(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	runCtx, cancelRun := context.WithCancel(ctx) // cancelled when the run cannot go on
	defer cancelRun()
	published := 0
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		published = f.publish(runCtx, p.Articles, p.Publish, rand.New(rand.NewPCG(seed+1, seed)))
	}()
	c := &chaos{t: t, procs: []*proc{nf}, rng: rand.New(rand.NewPCG(seed, seed>>7)), minGap: 3 * time.Second, maxGap: 9 * time.Second}
	c.run(runCtx, func() bool { return closed(pubDone) }, p.Kills)
	if c.fatal != "" {
		cancelRun()
		<-pubDone
		t.Fatal(c.fatal)
	}
	<-pubDone
	t.Logf("faults injected in %s: %d kills, %d exits by itself", time.Since(start).Round(time.Second), c.kills, len(c.selfExit))

	supervise, stopSupervising := context.WithCancel(ctx)
	superDone := make(chan struct{})
	go func() {
		defer close(superDone)
		c.supervise(supervise)
	}()
	dbPath := filepath.Join(data, "newsflow.db")
	served := map[string]farmItem{}
	stable := 0
	drained := waitFor(t, "drain: farm", 3*time.Minute, time.Second, func() (bool, string) {
		pub, srv := f.counts()
		return srv >= pub && pub == published, fmt.Sprintf("%d published, %d served", pub, srv)
	}) && waitFor(t, "drain: pipeline", p.DrainWait, 3*time.Second, func() (bool, string) {
		served = f.servedItems()
		n, err := sqliteCount(ctx, dbPath, served)
		if err != nil {
			return false, err.Error()
		}
		if n == len(served) {
			stable++
		} else {
			stable = 0
		}
		// Twice in a row: nothing more arrives after everything arrived.
		return stable >= 2, fmt.Sprintf("%d served, %d stored", len(served), n)
	})
	stopSupervising()
	<-superDone
	if err := nf.stop(40 * time.Second); err != nil {
		t.Errorf("graceful stop of newsflow run: %v; last lines:\n%s", err, nf.tail(20))
	}

	served = f.servedItems()
	db, err := openSQLiteRO(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check, err := checkStore(ctx, db, served)
	if err != nil {
		t.Fatal(err)
	}
	summary := fmt.Sprintf("faults-embedded: %d served, %d stored, %d lost, %d duplicate, %d kills",
		len(served), check.Stored, len(check.Lost), check.Duplicates(), c.kills)
	fmt.Println(summary)
	resp, notMod := f.stats()
	t.Logf("%s (exits by itself %d, rows the farm never served %d, farm responses %d, 304s %d)", summary, len(c.selfExit), check.Unexpected, resp, notMod)
	for _, why := range c.selfExit {
		t.Logf("exit by itself: %s", why)
	}
	report(t, drained, check, p, c.kills, 0, 0)
}

// openSQLiteRO opens the SQLite database at path read-only.
func openSQLiteRO(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

func sqliteCount(ctx context.Context, path string, served map[string]farmItem) (int, error) {
	db, err := openSQLiteRO(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return countStored(qctx, db, served)
}
