package feed

// The feed-farm benchmark (issue 3): 10,000 feeds of 20–100 items served with
// ETag, Last-Modified, gzip and 20–200 ms latency, polled by the Fetcher (two
// full cycles) and by a naive gofeed.ParseURL loop with the same concurrency.
// It is not part of `go test`: run it with
//
//	NEWSFLOW_BENCH_FARM=1 go test -run TestFeedFarm -v -timeout 30m ./internal/feed/
//
// (NEWSFLOW_BENCH_FEEDS=N changes the number of feeds; NEWSFLOW_BENCH_NAIVE=0
// skips the naive loop, for profiling). The farm runs in a
// child process (this test binary re-executed) so that the fetcher's peak
// RSS and CPU time are its own; it listens on 100 loopback addresses
// (127.0.0.2–127.0.0.101), i.e. 100 hosts, so the per-host limit applies as
// with real feeds.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/events"
)

const (
	farmEnv   = "NEWSFLOW_FARM_SERVE"
	farmHosts = 100
)

// farmItems is the number of items of feed i: 20..100.
func farmItems(i int) int { return 20 + (i*37)%81 }

// farmBody renders feed i: a real-world-shaped RSS 2.0 document.
func farmBody(i int) []byte {
	var b bytes.Buffer
	n := farmItems(i)
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>Farm feed %d</title><link>https://farm%d.example/</link><description>Synthetic world news feed %d</description><language>en</language>
<atom:link href="https://farm%d.example/rss" rel="self" type="application/rss+xml"/>
`, i, i, i, i)
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for j := range n {
		fmt.Fprintf(&b, `<item><title>Farm %d: ministers meet over regional security, item %d</title>
<link>https://farm%d.example/world/2026/11/27/story-%d?utm_source=rss</link>
<guid isPermaLink="false">farm-%d-%d</guid>
<pubDate>%s</pubDate><dc:creator>Desk %d</dc:creator><category>World</category><category>Defence</category>
<description>&lt;p&gt;Foreign and defence ministers met on Thursday to discuss air defence, sanctions and military aid. Officials said talks would continue next week in Brussels (story %d of feed %d).&lt;/p&gt;</description>
</item>
`, i, j, i, j, i, j, base.Add(-time.Duration(j)*time.Hour).Format(time.RFC1123Z), j%7, j, i)
	}
	b.WriteString("</channel></rss>\n")
	return b.Bytes()
}

// runFarm serves the farm until its stdin closes. It prints one line,
// "READY host:port host:port ...", once every listener is up.
func runFarm() int {
	nFeeds, _ := strconv.Atoi(os.Getenv("NEWSFLOW_BENCH_FEEDS"))
	type doc struct{ gz []byte }
	docs := make([]doc, nFeeds)
	for i := range docs {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		zw.Write(farmBody(i))
		zw.Close()
		docs[i].gz = b.Bytes()
	}
	lastMod := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/feed/"), ".xml"))
		if err != nil || i < 0 || i >= len(docs) {
			http.NotFound(w, r)
			return
		}
		time.Sleep(time.Duration(20+rand.IntN(181)) * time.Millisecond)
		etag := fmt.Sprintf(`"farm-%d-v1"`, i)
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-Modified-Since") == lastMod {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		w.Header().Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(docs[i].gz)))
			w.Write(docs[i].gz)
			return
		}
		w.Write(farmBody(i))
	})
	var addrs []string
	for h := range farmHosts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", h+2))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		addrs = append(addrs, ln.Addr().String())
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
	}
	fmt.Println("READY " + strings.Join(addrs, " "))
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	return 0
}

// countingPublisher acknowledges at once and counts.
type countingPublisher struct{ n atomic.Int64 }

func (p *countingPublisher) Publish(_ context.Context, arts []events.RawArticle) error {
	p.n.Add(int64(len(arts)))
	return nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS returns VmHWM (peak resident set) of this process in MiB.
func peakRSS() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// resetPeakRSS clears VmHWM (Linux: write 5 to clear_refs).
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

type cycle struct {
	name      string
	polls     int
	wall      time.Duration
	cpu       float64
	published int64
	ok, nm    float64
	failed    float64
}

func TestFeedFarm(t *testing.T) {
	if os.Getenv("NEWSFLOW_BENCH_FARM") == "" {
		t.Skip("set NEWSFLOW_BENCH_FARM=1 to run the feed-farm benchmark")
	}
	nFeeds := 10000
	if v := os.Getenv("NEWSFLOW_BENCH_FEEDS"); v != "" {
		nFeeds, _ = strconv.Atoi(v)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), farmEnv+"=1", "NEWSFLOW_BENCH_FEEDS="+strconv.Itoa(nFeeds))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		t.Fatalf("farm did not start: %q %v", line, err)
	}
	addrs := strings.Fields(strings.TrimPrefix(line, "READY "))
	urls := make([]string, nFeeds)
	var list strings.Builder
	list.WriteString("feeds:\n")
	for i := range urls {
		urls[i] = fmt.Sprintf("http://%s/feed/%d.xml", addrs[i%len(addrs)], i)
		fmt.Fprintf(&list, "  - url: %s\n", urls[i])
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.FeedsPath = filepath.Join(dir, "feeds.yaml")
	cfg.StatePath = filepath.Join(dir, "state.db")
	cfg.AllowPrivate = true
	cfg.Interval = time.Hour
	if err := os.WriteFile(cfg.FeedsPath, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	resetPeakRSS()
	baseRSS := peakRSS()

	// Cycle 1 and 2: a fresh state, then a restart on the same state with
	// every feed due at once (the validators make it a cycle of 304s).
	var cycles []cycle
	for c := range 2 {
		pub := &countingPublisher{}
		reg := prometheus.NewRegistry()
		cfg.pollAllAtStart = c == 1
		f, err := New(cfg, pub, discardLogger(), reg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		cpu0, t0 := cpuSeconds(), time.Now()
		go func() { done <- f.Run(ctx) }()
		total := func() float64 {
			n := 0.0
			for _, cl := range Classes() {
				n += testutil.ToFloat64(f.m.polls.WithLabelValues(string(cl)))
			}
			return n
		}
		for total() < float64(nFeeds) {
			if time.Since(t0) > 10*time.Minute {
				t.Fatal("cycle did not finish in 10 minutes")
			}
			time.Sleep(20 * time.Millisecond)
		}
		wall, cpu := time.Since(t0), cpuSeconds()-cpu0
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ok := testutil.ToFloat64(f.m.polls.WithLabelValues(string(ClassOK)))
		nm := testutil.ToFloat64(f.m.polls.WithLabelValues(string(ClassNotModified)))
		cycles = append(cycles, cycle{name: fmt.Sprintf("newsflow fetcher, cycle %d", c+1), polls: nFeeds, wall: wall, cpu: cpu,
			published: pub.n.Load(), ok: ok, nm: nm, failed: total() - ok - nm})
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fetcherRSS := peakRSS()

	// The naive loop: gofeed.ParseURL over every feed with the same
	// concurrency; it has no conditional GET, so both cycles are full.
	runtime.GC()
	naiveCycles := 2
	if os.Getenv("NEWSFLOW_BENCH_NAIVE") == "0" {
		naiveCycles = 0 // profiling the fetcher alone
	}
	for c := range naiveCycles {
		var items, failed atomic.Int64
		jobs := make(chan string)
		var wg sync.WaitGroup
		cpu0, t0 := cpuSeconds(), time.Now()
		for range cfg.Workers {
			wg.Go(func() {
				fp := gofeed.NewParser()
				for u := range jobs {
					feed, err := fp.ParseURL(u)
					if err != nil {
						failed.Add(1)
						continue
					}
					items.Add(int64(len(feed.Items)))
				}
			})
		}
		for _, u := range urls {
			jobs <- u
		}
		close(jobs)
		wg.Wait()
		cycles = append(cycles, cycle{name: fmt.Sprintf("naive gofeed.ParseURL loop, cycle %d", c+1), polls: nFeeds,
			wall: time.Since(t0), cpu: cpuSeconds() - cpu0, published: items.Load(), ok: float64(int64(nFeeds) - failed.Load()), failed: float64(failed.Load())})
	}

	var report strings.Builder
	fmt.Fprintf(&report, "feeds: %d on %d hosts, %d–%d items, latency 20–200 ms, gzip, ETag+Last-Modified; workers %d, per-host %d; GOMAXPROCS %d\n",
		nFeeds, farmHosts, 20, 100, cfg.Workers, cfg.PerHost, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&report, "| run | wall s | polls/s | 200 | 304 | failed | items | items/s | CPU s | CPU s per 1,000 polls |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cycles {
		fmt.Fprintf(&report, "| %s | %.1f | %.0f | %.0f | %.0f | %.0f | %d | %.0f | %.1f | %.2f |\n", c.name, c.wall.Seconds(),
			float64(c.polls)/c.wall.Seconds(), c.ok, c.nm, c.failed, c.published, float64(c.published)/c.wall.Seconds(), c.cpu, c.cpu*1000/float64(c.polls))
	}
	fmt.Fprintf(&report, "peak RSS of the fetcher process during its two cycles: %.0f MiB (%.0f MiB before)\n", fetcherRSS, baseRSS)
	if len(cycles) == 4 {
		fmt.Fprintf(&report, "ratio naive/fetcher: wall %.2f (cycle 1) %.2f (cycle 2); CPU %.2f (cycle 1) %.2f (cycle 2)\n",
			cycles[2].wall.Seconds()/cycles[0].wall.Seconds(), cycles[3].wall.Seconds()/cycles[1].wall.Seconds(),
			cycles[2].cpu/cycles[0].cpu, cycles[3].cpu/cycles[1].cpu)
	}
	t.Log("\n" + report.String())
	if out := os.Getenv("NEWSFLOW_BENCH_OUT"); out != "" {
		os.WriteFile(out, []byte(report.String()), 0o644)
	}
	if nFeeds == 10000 {
		if cycles[0].wall > 60*time.Second {
			t.Errorf("first cycle took %v, want ≤ 60 s", cycles[0].wall)
		}
		if cycles[1].nm < 0.9*float64(nFeeds) {
			t.Errorf("second cycle: %v of %d answered 304", cycles[1].nm, nFeeds)
		}
		if fetcherRSS > 150 {
			t.Errorf("peak RSS %.0f MiB, want ≤ 150", fetcherRSS)
		}
	}
}
