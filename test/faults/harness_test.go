package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// params sizes a fault run. Defaults meet issue 9 (10,000 articles, 20
// kills, 3 broker restarts, 3 database outages of 30 s); NEWSFLOW_FAULTS_*
// variables change them for a quick local run.
type params struct {
	Articles  int
	Feeds     int
	Publish   time.Duration // the farm publishes Articles evenly over this time
	Kills     int           // stage kills at least
	Restarts  int           // broker restarts
	Outages   int           // database outages
	Outage    time.Duration // length of one database outage
	DrainWait time.Duration // how long draining may take after publishing
}

func loadParams(t *testing.T, def params) params {
	t.Helper()
	p := def
	for _, v := range []struct {
		name string
		n    *int
	}{
		{"NEWSFLOW_FAULTS_ARTICLES", &p.Articles}, {"NEWSFLOW_FAULTS_KILLS", &p.Kills},
		{"NEWSFLOW_FAULTS_RESTARTS", &p.Restarts}, {"NEWSFLOW_FAULTS_OUTAGES", &p.Outages},
	} {
		if s := os.Getenv(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a whole number", v.name, s)
			}
			*v.n = n
		}
	}
	for _, v := range []struct {
		name string
		d    *time.Duration
	}{{"NEWSFLOW_FAULTS_PUBLISH", &p.Publish}, {"NEWSFLOW_FAULTS_OUTAGE", &p.Outage}} {
		if s := os.Getenv(v.name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a duration", v.name, s)
			}
			*v.d = d
		}
	}
	return p
}

// runDir returns a folder for the run's logs, state and feed list. It is kept
// when the test fails (its path is logged) and removed when it passes.
func runDir(t *testing.T, name string) string {
	t.Helper()
	base := os.Getenv("NEWSFLOW_TESTENV_DIR")
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "faults-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: logs and state in %s (kept if the test fails)", name, dir)
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// chaos kills random stages with SIGKILL at random moments and starts them
// again; it also restarts any stage that exited by itself (as a process
// supervisor would) and counts those exits. It is the only goroutine that
// starts and kills the stages while it runs.
type chaos struct {
	t        *testing.T
	procs    []*proc
	rng      *rand.Rand
	minGap   time.Duration // between two kills, at least
	maxGap   time.Duration
	kills    int
	selfExit []string
	// fatal is set when a stage refused its flags (exit status 2): run
	// returns at once and the test must fail.
	fatal string
}

// run kills until ctx ends and at least minKills kills were made, then
// makes sure every stage runs.
func (c *chaos) run(ctx context.Context, until func() bool, minKills int) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	nextKill := time.Now().Add(c.gap())
	type pending struct {
		p  *proc
		at time.Time
	}
	var restarts []pending
	for {
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		for _, p := range c.procs {
			if why, usage, ok := p.exitedByItself(); ok {
				c.selfExit = append(c.selfExit, why)
				c.t.Logf("chaos: %s; last lines of its log:\n%s", why, p.tail(4))
				if usage {
					c.fatal = fmt.Sprintf("%s (status 2: the stage refused its flags, so starting it again cannot help); last lines of its log:\n%s", why, p.tail(4))
					return
				}
				restarts = append(restarts, pending{p, now.Add(time.Second)})
			}
		}
		keep := restarts[:0]
		for _, r := range restarts {
			if now.Before(r.at) {
				keep = append(keep, r)
				continue
			}
			if err := r.p.start(); err != nil {
				c.t.Errorf("chaos: %v", err)
			}
		}
		restarts = keep
		if len(restarts) == 0 && until() && c.kills >= minKills {
			return
		}
		if !now.Before(nextKill) {
			p := c.procs[c.rng.IntN(len(c.procs))]
			if p.kill() {
				c.kills++
				down := time.Duration(200+c.rng.IntN(2800)) * time.Millisecond
				c.t.Logf("chaos: kill %d: SIGKILL %s, restart in %s", c.kills, p.name, down.Round(time.Millisecond))
				restarts = append(restarts, pending{p, now.Add(down)})
			}
			nextKill = now.Add(c.gap())
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

func (c *chaos) gap() time.Duration {
	return c.minGap + time.Duration(c.rng.Int64N(int64(c.maxGap-c.minGap)+1))
}

// testenv runs a subcommand of scripts/testenv.sh on the suite's services.
func testenv(ctx context.Context, t *testing.T, cmd string) error {
	c := execCommand(ctx, filepath.Join(repoRoot(t), "scripts", "testenv.sh"), cmd)
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/testenv.sh %s: %v\n%s", cmd, err, strings.TrimSpace(string(out)))
	}
	t.Logf("testenv %s:\n%s", cmd, strings.TrimSpace(string(out)))
	return nil
}

// waitFor calls cond every interval until it returns true, logging progress
// every 10 s; it returns false when timeout passes first.
func waitFor(t *testing.T, what string, timeout, interval time.Duration, cond func() (bool, string)) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	lastLog := time.Now()
	for {
		ok, status := cond()
		if ok {
			t.Logf("%s: done (%s)", what, status)
			return true
		}
		if time.Now().After(deadline) {
			t.Logf("%s: not done after %s (%s)", what, timeout, status)
			return false
		}
		if time.Since(lastLog) >= 10*time.Second {
			t.Logf("%s: waiting (%s)", what, status)
			lastLog = time.Now()
		}
		time.Sleep(interval)
	}
}
